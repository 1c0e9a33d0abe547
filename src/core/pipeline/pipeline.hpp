#pragma once

#include "core/pipeline/pipeline_config.hpp"
#include "core/pipeline/pipeline_figures.hpp"
#include "core/pipeline/wake_signal.hpp"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace duckpipe {
class PgConnection;
}
namespace duckpipe::lake {
class LakeWriter;
}
namespace duckpipe::meta {
class MetadataStore;
}

namespace duckpipe::pipeline {

class SyncGroup;

// Everything one process runs: the lake writer shared by all tables and one SyncGroup per enabled
// group (all of them, or the ones named in the config). Groups created, enabled, disabled or
// dropped by other processes are picked up on their notification. Driven from outside (the
// daemon's main thread, or a PostgreSQL background worker): Run() on one thread, RequestStop(),
// Wake() and Reload() from any other.
class Pipeline {
public:
	explicit Pipeline(PipelineConfig config);
	~Pipeline();
	Pipeline(const Pipeline &) = delete;
	Pipeline &operator=(const Pipeline &) = delete;

	// Blocks until RequestStop(), then stops every group cleanly (final flushes at transaction
	// boundaries, final confirmed LSN). Throws Error for what prevents starting at all (unreachable
	// source, lake refused); a group that fails later is retried on its own.
	void Run();
	// Makes Run() return: at once if it waits, after the groups' final flushes otherwise (each
	// group waits at most a few seconds for a transaction in flight). Async-signal-safe.
	void RequestStop();
	bool StopRequested() const { return stop_.load(); }
	// Metadata changed (a group or table added, resynced...): reconcile now rather than at the next
	// periodic check. Async-signal-safe.
	void Wake();
	// New settings (copy-on-reload). The reloadable ones (flush interval, batch threshold, queue
	// budget, retry backoff) apply from each table's next flush; a change of any other is logged as
	// needing a restart. Not for signal handlers (allocates, locks).
	void Reload(const PipelineConfig &config);
	// The running groups' live figures (any thread).
	std::vector<GroupFigures> Figures() const;
	// Called once on Run()'s thread when every group has started its control loop (the daemon
	// writes its ready file there). Set before Run().
	void OnReady(std::function<void()> callback) { on_ready_ = std::move(callback); }

private:
	void Start();
	void SyncGroups(PgConnection &conn);
	bool AllStarted() const;
	// Refuses to run a group named in the config that another kind of process runs (its mode).
	void RequireOwnMode(meta::MetadataStore &store) const;
	// A lake catalog of its own migrated to keyed progress: its rows are this source's.
	void AdoptLegacyProgress(PgConnection &catalog);

	PipelineConfig config_; // as started; reloaded settings live in live_
	std::shared_ptr<LiveConfig> live_;
	std::unique_ptr<lake::LakeWriter> writer_;
	// Written by Run()'s thread only, under groups_mutex_ so that Figures() may read it.
	mutable std::mutex groups_mutex_;
	std::map<std::string, std::unique_ptr<SyncGroup>> groups_;
	std::function<void()> on_ready_;
	std::atomic<bool> stop_{false};
	std::atomic<bool> wake_{false};
	WakeSignal signal_;
};

} // namespace duckpipe::pipeline
