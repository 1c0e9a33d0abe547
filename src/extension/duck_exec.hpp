#pragma once

struct List;
struct Plan;

// Whole-query execution in DuckDB (docs/lake-relation.md, "Execution"): a planner hook turns a
// SELECT whose relations are all lake relations into one custom scan "DuckDB Query" that runs the
// query's DuckDB SQL and hands PostgreSQL only the result rows.
namespace duckpipe::ext {

// duckpipe.duckdb_execution, and the planner hook (chained after the previous one). From _PG_init.
void DefineDuckExecutionGucs();

// The custom scan (duck_exec_scan.cpp). scan_tlist: one TargetEntry per result column, its
// expression describing the column (type, typmod, collation); private_data: the DuckDB SQL and the
// tables it reads (String nodes: sql, then schema, name, empty select per table).
Plan *MakeDuckQueryScan(List *scan_tlist, List *private_data);
void RegisterDuckQueryScan();

} // namespace duckpipe::ext
