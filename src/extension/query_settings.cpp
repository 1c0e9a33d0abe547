// duckpipe.query_memory_mb and duckpipe.query_threads: the DuckDB every lake read of a backend runs
// in (QueryEngine). A change takes effect at the next statement that reads the lake (the instance is
// replaced).
#include "extension/query_settings.hpp"

#include <climits>

#include "extension/pg_includes.hpp"

extern "C" {
#include "utils/guc.h"
}

namespace duckpipe::ext {

namespace {

int query_memory_mb = 1024;
int query_threads = 2;

} // namespace

void DefineQueryEngineGucs() {
	DefineCustomIntVariable(
	    "duckpipe.query_memory_mb",
	    "Memory limit of a backend's embedded DuckDB that reads the lake (spills to disk above it).",
	    "Temporary files go to $PGDATA/pg_duckpipe/tmp/duckpipe-query-backend_<pid>-*/.", &query_memory_mb, 1024, 16,
	    INT_MAX, PGC_SUSET, GUC_UNIT_MB, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("duckpipe.query_threads", "Threads of a backend's embedded DuckDB that reads the lake.",
	                        "The backend's own thread counts as one.", &query_threads, 2, 1, 1024, PGC_SUSET, 0,
	                        nullptr, nullptr, nullptr);
}

int QueryMemoryMb() {
	return query_memory_mb;
}

int QueryThreads() {
	return query_threads;
}

} // namespace duckpipe::ext
