#pragma once

// The "DuckPipe Lake Scan": a custom scan of a duckpipe_lake relation that reads only the columns a
// query needs and pushes its restriction clauses into DuckDB (lake_scan_path.cpp plans it,
// lake_scan_exec.cpp runs it). Off with duckpipe.lake_scan_pushdown = off: the table access
// method's row-at-a-time scan of every column.
namespace duckpipe::ext {

// duckpipe.lake_scan_pushdown. Called once from _PG_init.
void DefineLakeScanGucs();
// Installs the planner hooks (chained after any previous ones). Called once from _PG_init.
void RegisterLakeScanPath();

// Whether duckpipe.lake_scan_pushdown is on.
bool LakeScanPushdownEnabled();
// The executor's methods of the custom scan (lake_scan_exec.cpp).
const void *LakeScanExecMethods();

} // namespace duckpipe::ext
