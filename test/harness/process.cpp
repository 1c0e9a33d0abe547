#include "harness/process.hpp"

#include <array>
#include <cstdio>
#include <sys/wait.h>
#include <unistd.h>

namespace duckpipe::test {

bool RunningAsRoot() {
	return geteuid() == 0;
}

std::string ShellQuote(const std::string &arg) {
	std::string out = "'";
	for (char c : arg) {
		if (c == '\'') {
			out += "'\\''";
		} else {
			out += c;
		}
	}
	return out + "'";
}

CommandResult RunCommand(const std::vector<std::string> &argv, bool as_postgres) {
	std::string cmd;
	if (as_postgres && RunningAsRoot()) {
		cmd = "runuser -u postgres --";
	}
	for (const auto &a : argv) {
		cmd += cmd.empty() ? "" : " ";
		cmd += ShellQuote(a);
	}
	cmd += " 2>&1 </dev/null";
	CommandResult result;
	FILE *pipe = popen(cmd.c_str(), "r");
	if (!pipe) {
		result.output = "popen failed for: " + cmd;
		return result;
	}
	std::array<char, 4096> buf{};
	size_t n = 0;
	while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) {
		result.output.append(buf.data(), n);
	}
	int status = pclose(pipe);
	result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	return result;
}

} // namespace duckpipe::test
