#pragma once

#include <cstdint>
#include <string>

// The background worker `pg_duckpipe: <group>`: runs the core's pipeline for one sync group of one
// database on core threads, while PostgreSQL's main thread runs the latch loop (signals, reload,
// wake-ups, log lines, live figures).
namespace duckpipe::ext {

// Registers a dynamic worker for the group (restarted 10 s after a failure). False when no
// background worker slot is free.
bool RegisterGroupWorker(uint32_t dboid, const std::string &group);

} // namespace duckpipe::ext
