#pragma once

#include "daemon/global_options.hpp"

#include <iosfwd>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace duckpipe::daemon {

// The management subcommands: they edit the `duckpipe` metadata in the source database, which a
// running daemon picks up within a second (LISTEN/NOTIFY).
//   add-table SRC [TARGET] [--group G] [--no-copy] [--append]
//   remove-table SRC [--drop-target]     resync-table SRC
//   create-group NAME [--publication P] [--slot S] [--conninfo C] [--mode daemon|bgworker]
//   drop-group NAME [--force]            enable-group NAME     disable-group NAME
class ManageCommands {
public:
	ManageCommands(CLI::App &app, const GlobalOptions &global);

	bool Selected() const;
	int Run(std::ostream &out) const;

private:
	int AddTable(std::ostream &out) const;
	int RemoveTable(std::ostream &out) const;
	int ResyncTable(std::ostream &out) const;
	int CreateGroup(std::ostream &out) const;
	int DropGroup(std::ostream &out) const;
	int SetGroupEnabled(std::ostream &out, bool enabled) const;

	const GlobalOptions &global_;
	CLI::App *add_table_ = nullptr;
	CLI::App *remove_table_ = nullptr;
	CLI::App *resync_table_ = nullptr;
	CLI::App *create_group_ = nullptr;
	CLI::App *drop_group_ = nullptr;
	CLI::App *enable_group_ = nullptr;
	CLI::App *disable_group_ = nullptr;

	std::string table_;
	std::string target_;
	std::string group_ = "default";
	bool no_copy_ = false;
	bool append_ = false;
	bool drop_target_ = false;
	std::string group_name_;
	std::string publication_;
	std::string slot_;
	std::string mode_ = "daemon";
	std::string conninfo_;
	std::string conninfo_file_;
	bool force_ = false;
};

} // namespace duckpipe::daemon
