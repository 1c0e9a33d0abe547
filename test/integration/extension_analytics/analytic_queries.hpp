#pragma once

#include <string>
#include <vector>

namespace duckpipe::test {

// One query of queries.sql: its name, its SQL (unqualified table names), whether the order of its
// rows is part of the answer, and the path it runs on over lake relations with the defaults:
// "duckdb" (whole in DuckDB) or "row" (the row path, the NOTICE naming why).
struct AnalyticQuery {
	std::string name;
	std::string sql;
	bool ordered = false;
	std::string path;
};

// The queries of a file in queries.sql's format (`-- name: x`, optional `-- ordered` and
// `-- path: duckdb|row`, the SQL up to the next name). Throws on a file that cannot be read, a
// duplicate name or a query without its path.
std::vector<AnalyticQuery> LoadAnalyticQueries(const std::string &path);

// How two results differ, empty when they are the same: in order when ordered, else as multisets.
// Rows are PostgreSQL's text output of each value.
std::string ResultDifference(std::vector<std::vector<std::string>> expected,
                             std::vector<std::vector<std::string>> actual, bool ordered);

} // namespace duckpipe::test
