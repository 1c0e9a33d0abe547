#pragma once

#include <string>

namespace duckpipe::lake {

// Where a lake lives: the PostgreSQL catalog (schema `catalog_schema` of the database behind
// `catalog_conninfo`) and the directory holding the Parquet files.
struct LakeConfig {
	std::string catalog_conninfo;
	std::string catalog_schema = "ducklake";
	// Absolute local path; NormalizedDataPath() makes it end in exactly one '/' as the spec requires.
	std::string data_path;
	// Free text stored in ducklake_metadata 'created_by' when we create the lake.
	std::string created_by = std::string("pg_duckpipe ") + DUCKPIPE_VERSION;
	// Commit retries on serialization failures (23505/40001/40P01) before giving up with Error(Conflict).
	int max_commit_retries = 10;
	// First backoff; the n-th retry sleeps base * 1.5^n * rand[0.5,1] (the reference's schedule).
	int retry_base_ms = 20;
	// Where the key index of DeleteByKey keeps its files (12 bytes per indexed row, in a private
	// subdirectory removed when the writer closes); empty: the system's temp directory.
	std::string key_index_dir;

	// data_path as stored in the catalog: absolute, '/' separators, ending in '/'. Throws Error(Config).
	std::string NormalizedDataPath() const;
	// NormalizedDataPath(), after PrepareDirectory proved it usable.
	std::string PrepareDataPath() const;
	// Creates `path` if missing and proves it usable (a directory in which a file can be created and
	// removed), so a bad path fails before any catalog records it. Throws Error(Config) naming the path
	// (and the file in its way) and the fix.
	static void PrepareDirectory(const std::string &path);
};

} // namespace duckpipe::lake
