#pragma once

#include "core/lake/catalog_model.hpp"

#include <duckdb.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace duckpipe {
class DuckConnection;
}

namespace duckpipe::ext {

// The SELECT list rendering `columns` (relation attribute names in order, "" for one not read) of a
// lake table as the text each PostgreSQL type's input function reads (PgTextExpression); a column
// the lake table lacks reads as NULL.
std::string LakeTextSelectList(const lake::LakeTable &table, const std::vector<std::string> &columns);

// The rows of one DuckDB query of text columns, streamed a chunk at a time, re-runnable on the same
// prepared statement. Knows nothing of PostgreSQL: the scans turn the texts into datums.
class LakeTextRows {
public:
	// No rows (a lake table that does not exist yet).
	LakeTextRows() = default;
	// Prepares `sql` on `duck` (which must outlive this) and runs it; `what` names the read in errors.
	LakeTextRows(DuckConnection &duck, const std::string &sql, std::string what);
	~LakeTextRows();
	LakeTextRows(const LakeTextRows &) = delete;
	LakeTextRows &operator=(const LakeTextRows &) = delete;

	// Runs the query again from its first row.
	void Restart();
	// Moves to the next row; false at the end.
	bool Next();
	// The current row's value of column `col` (nullopt is NULL); valid until the next Next().
	std::optional<std::string_view> Value(size_t col) const;

private:
	void Execute();
	void Release() noexcept;

	DuckConnection *duck_ = nullptr;
	std::string what_;
	duckdb_prepared_statement prepared_ = nullptr;
	duckdb_result result_{};
	bool has_result_ = false;
	duckdb_data_chunk chunk_ = nullptr;
	idx_t chunk_rows_ = 0;
	idx_t row_ = 0;
	bool done_ = true;
};

} // namespace duckpipe::ext
