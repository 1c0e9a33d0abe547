#pragma once

namespace duckpipe {

// glibc malloc keeps what a thread frees in that thread's arena (up to 8 per core), so a process
// whose many threads each build and drop a table's buffer (an embedded DuckDB per table, closed after
// every flush) holds the high-water mark of every arena at once. These bound that.

// At most four arenas (glibc makes up to 8 per core), shared by every thread. Call before the
// pipeline's threads start; later calls and a MALLOC_ARENA_MAX set by the user leave it alone.
void LimitMallocArenas();
// Returns freed heap pages to the system (malloc_trim), at most once per 200 ms in the process:
// after a buffer closes.
void ReleaseFreedMemory();

} // namespace duckpipe
