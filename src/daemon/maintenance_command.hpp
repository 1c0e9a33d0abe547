#pragma once

#include "daemon/global_options.hpp"

#include <iosfwd>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace duckpipe::daemon {

// The lake maintenance subcommands (one output line per thing done):
//   compact [TABLE...] [--target-file-size-mb N] [--min-files N] [--delete-threshold R]
//   flush-inlined [TABLE...]   (compact also flushes its tables' inlined rows first)
//   expire-snapshots --older-than '7 days' [--cleanup-older-than '0 seconds']
//   cleanup-files [--older-than '0 seconds'] [--orphans-older-than '1 hour']
// They work on an existing lake (--lake-catalog/--source, --lake-schema); --data-path is optional
// and, when given, must match the lake's.
class MaintenanceCommand {
public:
	MaintenanceCommand(CLI::App &app, const GlobalOptions &global);

	bool Selected() const;
	int Run(std::ostream &out) const;

private:
	int Compact(std::ostream &out) const;
	int FlushInlined(std::ostream &out) const;
	int ExpireSnapshots(std::ostream &out) const;
	int CleanupFiles(std::ostream &out) const;

	const GlobalOptions &global_;
	CLI::App *compact_ = nullptr;
	CLI::App *flush_inlined_ = nullptr;
	CLI::App *expire_ = nullptr;
	CLI::App *cleanup_ = nullptr;

	std::vector<std::string> tables_;
	int64_t target_file_size_mb_ = 128;
	int min_files_ = 2;
	double delete_threshold_ = 0.5;
	std::string older_than_ = "7 days";
	std::string cleanup_older_than_ = "0 seconds";
	std::string orphans_older_than_;
};

} // namespace duckpipe::daemon
