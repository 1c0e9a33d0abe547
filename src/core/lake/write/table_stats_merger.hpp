#pragma once

#include "core/lake/write/commit_state.hpp"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace duckpipe {
class PgConnection;
class PgResult;
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
	// `first_new_file_id`: the commit's data files have this id and above (older files are below it).
	std::string Sql(std::map<int64_t, int64_t> &row_id_start, int64_t first_new_file_id);

	// The old stats in the round trip that reads the head: UNION ALL branches (columns k text, a..d
	// bigint, e, f boolean, g, h text; "" when no existing table gets files) whose rows TakeOldStats
	// reads (those with k = 't' or 'c'); Sql() then asks nothing.
	std::string OldStatsSelect() const;
	static std::string OldStatsSelectFor(PgConnection &conn, const std::string &catalog_schema,
	                                     const std::set<int64_t> &table_ids);
	// Adds the rows of one such query to the old stats (call once per result).
	void TakeOldStats(const PgResult &rows);

	// One min or max to compute from candidate values of a column type.
	struct Bound {
		std::string type;
		std::vector<std::string> values;
		bool is_min = true;
		std::optional<std::string> result;
	};

private:
	struct OldColumn {
		std::optional<bool> contains_null, contains_nan;
		std::optional<std::string> min, max;
	};
	struct OldStats {
		std::map<int64_t, int64_t> next_row_id;                   // table -> next_row_id
		std::map<std::pair<int64_t, int64_t>, OldColumn> columns; // (table, column) -> stats
	};
	struct NewColumn {
		bool has_values = false, unknown_bound = false;
		std::optional<bool> contains_null = false, contains_nan;
		std::vector<std::string> mins, maxs;
	};
	struct NewStats {
		const TableBase *working = nullptr;
		int64_t rows = 0, bytes = 0;
		std::map<int64_t, NewColumn> columns;
		std::vector<int64_t> column_order;
	};
	struct PendingColumn {
		int64_t table, column;
		bool insert;
		std::optional<bool> contains_null, contains_nan;
		int min_job = -1, max_job = -1;
		bool ambiguous = false; // old min/max NULL: unknown bound if an earlier file had values
	};
	struct ColumnPlan {
		std::vector<Bound> jobs;
		std::vector<PendingColumn> pending;
	};

	std::vector<int64_t> TablesWithNewFiles() const;
	OldStats LoadOldStats(const std::string &table_ids) const;
	// The commit's files of `table`: row counts, sizes and per-column stats; assigns their first row ids.
	NewStats CollectNewStats(int64_t table, int64_t first_row_id, std::map<int64_t, int64_t> &row_id_start) const;
	std::string TableStatsSql(int64_t table, bool exists, const NewStats &stats) const;
	void PlanColumnBounds(int64_t table, bool exists, const NewStats &stats, const OldStats &old,
	                      ColumnPlan &plan) const;
	std::string ColumnStatsSql(const ColumnPlan &plan, int64_t first_new_file_id) const;
	std::string T(const char *table) const;
	std::string Lit(const std::optional<std::string> &value) const;
	int64_t Resolve(int64_t id_or_handle) const;

	PgConnection &conn_;
	DuckConnection &duck_;
	std::string schema_;
	CommitState &state_;
	std::optional<OldStats> preloaded_;
};

} // namespace duckpipe::lake
