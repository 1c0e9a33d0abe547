#pragma once

#include "extension/lake_filter.hpp"
#include "extension/lake_session.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace duckpipe::ext {

class LakeTextRows;

// The lake side of a "DuckPipe Lake Scan": one snapshot of one lake table, read with projection
// (only the columns asked for) and a pushed filter (DuckDB's WHERE; Parquet row groups pruned by
// DuckDB's own statistics), after dropping the data files whose catalog statistics rule the filter
// out. Values come as text for the PostgreSQL input functions (PgTextExpression). Restartable with
// new filter values (rescans) on the same snapshot. Knows nothing of PostgreSQL.
class LakePushdownScan {
public:
	// Opens the snapshot settings.snapshot names.
	LakePushdownScan(const LakeSettings &settings, std::string schema, std::string table);
	~LakePushdownScan();
	LakePushdownScan(const LakePushdownScan &) = delete;
	LakePushdownScan &operator=(const LakePushdownScan &) = delete;

	// The lake table (nullptr when the lake or the table does not exist yet: no rows).
	const lake::LakeTable *Table() const { return table_; }
	int64_t SnapshotId() const;

	// Chooses the files for `filter` (none: every file) and, unless plan_only, starts reading
	// `columns` (relation attribute names in order, "" for one not read: NULL) through it.
	void Start(const std::vector<std::string> &columns, const std::optional<LakeFilter> &filter, bool plan_only);
	// Moves to the next row; false at the end.
	bool Next();
	// The current row's value of column `col` (nullopt is NULL); valid until the next Next().
	std::optional<std::string_view> Value(size_t col) const;

	// What the last Start chose, for EXPLAIN.
	size_t FilesTotal() const { return files_total_; }
	size_t FilesRead() const { return files_read_; }
	const std::string &FilterSql() const { return filter_sql_; }

private:
	std::vector<lake::LakeDataFile> Prune(const LakeFilter &filter);

	std::string schema_;
	std::string name_;
	std::unique_ptr<LakeSession> session_;
	const lake::LakeTable *table_ = nullptr;
	std::unique_ptr<LakeTextRows> rows_;
	size_t files_total_ = 0;
	size_t files_read_ = 0;
	std::string filter_sql_;
};

} // namespace duckpipe::ext
