#pragma once

#include "daemon/global_options.hpp"

#include <iosfwd>
#include <string>

namespace CLI {
class App;
}

namespace duckpipe::daemon {

// The stored settings (meta::ConfigRegistry keys), which running pipelines pick up on the change's
// notification:
//   get-config [KEY] [--group G | --table T] [--format F]   the value in force at that scope
//   set-config KEY [VALUE] [--group G | --table T] [--reset] global_config, a group's or a table's
// Resolution: built-in default <- process setting (flags of `duckpipe run`) <- global <- group <- table.
class ConfigCommands {
public:
	ConfigCommands(CLI::App &app, const GlobalOptions &global);

	bool Selected() const;
	int Run(std::ostream &out) const;

private:
	int GetConfig(std::ostream &out) const;
	int SetConfig(std::ostream &out) const;

	const GlobalOptions &global_;
	CLI::App *get_ = nullptr;
	CLI::App *set_ = nullptr;
	std::string key_;
	std::string value_;
	std::string group_;
	std::string table_;
	bool reset_ = false;
	std::string format_ = "table";
};

} // namespace duckpipe::daemon
