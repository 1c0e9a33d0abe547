#pragma once

#include "core/pipeline/pipeline_figures.hpp"

#include <cstdint>
#include <string>
#include <vector>

// Shared memory of the module: one slot per group worker (who runs which group of which database,
// its latch, its live figures). Every function runs on a backend's main thread.
namespace duckpipe::ext {

// Asks for the shared memory and the lock (from _PG_init).
void RequestSharedState();

// What a monitoring function reads of one worker.
struct LiveWorker {
	std::string group;
	int pid = 0; // 0: starting, or waiting to be restarted after a failure
	pipeline::GroupFigures figures;
};
std::vector<LiveWorker> ReadLiveWorkers(uint32_t dboid);

// How fresh a group's lake tables are, for query routing. lag_ms: 0 when at the worker's last pass
// (at most a second ago) the lake held everything written to the WAL before the pass before it and
// no change was in flight; otherwise the time since the last moment before which everything written
// is known to be in the lake; -1 when the running worker has not caught up once yet.
struct Freshness {
	bool running = false;
	int64_t lag_ms = -1;
};
// Never throws nor raises (it runs inside the router's PgCall).
Freshness ReadFreshness(uint32_t dboid, const char *group) noexcept;

// Starts the group's worker unless one is running or starting (then wakes it). Returns whether it
// started one. Throws when no background worker slot is free.
bool StartGroupWorker(uint32_t dboid, const std::string &group);
// Asks the group's worker to stop (it exits cleanly and is not restarted). Returns whether one was
// running or starting.
bool StopGroupWorker(uint32_t dboid, const std::string &group);
// Wakes the group's worker if it runs; returns whether it does.
bool WakeGroupWorker(uint32_t dboid, const std::string &group);

// The worker's side. Attach returns its slot, or -1 when another process already runs the group.
int AttachGroupWorker(uint32_t dboid, const std::string &group);
struct WorkerRequests {
	bool stop = false;
	bool wake = false;
};
WorkerRequests TakeWorkerRequests(int slot);
void PublishFigures(int slot, const std::vector<pipeline::GroupFigures> &figures);
// At exit: release frees the slot (a clean stop); otherwise it stays reserved for the restart.
// Returns true when a start came after the stop: the slot stays reserved, register a successor.
bool DetachGroupWorker(int slot, bool release);

} // namespace duckpipe::ext
