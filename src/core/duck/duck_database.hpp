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
	// Where it spills (the temp_directory option, else DuckDB's default), for error messages.
	const std::string &TempDirectory() const { return temp_directory_; }
	// Whether it was opened keeping the insertion order (DuckDB's default; nothing here SETs it later).
	bool KeepsInsertionOrder() const { return keeps_insertion_order_; }

private:
	_duckdb_database *db_ = nullptr;
	std::string temp_directory_;
	bool keeps_insertion_order_ = true;
};

} // namespace duckpipe
