#include "daemon/cli.hpp"

#include "daemon/global_options.hpp"
#include "daemon/maintenance_command.hpp"
#include "daemon/manage_commands.hpp"
#include "daemon/query_command.hpp"
#include "daemon/run_command.hpp"
#include "daemon/status_command.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

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
	CLI::App app{"pg_duckpipe: continuous CDC from PostgreSQL into DuckLake"};
	app.set_version_flag("--version", std::string("duckpipe ") + DUCKPIPE_VERSION);
	app.require_subcommand(1);
	GlobalOptions global;
	global.Register(app);
	QueryCommand query(app, global);
	ManageCommands manage(app, global);
	RunCommand run(app, global);
	StatusCommand status(app, global);
	MaintenanceCommand maintenance(app, global);
	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		return app.exit(e);
	}
	global.Apply();
	if (query.Selected()) {
		return query.Run(std::cout);
	}
	if (manage.Selected()) {
		return manage.Run(std::cout);
	}
	if (run.Selected()) {
		return run.Run();
	}
	if (status.Selected()) {
		return status.Run(std::cout);
	}
	if (maintenance.Selected()) {
		return maintenance.Run(std::cout);
	}
	return 0;
}

} // namespace duckpipe::daemon
