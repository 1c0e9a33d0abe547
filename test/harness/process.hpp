#pragma once

#include <string>
#include <vector>

namespace duckpipe::test {

struct CommandResult {
	int exit_code = -1;
	std::string output; // stdout and stderr together
};

// Runs argv (no shell), waits, and returns exit code and output. as_postgres runs it as the
// `postgres` OS user when the test runs as root (initdb and postgres refuse to run as root).
CommandResult RunCommand(const std::vector<std::string> &argv, bool as_postgres = false);

bool RunningAsRoot();
std::string ShellQuote(const std::string &arg);

} // namespace duckpipe::test
