#pragma once

#include <map>
#include <memory>
#include <string>

struct _duckdb_database;

namespace duckpipe {

class DuckConnection;

// Owns one embedded DuckDB instance. Options are DuckDB configuration names (memory_limit,
// temp_directory, threads, ...). Destroying it returns its memory and temp files to the OS.
class DuckDatabase {
public:
	// path empty or ":memory:" = in-memory.
	explicit DuckDatabase(const std::string &path = {}, const std::map<std::string, std::string> &options = {});
	~DuckDatabase();
	DuckDatabase(const DuckDatabase &) = delete;
	DuckDatabase &operator=(const DuckDatabase &) = delete;

	std::unique_ptr<DuckConnection> Connect();
	_duckdb_database *Raw() const { return db_; }

private:
	_duckdb_database *db_ = nullptr;
};

} // namespace duckpipe
