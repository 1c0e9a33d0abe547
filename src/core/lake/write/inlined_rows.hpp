#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace duckpipe::lake {

// The rows of one staged insert that go into the catalog's ducklake_inlined_data_<T>_<V> table
// instead of a Parquet file (DuckLake data inlining, digest section 7).
struct InlinedInsert {
	struct Column {
		std::string name;
		std::string pg_type; // the column's type in the inlined table, as the reference lays it out
	};
	std::vector<Column> columns; // the table's top-level columns, in order
	// Per row, per column: the value as text (BYTEA columns: hex digits), nullopt for NULL.
	std::vector<std::vector<std::optional<std::string>>> rows;
};

// Inlined rows of one ducklake_inlined_data_<T>_<V> table a commit ends (their end_snapshot = S).
struct StagedInlinedDelete {
	int64_t table_id = 0;
	std::set<int64_t> row_ids;
};

} // namespace duckpipe::lake
