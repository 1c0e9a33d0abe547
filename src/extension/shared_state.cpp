// One slot per group worker in shared memory, under one LWLock. A slot is claimed by whoever
// starts the worker (before registering it, so two starters never register two workers), taken
// over by the worker when it attaches, and kept while the worker waits to be restarted after a
// failure; a clean stop frees it.
#include "extension/shared_state.hpp"

#include "core/common/error.hpp"
#include "extension/group_worker.hpp"

#include <algorithm>
#include <cstring>

#include "extension/pg_includes.hpp"

extern "C" {
#include "access/xlog.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"
}

namespace duckpipe::ext {

namespace {

constexpr int kMaxWorkers = 64;
constexpr int kMaxTables = 256;
// A slot reserved by a starter whose worker never attached (registration lost) is reclaimed after.
constexpr int64_t kStaleReservationMs = 60000;
// WAL positions sampled by the worker, to tell since when the lake holds everything (see Freshness).
constexpr int kWalSamples = 64;
// Figures older than this (a worker that stopped publishing) no longer count as caught up.
constexpr int64_t kStaleFiguresMs = 3000;

struct WalSample {
	TimestampTz at;
	XLogRecPtr lsn;
};

struct LiveTable {
	int64_t mapping_id;
	int64_t queued_changes;
	int64_t buffered_rows;
	int64_t flush_count;
	int64_t last_flush_ms;
	bool flushing;
	int64_t duckdb_memory_bytes;
};

struct WorkerSlot {
	bool in_use;
	Oid dboid;
	char group[NAMEDATALEN];
	pid_t pid;
	Latch *latch;
	TimestampTz touched_at;
	bool stop_requested;
	// start_worker() after stop_worker(): the stopping worker has a successor registered at exit.
	bool restart_after_stop;
	bool wake_requested;
	int64_t queued_bytes;
	int64_t queued_changes;
	bool backpressured;
	bool catching_up;
	int active_flushes;
	int ntables;
	LiveTable tables[kMaxTables];
	// Freshness of the lake: the WAL insert position sampled at each pass of the worker's loop, the
	// last time at which the lake was known to hold everything written before it, and whether that
	// held at the last pass with nothing in flight.
	TimestampTz published_at;
	TimestampTz caught_up_at;
	bool current;
	int nsamples;
	WalSample samples[kWalSamples];
};

struct SharedState {
	LWLock *lock;
	WorkerSlot slots[kMaxWorkers];
};

SharedState *state = nullptr;
shmem_request_hook_type prev_shmem_request_hook = nullptr;
shmem_startup_hook_type prev_shmem_startup_hook = nullptr;

void RequestHook() {
	if (prev_shmem_request_hook) {
		prev_shmem_request_hook();
	}
	RequestAddinShmemSpace(sizeof(SharedState));
	RequestNamedLWLockTranche("pg_duckpipe", 1);
}

void StartupHook() {
	if (prev_shmem_startup_hook) {
		prev_shmem_startup_hook();
	}
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	bool found = false;
	state = static_cast<SharedState *>(ShmemInitStruct("pg_duckpipe", sizeof(SharedState), &found));
	if (!found) {
		std::memset(state, 0, sizeof(SharedState));
		state->lock = &(GetNamedLWLockTranche("pg_duckpipe"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

SharedState &State() {
	if (!state) {
		throw Error(ErrorKind::Internal, "pg_duckpipe's shared memory is not initialized",
		            {.hint = "add pg_duckpipe to shared_preload_libraries and restart the server"});
	}
	return *state;
}

// The lock is released by the destructor; nothing between may raise a PostgreSQL ERROR.
class SlotLock {
public:
	explicit SlotLock(LWLockMode mode) : lock_(State().lock) { LWLockAcquire(lock_, mode); }
	~SlotLock() { LWLockRelease(lock_); }
	SlotLock(const SlotLock &) = delete;
	SlotLock &operator=(const SlotLock &) = delete;

private:
	LWLock *lock_;
};

bool Stale(const WorkerSlot &slot) {
	return slot.pid == 0 &&
	       TimestampDifferenceExceeds(slot.touched_at, GetCurrentTimestamp(), static_cast<int>(kStaleReservationMs));
}

WorkerSlot *Find(uint32_t dboid, const std::string &group) {
	for (auto &slot : State().slots) {
		if (slot.in_use && slot.dboid == dboid && group == slot.group) {
			return &slot;
		}
	}
	return nullptr;
}

WorkerSlot *Claim(uint32_t dboid, const std::string &group) {
	for (auto &slot : State().slots) {
		if (!slot.in_use) {
			std::memset(&slot, 0, sizeof(WorkerSlot));
			slot.in_use = true;
			slot.dboid = dboid;
			strlcpy(slot.group, group.c_str(), NAMEDATALEN);
			slot.touched_at = GetCurrentTimestamp();
			return &slot;
		}
	}
	return nullptr;
}

// One pass of the worker: the group's confirmed position covers every sample taken at or below it.
void TrackFreshness(WorkerSlot &slot, const std::vector<pipeline::GroupFigures> &figures) {
	TimestampTz now = GetCurrentTimestamp();
	bool in_flight = false;
	XLogRecPtr confirmed = figures.empty() ? InvalidXLogRecPtr : figures.front().confirmed_lsn;
	for (const auto &group : figures) {
		confirmed = std::min<XLogRecPtr>(confirmed, group.confirmed_lsn);
		in_flight = in_flight || group.queued_changes > 0 || group.active_flushes > 0;
		for (const auto &t : group.tables) {
			in_flight = in_flight || t.buffered_rows > 0 || t.flushing;
		}
	}
	int covered = 0; // samples[0 .. covered) are at or below the confirmed position
	while (covered < slot.nsamples && slot.samples[covered].lsn <= confirmed) {
		covered++;
	}
	if (covered > 0) {
		slot.caught_up_at = std::max(slot.caught_up_at, slot.samples[covered - 1].at);
	}
	slot.current = covered > 0 && covered == slot.nsamples && !in_flight;
	// Covered samples are done with; when full, the oldest goes (a later catch-up is then only known
	// from a later sample: the lag is overestimated, never under).
	int keep = slot.nsamples - covered;
	if (keep == kWalSamples) {
		keep--;
		covered++;
	}
	std::memmove(slot.samples, slot.samples + covered, sizeof(WalSample) * keep);
	slot.nsamples = keep;
	if (confirmed != InvalidXLogRecPtr) {
		slot.samples[slot.nsamples++] = {now, GetXLogInsertRecPtr()};
	}
	slot.published_at = now;
}

void Wake(WorkerSlot &slot) {
	slot.wake_requested = true;
	if (slot.latch) {
		SetLatch(slot.latch);
	}
}

} // namespace

void RequestSharedState() {
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = RequestHook;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = StartupHook;
}

std::vector<LiveWorker> ReadLiveWorkers(uint32_t dboid) {
	std::vector<LiveWorker> out;
	SlotLock lock(LW_SHARED);
	for (const auto &slot : State().slots) {
		if (!slot.in_use || slot.dboid != dboid) {
			continue;
		}
		LiveWorker worker;
		worker.group = slot.group;
		worker.pid = slot.pid;
		worker.figures.name = slot.group;
		worker.figures.queued_bytes = slot.queued_bytes;
		worker.figures.queued_changes = slot.queued_changes;
		worker.figures.backpressured = slot.backpressured;
		worker.figures.catching_up = slot.catching_up;
		worker.figures.active_flushes = slot.active_flushes;
		for (int i = 0; i < slot.ntables; i++) {
			const auto &t = slot.tables[i];
			worker.figures.tables.push_back({t.mapping_id, t.queued_changes, t.buffered_rows, t.flush_count,
			                                 t.last_flush_ms, t.flushing, t.duckdb_memory_bytes});
		}
		out.push_back(std::move(worker));
	}
	return out;
}

bool StartGroupWorker(uint32_t dboid, const std::string &group) {
	{
		SlotLock lock(LW_EXCLUSIVE);
		if (auto *slot = Find(dboid, group)) {
			if (!Stale(*slot)) {
				if (slot->stop_requested) {
					// It may already be stopping: then it starts its successor as it exits.
					slot->stop_requested = false;
					slot->restart_after_stop = true;
				}
				Wake(*slot);
				return false;
			}
			slot->in_use = false;
		}
		if (!Claim(dboid, group)) {
			throw Error(ErrorKind::Config, "no free pg_duckpipe worker slot for group " + group,
			            {.hint = "at most 64 groups run at once per server; disable or drop groups you do not use"});
		}
	}
	// Registering may fail (no free background worker slot): the claim is undone.
	bool registered = RegisterGroupWorker(dboid, group);
	if (!registered) {
		SlotLock lock(LW_EXCLUSIVE);
		if (auto *slot = Find(dboid, group); slot && slot->pid == 0) {
			slot->in_use = false;
		}
		throw Error(ErrorKind::Config, "could not start the pg_duckpipe worker of group " + group,
		            {.hint = "no background worker slot is free: raise max_worker_processes (needs a restart)"});
	}
	return true;
}

bool StopGroupWorker(uint32_t dboid, const std::string &group) {
	SlotLock lock(LW_EXCLUSIVE);
	auto *slot = Find(dboid, group);
	if (!slot) {
		return false;
	}
	if (Stale(*slot)) {
		slot->in_use = false;
		return false;
	}
	// A worker waiting to be restarted sees the request when it starts, and exits at once.
	slot->stop_requested = true;
	slot->restart_after_stop = false;
	Wake(*slot);
	return true;
}

bool WakeGroupWorker(uint32_t dboid, const std::string &group) {
	SlotLock lock(LW_EXCLUSIVE);
	auto *slot = Find(dboid, group);
	if (!slot || Stale(*slot)) {
		return false;
	}
	Wake(*slot);
	return true;
}

int AttachGroupWorker(uint32_t dboid, const std::string &group) {
	SlotLock lock(LW_EXCLUSIVE);
	auto *slot = Find(dboid, group);
	if (slot && slot->pid != 0 && slot->pid != MyProcPid) {
		return -1;
	}
	if (!slot) {
		slot = Claim(dboid, group);
		if (!slot) {
			return -1;
		}
	}
	slot->pid = MyProcPid;
	slot->latch = MyLatch;
	slot->touched_at = GetCurrentTimestamp();
	slot->wake_requested = false;
	// A restarted worker has yet to publish: its predecessor's "current" does not hold for it (its
	// samples and caught_up_at still do: they are facts about the lake).
	slot->current = false;
	slot->published_at = 0;
	return static_cast<int>(slot - State().slots);
}

WorkerRequests TakeWorkerRequests(int index) {
	SlotLock lock(LW_EXCLUSIVE);
	auto &slot = State().slots[index];
	WorkerRequests requests{slot.stop_requested, slot.wake_requested};
	slot.wake_requested = false;
	return requests;
}

void PublishFigures(int index, const std::vector<pipeline::GroupFigures> &figures) {
	SlotLock lock(LW_EXCLUSIVE);
	auto &slot = State().slots[index];
	slot.queued_bytes = 0;
	slot.queued_changes = 0;
	slot.backpressured = false;
	slot.catching_up = false;
	slot.active_flushes = 0;
	slot.ntables = 0;
	for (const auto &group : figures) {
		slot.queued_bytes += group.queued_bytes;
		slot.queued_changes += group.queued_changes;
		slot.backpressured = slot.backpressured || group.backpressured;
		slot.catching_up = slot.catching_up || group.catching_up;
		slot.active_flushes += group.active_flushes;
		for (const auto &t : group.tables) {
			if (slot.ntables == kMaxTables) {
				break;
			}
			slot.tables[slot.ntables++] = {t.mapping_id,    t.queued_changes, t.buffered_rows,      t.flush_count,
			                               t.last_flush_ms, t.flushing,       t.duckdb_memory_bytes};
		}
	}
	TrackFreshness(slot, figures);
}

Freshness ReadFreshness(uint32_t dboid, const char *group) noexcept {
	Freshness out;
	if (!state) {
		return out;
	}
	LWLockAcquire(state->lock, LW_SHARED);
	const WorkerSlot *slot = nullptr;
	for (const auto &s : state->slots) {
		if (s.in_use && s.dboid == dboid && strcmp(s.group, group) == 0) {
			slot = &s;
		}
	}
	struct Release {
		~Release() { LWLockRelease(state->lock); }
	} release;
	if (!slot || slot->pid == 0 || slot->published_at == 0) {
		return out;
	}
	out.running = true;
	TimestampTz now = GetCurrentTimestamp();
	auto ms = [&](TimestampTz since) { return std::max<int64_t>(0, (now - since) / 1000); };
	if (slot->caught_up_at == 0) {
		out.lag_ms = -1;
	} else if (slot->current && ms(slot->published_at) <= kStaleFiguresMs) {
		out.lag_ms = 0;
	} else {
		out.lag_ms = ms(slot->caught_up_at);
	}
	return out;
}

bool DetachGroupWorker(int index, bool release) {
	SlotLock lock(LW_EXCLUSIVE);
	auto &slot = State().slots[index];
	if (slot.pid != MyProcPid) {
		return false;
	}
	bool successor = release && slot.restart_after_stop;
	slot.restart_after_stop = false;
	slot.pid = 0;
	slot.latch = nullptr;
	slot.touched_at = GetCurrentTimestamp();
	slot.ntables = 0;
	slot.queued_bytes = slot.queued_changes = 0;
	slot.backpressured = false;
	slot.catching_up = false;
	slot.active_flushes = 0;
	if (release && !successor) {
		slot.in_use = false;
	}
	return successor;
}

} // namespace duckpipe::ext
