#pragma once

// The settings of the backend's query engine (QueryEngine): duckpipe.query_memory_mb and
// duckpipe.query_threads. Superuser settings (PGC_SUSET): the memory cap is the server's to give.
namespace duckpipe::ext {

void DefineQueryEngineGucs();
// The values in force in this backend (main thread only).
int QueryMemoryMb();
int QueryThreads();

} // namespace duckpipe::ext
