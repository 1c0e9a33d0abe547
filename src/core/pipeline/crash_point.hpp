#pragma once

namespace duckpipe::pipeline {

// Named points where tests make the process die on the spot (like kill -9), to prove that a crash
// at the most dangerous steps loses and duplicates nothing. Set with the environment variable
// DUCKPIPE_CRASH_POINT=<name> (read once); unset, each call is one relaxed load.
// Points: flush_before_commit (Parquet written, catalog not committed), flush_after_commit (lake
// committed, slot not yet confirmed), copy_before_commit (initial copy written, not committed).
void CrashPoint(const char *name);

} // namespace duckpipe::pipeline
