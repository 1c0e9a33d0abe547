#include "daemon/global_options.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"

#include <CLI/CLI.hpp>

namespace duckpipe::daemon {

void GlobalOptions::Register(CLI::App &app) {
	// Flags after the subcommand name fall through to the root app, where these live.
	app.fallthrough();
	const std::string group = "Global options";
	app.add_option("--source", source, "Source PostgreSQL conninfo")->envname("DUCKPIPE_SOURCE")->group(group);
	app.add_option("--lake-catalog", lake_catalog, "Conninfo of the DuckLake catalog database (default: --source)")
	    ->envname("DUCKPIPE_LAKE_CATALOG")
	    ->group(group);
	app.add_option("--lake-schema", lake_schema, "Schema of the DuckLake catalog tables")
	    ->envname("DUCKPIPE_LAKE_SCHEMA")
	    ->capture_default_str()
	    ->group(group);
	app.add_option("--data-path", data_path, "Data path of a new lake (directory or URI)")
	    ->envname("DUCKPIPE_DATA_PATH")
	    ->group(group);
	app.add_option("--temp-dir", temp_dir, "Directory for DuckDB temporary files")
	    ->envname("DUCKPIPE_TEMP_DIR")
	    ->group(group);
	app.add_option("--temp-dir-max-mb", temp_dir_max_mb,
	               "Temporary disk space each embedded DuckDB may use under --temp-dir (MB, 0: the free space)")
	    ->envname("DUCKPIPE_TEMP_DIR_MAX_MB")
	    ->check(CLI::NonNegativeNumber)
	    ->capture_default_str()
	    ->group(group);
	app.add_option("--log-level", log_level, "debug, info, warn or error")
	    ->envname("DUCKPIPE_LOG_LEVEL")
	    ->capture_default_str()
	    ->group(group);
	app.add_option("--duckdb-threads", duckdb_threads, "Threads of each embedded DuckDB")
	    ->envname("DUCKPIPE_DUCKDB_THREADS")
	    ->check(CLI::PositiveNumber)
	    ->capture_default_str()
	    ->group(group);
	app.add_option("--duckdb-buffer-memory-mb", duckdb_buffer_memory_mb, "Memory limit of the change buffer (MB)")
	    ->envname("DUCKPIPE_DUCKDB_BUFFER_MEMORY_MB")
	    ->check(CLI::PositiveNumber)
	    ->capture_default_str()
	    ->group(group);
	app.add_option("--duckdb-flush-memory-mb", duckdb_flush_memory_mb,
	               "Memory limit while flushing to the lake (MB); queries: query --query-memory-mb")
	    ->envname("DUCKPIPE_DUCKDB_FLUSH_MEMORY_MB")
	    ->check(CLI::PositiveNumber)
	    ->capture_default_str()
	    ->group(group);
}

void GlobalOptions::Apply() const {
	log::SetLevel(log::ParseLevel(log_level));
}

std::string GlobalOptions::SourceConninfo() const {
	if (source.empty()) {
		throw Error(ErrorKind::Config, "no source database given",
		            {.hint = "pass --source 'host=... dbname=...' or set DUCKPIPE_SOURCE"});
	}
	return source;
}

std::string GlobalOptions::LakeCatalogConninfo() const {
	if (!lake_catalog.empty()) {
		return lake_catalog;
	}
	if (!source.empty()) {
		return source;
	}
	throw Error(ErrorKind::Config, "no DuckLake catalog database given",
	            {.hint = "pass --lake-catalog (or --source, its default) or set DUCKPIPE_LAKE_CATALOG"});
}

std::map<std::string, std::string> GlobalOptions::DuckOptions(int memory_mb) const {
	std::map<std::string, std::string> options{{"memory_limit", std::to_string(memory_mb) + "MB"},
	                                           {"threads", std::to_string(duckdb_threads)}};
	if (!temp_dir.empty()) {
		options["temp_directory"] = temp_dir;
	}
	if (temp_dir_max_mb > 0) {
		options["max_temp_directory_size"] = std::to_string(temp_dir_max_mb) + "MiB";
	}
	return options;
}

} // namespace duckpipe::daemon
