#pragma once

#include "extension/lake_session.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace duckpipe::ext {

class LakeTextRows;

// The rows of one lake table at the current snapshot, streamed from DuckDB a chunk at a time, each
// value as the text its PostgreSQL type's input function reads (PgTextExpression). Knows nothing of
// PostgreSQL: the access method turns the texts into datums.
class LakeScan {
public:
	// `columns`: the relation's attribute names in order ("" for a dropped attribute). A column the
	// lake table lacks reads as NULL; a lake table that does not exist (yet) has no rows.
	// `sample_rows`: a uniform sample of that many rows (all when the table has fewer; for ANALYZE)
	// instead of every row.
	LakeScan(const LakeSettings &settings, const std::string &schema, const std::string &table,
	         std::vector<std::string> columns, std::optional<int64_t> sample_rows = std::nullopt);
	~LakeScan();
	LakeScan(const LakeScan &) = delete;
	LakeScan &operator=(const LakeScan &) = delete;

	// Back to the first row, at the same snapshot and in the same DuckDB session (a rescan within a
	// statement sees what the first scan saw, as a heap scan under the statement's snapshot does).
	void Restart();
	// Moves to the next row; false at the end.
	bool Next();
	// The current row's value of column `col` (nullopt is NULL); valid until the next Next().
	std::optional<std::string_view> Value(size_t col) const;

private:
	std::unique_ptr<LakeSession> session_;
	std::unique_ptr<LakeTextRows> rows_;
};

} // namespace duckpipe::ext
