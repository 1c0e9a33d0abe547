#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace duckpipe::ext {

// A filter pushed into a lake scan, with every value known (constants, and parameters evaluated at
// scan start). Built by the planner side (lake_filter_pg.cpp) from restriction clauses; knows
// nothing of PostgreSQL. Rendered two ways: as the DuckDB WHERE of the scan (exactly PostgreSQL's
// semantics for the clauses it came from), and as a test over one data file's column statistics
// that is false only when no row of the file can pass (file pruning).
struct LakeFilter {
	enum class Kind {
		Compare,   // column op values[0]
		IsNull,    // column IS NULL
		IsNotNull, // column IS NOT NULL
		In,        // column IN (values): = ANY(array)
		And,
		Or,
		Not
	};
	Kind kind = Kind::And;
	std::string op; // Compare: =, <>, <, <=, >, >=
	// The lake column (leaves).
	std::string column;
	int64_t column_id = 0;
	std::string duck_type; // its DuckDB type: statistics are TRY_CAST to it
	bool is_float = false; // statistics leave NaN out: prune only where contains_nan is false
	bool is_text = false;  // statistics of strings compare as strings
	// DuckDB literals, typed ("CAST('1.5' AS DECIMAL(2,1))", "NULL" for a null value).
	std::vector<std::string> values;
	// False when a value is not known yet (EXPLAIN without ANALYZE of a run-time parameter): the
	// leaf prunes nothing.
	bool known = true;
	std::vector<LakeFilter> children;

	// The DuckDB SQL of the filter over the scanned table's columns.
	std::string Sql() const;
	// DuckDB SQL over a row of file statistics (see StatsColumn) that is false only when no row of
	// the file can satisfy the filter; unknown statistics never prune.
	std::string PruneSql() const;
	// The lake column ids the leaves read (for the statistics rows), without duplicates.
	void ColumnIds(std::vector<int64_t> &out) const;
	// Whether PruneSql can ever be false (some leaf constrains statistics).
	bool CanPrune() const;

	// Name of a statistic in the statistics row: what is "min", "max", "nulls", "values", "nan".
	static std::string StatsColumn(const char *what, int64_t column_id);
};

} // namespace duckpipe::ext
