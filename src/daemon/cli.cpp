#include "daemon/cli.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>

namespace duckpipe::daemon {

int ExitCodeFor(ErrorKind kind) {
	switch (kind) {
	case ErrorKind::Config:
	case ErrorKind::Unsupported:
		return 64; // EX_USAGE
	case ErrorKind::Connection:
		return 69; // EX_UNAVAILABLE
	case ErrorKind::Source:
	case ErrorKind::Lake:
	case ErrorKind::Conflict:
		return 65; // EX_DATAERR
	case ErrorKind::Io:
		return 74; // EX_IOERR
	case ErrorKind::Protocol:
		return 76; // EX_PROTOCOL
	case ErrorKind::Duck:
	case ErrorKind::Internal:
		return 70; // EX_SOFTWARE
	}
	return 1;
}

int RunCli(int argc, char **argv) {
	CLI::App app {"pg_duckpipe: continuous CDC from PostgreSQL into DuckLake"};
	app.set_version_flag("--version", std::string("duckpipe ") + DUCKPIPE_VERSION);
	app.require_subcommand(1);
	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		return app.exit(e);
	}
	return 0;
}

} // namespace duckpipe::daemon
