#pragma once

#include "core/lake/write/commit_state.hpp"

#include <map>
#include <optional>
#include <string>

namespace duckpipe {
class PgConnection;
class DuckConnection;
} // namespace duckpipe

namespace duckpipe::lake {

// table_stats / table_column_stats for the data files of a commit (digest §3.3), read and merged
// inside the commit transaction: record_count and next_row_id only grow, contains_null/nan are
// OR-ed, min/max stay true bounds (numbers and times compared by value in DuckDB, strings byte-wise;
// an unknown side makes the bound NULL). Columns added after a table's first data get no row, as
// in the reference.
class TableStatsMerger {
public:
	TableStatsMerger(PgConnection &conn, DuckConnection &duck, std::string catalog_schema, CommitState &state);
	// The UPDATE/INSERT statements; fills row_id_start (index in state.data_files -> first row id).
	std::string Sql(std::map<int64_t, int64_t> &row_id_start);

private:
	std::string T(const char *table) const;
	std::string Lit(const std::optional<std::string> &value) const;
	int64_t Resolve(int64_t id_or_handle) const;

	PgConnection &conn_;
	DuckConnection &duck_;
	std::string schema_;
	CommitState &state_;
};

} // namespace duckpipe::lake
