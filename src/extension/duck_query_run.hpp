#pragma once

#include "extension/lake_session.hpp"

#include <duckdb.h>

#include <memory>
#include <string>
#include <vector>

namespace duckpipe {
class DuckDatabase;
class DuckConnection;
} // namespace duckpipe

namespace duckpipe::ext {

// A lake relation a DuckDB query reads, and the columns of the empty view that stands in for it
// while its lake table does not exist yet (the pipeline creates it at the first copy).
struct DuckQueryTable {
	std::string schema;
	std::string name;
	std::string empty_select; // "SELECT CAST(NULL AS INTEGER) AS "id", ... WHERE false"
};

// One query run whole in DuckDB (the backend's query engine) over the statement's lake snapshot, its result streamed
// chunk by chunk. PostgreSQL-free: the caller converts the chunks (DuckDatum) on the main thread.
class DuckQueryRun {
public:
	// timezone: PostgreSQL's TimeZone, which DuckDB's timestamptz functions then use.
	DuckQueryRun(const LakeSettings &settings, const std::string &sql, const std::vector<DuckQueryTable> &tables,
	             const std::string &timezone);
	~DuckQueryRun();
	DuckQueryRun(const DuckQueryRun &) = delete;
	DuckQueryRun &operator=(const DuckQueryRun &) = delete;

	uint64_t ColumnCount() const;
	// Owned by the run.
	duckdb_logical_type ColumnType(uint64_t col) const;
	// The next chunk of rows (owned by the run until the next call), nullptr at the end.
	duckdb_data_chunk NextChunk();

private:
	std::unique_ptr<LakeSession> session_;
	std::unique_ptr<DuckDatabase> empty_db_; // no lake yet: a DuckDB of stand-in views only
	std::unique_ptr<DuckConnection> empty_duck_;
	DuckConnection *duck_ = nullptr;
	duckdb_prepared_statement prepared_ = nullptr;
	duckdb_result result_{};
	bool has_result_ = false;
	duckdb_data_chunk chunk_ = nullptr;
	std::vector<duckdb_logical_type> types_;
};

} // namespace duckpipe::ext
