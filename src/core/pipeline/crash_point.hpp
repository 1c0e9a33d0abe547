#pragma once

namespace duckpipe::pipeline {

// Named points where tests make the process die on the spot (like kill -9), to prove that a crash
// at the most dangerous steps loses and duplicates nothing. Set with the environment variable
// DUCKPIPE_CRASH_POINT=<name> (read once). Compiled only with DUCKPIPE_FAULT_INJECTION (test builds):
// elsewhere a call does nothing and the environment is never read.
// Points: flush_before_commit (Parquet written, catalog not committed), flush_commit_sent (COMMIT
// sent, its answer not read: durable or not), flush_after_commit (lake committed, slot not yet
// confirmed), copy_before_commit (initial copy written, not committed), copy_commit_sent.
#ifdef DUCKPIPE_FAULT_INJECTION
void CrashPoint(const char *name);
#else
inline void CrashPoint(const char *) {}
#endif

} // namespace duckpipe::pipeline
