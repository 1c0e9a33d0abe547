#pragma once

#include "daemon/global_options.hpp"

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace duckpipe::daemon {

// `duckpipe query "SQL" [--format table|csv|json] [--snapshot N | --as-of TIMESTAMP]`: loads the
// lake catalog, exposes every lake table as a view in an in-memory DuckDB and prints the result of
// the SQL. The DuckDB has a memory limit meant for queries (--query-memory-mb, default 1024) and a
// spill directory of its own (under --temp-dir, else the system's temporary directory), removed at
// the end, so that a query larger than memory spills instead of failing.
class QueryCommand {
public:
	QueryCommand(CLI::App &app, const GlobalOptions &global);

	bool Selected() const;
	// Runs the query and prints its result; returns the exit code. Errors are thrown as Error.
	int Run(std::ostream &out) const;

private:
	const GlobalOptions &global_;
	CLI::App *sub_ = nullptr;
	std::string sql_;
	std::string format_ = "table";
	std::optional<int64_t> snapshot_;
	std::string as_of_;
	int query_memory_mb_ = 1024;
};

} // namespace duckpipe::daemon
