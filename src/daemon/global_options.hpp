#pragma once

#include "core/meta/setting_defaults.hpp"

#include <map>
#include <string>

namespace CLI {
class App;
}

namespace duckpipe::daemon {

// The flags every subcommand shares, declared once. Each flag can also come from the environment
// variable named after it (--lake-schema = DUCKPIPE_LAKE_SCHEMA); the command line wins.
// Register them on the root app: they are accepted before or after the subcommand name.
struct GlobalOptions {
	std::string source;                   // --source: conninfo of the source PostgreSQL
	std::string lake_catalog;             // --lake-catalog: conninfo of the catalog DB (default: source)
	std::string lake_schema = "ducklake"; // --lake-schema: schema holding the ducklake_* tables
	std::string data_path;                // --data-path: where new lakes put Parquet files (ends in '/')
	std::string temp_dir;                 // --temp-dir: DuckDB spill directory (default: DuckDB's)
	int64_t temp_dir_max_mb = 0;          // --temp-dir-max-mb: spill limit of each embedded DuckDB (0: free space)
	std::string log_level = "info";       // --log-level: debug, info, warn, error
	// --duckdb-threads, --duckdb-buffer-memory-mb (memory_limit of the change buffer) and
	// --duckdb-flush-memory-mb (memory_limit while flushing)
	int duckdb_threads = meta::defaults::kDuckdbThreads;
	int duckdb_buffer_memory_mb = meta::defaults::kDuckdbBufferMemoryMb;
	int duckdb_flush_memory_mb = meta::defaults::kDuckdbFlushMemoryMb;

	void Register(CLI::App &app);
	// Applies process-wide settings (log level). Call once after parsing; throws Error(Config).
	void Apply() const;

	// --source, or Error(Config) naming the flag and variable when unset.
	std::string SourceConninfo() const;
	// --lake-catalog, else --source, else Error(Config).
	std::string LakeCatalogConninfo() const;
	// DuckDB configuration for an embedded database limited to memory_mb.
	std::map<std::string, std::string> DuckOptions(int memory_mb) const;
};

} // namespace duckpipe::daemon
