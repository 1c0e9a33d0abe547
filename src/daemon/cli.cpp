#include "daemon/cli.hpp"

#include "core/common/log.hpp"
#include "core/pg/conninfo.hpp"
#include "daemon/config_commands.hpp"
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

namespace {

// Overwrites, in place, the password of every connection string on the command line, so `ps` and
// /proc/<pid>/cmdline stop showing it once the arguments are parsed; warns that it was there at all.
void ScrubPasswords(int argc, char **argv) {
	bool found = false;
	for (int i = 1; i < argc; i++) {
		std::string_view arg(argv[i]);
		if (arg.find('=') == std::string_view::npos && arg.find("://") == std::string_view::npos) {
			continue;
		}
		// --source=host=... spells the flag and the value in one argument.
		size_t start = arg.starts_with("--") && arg.find('=') != std::string_view::npos ? arg.find('=') + 1 : 0;
		std::string password;
		try {
			password = Conninfo::Parse(std::string(arg.substr(start))).Get("password");
		} catch (const Error &) {
			continue;
		}
		if (password.empty()) {
			continue;
		}
		found = true;
		auto at = arg.find(password, start);
		if (at == std::string_view::npos) {
			// Percent-encoded in a URI: hide the whole argument after the flag.
			at = start;
			password.assign(arg.size() - start, '*');
		}
		for (size_t k = 0; k < password.size(); k++) {
			argv[i][at + k] = '*';
		}
	}
	if (found) {
		log::Warn("cli.password_in_arguments", "hint",
		          "a password on the command line is visible to other local users while the process starts; pass it "
		          "through ~/.pgpass, a pg_service.conf, DUCKPIPE_SOURCE / DUCKPIPE_LAKE_CATALOG or --conninfo-file");
	}
}

} // namespace

int RunCli(int argc, char **argv) {
	CLI::App app{"pg_duckpipe: continuous CDC from PostgreSQL into DuckLake"};
	app.set_version_flag("--version", std::string("duckpipe ") + DUCKPIPE_VERSION);
	app.require_subcommand(1);
	GlobalOptions global;
	global.Register(app);
	QueryCommand query(app, global);
	ManageCommands manage(app, global);
	ConfigCommands config(app, global);
	RunCommand run(app, global);
	StatusCommand status(app, global);
	MaintenanceCommand maintenance(app, global);
	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		return app.exit(e);
	}
	global.Apply();
	ScrubPasswords(argc, argv);
	if (query.Selected()) {
		return query.Run(std::cout);
	}
	if (manage.Selected()) {
		return manage.Run(std::cout);
	}
	if (config.Selected()) {
		return config.Run(std::cout);
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
