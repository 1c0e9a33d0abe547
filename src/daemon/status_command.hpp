#pragma once

#include "daemon/global_options.hpp"

#include <iosfwd>
#include <string>

namespace CLI {
class App;
}

namespace duckpipe::daemon {

// `duckpipe status [--group G] [--format table|csv|json]`: one row per synced table with its state,
// rows synced, applied LSN, lag in bytes and seconds, queued changes and last error.
class StatusCommand {
public:
	StatusCommand(CLI::App &app, const GlobalOptions &global);

	bool Selected() const;
	int Run(std::ostream &out) const;

private:
	const GlobalOptions &global_;
	CLI::App *sub_ = nullptr;
	std::string group_;
	std::string format_ = "table";
};

} // namespace duckpipe::daemon
