#pragma once

#include <string>
#include <utility>
#include <vector>

namespace duckpipe::test {

// How a column's value is compared between PostgreSQL and the lake: each side is turned into a
// canonical text that is equal exactly when the values are.
enum class Canon {
	Text,    // PostgreSQL's output function text vs DuckDB's VARCHAR: integers, uuid, json, fallbacks
	Bool,    // 'true'/'false' on both sides
	Decimal, // exact digits; a PostgreSQL NaN must arrive as NULL (the documented fallback)
	Float4,  // parsed as float by the test on both sides (NaN, ±Infinity, -0 included)
	Float8,  // parsed as double
	Bytea,   // lowercase hex
	Date,    // days since 2000-01-01, 'inf'/'-inf'
	Time,    // microseconds since midnight
	Stamp,   // microseconds since the epoch (UTC for timestamptz), 'infinity'/'-infinity'
};

// One column of the test table: its PostgreSQL type, the DuckLake column_type it must get (and the
// element type for lists) and the comparison (of the element, for lists).
struct TypeColumn {
	std::string name;
	std::string pg_type;
	std::string lake_type;
	std::string element_lake_type; // lists only
	Canon canon = Canon::Text;
};

// One source row: column name -> SQL expression (missing columns are NULL), and the session
// TimeZone it is inserted under (empty: the connection's UTC).
struct TypeRow {
	int id = 0;
	std::vector<std::pair<std::string, std::string>> values;
	std::string time_zone;
};

// Types, domains and the table public.alltypes.
std::string TypesDdl();
const std::vector<TypeColumn> &TypeColumns();
const std::vector<TypeRow> &TypeRows();
// The INSERT for a row with its id shifted by id_offset (wrapped in a transaction with SET LOCAL
// TimeZone when the row asks for one).
std::string InsertSql(const TypeRow &row, int id_offset);
// UPDATE ... SET (every column but id) = (that of row from_id) WHERE id = to_id.
std::string CopyRowSql(int from_id, int to_id);

// SELECT id, <canonical text of each column> ... ORDER BY id, over the source / the lake table.
std::string SourceCanonicalSql(const std::string &table);
std::string LakeCanonicalSql(const std::string &lake_table);
// Final normalisation done in C++ (floats), applied to both sides' canonical text.
std::string Normalise(const TypeColumn &column, const std::string &canonical);

} // namespace duckpipe::test
