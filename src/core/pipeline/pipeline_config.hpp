#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace duckpipe::pipeline {

// Everything a running pipeline needs, filled by the daemon from flags/environment and by the
// extension from GUCs. Defaults are the documented ones.
struct PipelineConfig {
	std::string source_conninfo;       // metadata + default source
	std::string lake_catalog_conninfo; // empty: the source database
	std::string lake_schema = "ducklake";
	std::string data_path;           // absolute, ends in '/'
	std::string temp_dir;            // DuckDB buffers spill here
	int64_t temp_dir_max_mb = 0;     // DuckDB's max_temp_directory_size per instance; 0 = the free disk space
	std::vector<std::string> groups; // empty: every enabled group

	int64_t flush_interval_ms = 5000;
	int64_t flush_batch_threshold = 100000; // buffered rows that trigger a flush
	int64_t max_queued_bytes = 256LL << 20; // per group; the slot consumer stops reading above it
	int64_t duckdb_buffer_memory_mb = 16;
	int64_t duckdb_flush_memory_mb = 512;
	int duckdb_threads = 1;
	int max_parallel_snapshots = 2;
	int64_t status_interval_ms = 10000; // standby status updates to the server
	int max_retry_backoff_s = 300;
	int proto_version = 1;

	std::string LakeCatalogConninfo() const {
		return lake_catalog_conninfo.empty() ? source_conninfo : lake_catalog_conninfo;
	}
};

} // namespace duckpipe::pipeline
