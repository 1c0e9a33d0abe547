#pragma once

#include <optional>
#include <string>

namespace duckpipe::ext {

// What the planner and ANALYZE know of a lake table's size without reading it: the live rows (each
// data file's records less its deleted rows, plus the inlined rows) and the bytes of its data files,
// at the snapshot the statement's reads see. From the query engine's catalog state (QueryEngine::
// Catalog: loaded once per snapshot, the latest snapshot asked once per statement), so a plan's
// figures are those of the snapshot its scans read.
struct LakeTableSize {
	double rows = 0;
	double bytes = 0;
};

// The size of lake table schema.table (0 rows while it does not exist yet); nullopt when the lake
// cannot be asked (an estimate is not worth failing a query for: the scan says what is wrong).
// Main thread, inside PgBoundary.
std::optional<LakeTableSize> LakeSizeOf(const std::string &schema, const std::string &table);

} // namespace duckpipe::ext
