#pragma once

#include "core/common/error.hpp"

namespace duckpipe::daemon {

// Parses the command line and runs the chosen subcommand; returns the process exit code.
int RunCli(int argc, char **argv);

// sysexits-style codes so scripts can tell a usage error from an unreachable server.
int ExitCodeFor(ErrorKind kind);

} // namespace duckpipe::daemon
