#pragma once

#include <string>

struct Query;
struct RangeTblEntry;

namespace duckpipe::ext {

// FROM items other than relations, subqueries and joins that DuckDB runs as PostgreSQL does, for
// whole-query execution (duck_exec_from.cpp): VALUES lists and generate_series. Call PostgreSQL.

// Why DuckDB may not read the VALUES list or function in FROM ("" when it may).
std::string ValuesProblem(RangeTblEntry *rte);
std::string FunctionScanProblem(RangeTblEntry *rte);

// This level's generate_series of int4, whose values DuckDB returns as BIGINT, each replaced by a
// subquery that casts them back to integer (int4 arithmetic and overflow as in PostgreSQL).
void PrepareFunctionScans(Query *query);
// This level's VALUES lists with their column names written out (DuckDB names a list's columns
// col0, col1, ... where PostgreSQL's are column1, column2, ...) and their NULL numerics given the
// column's precision and scale (a bare NULL::numeric is DuckDB's DECIMAL(18,3), whose scale the
// column would take).
void PrepareValuesLists(Query *query);
// SELECT ... FROM `inner`: a query whose one range table entry is `inner`, target list empty (the
// caller fills it), for FROM items rewritten into subqueries.
Query *SelectFromOne(RangeTblEntry *inner);

} // namespace duckpipe::ext
