#pragma once

#include "core/meta/metadata_types.hpp"
#include "core/pipeline/catch_up_detector.hpp"
#include "core/pipeline/compaction_scheduler.hpp"
#include "core/pipeline/flush_worker.hpp"
#include "core/pipeline/pipeline_config.hpp"
#include "core/pipeline/pipeline_figures.hpp"
#include "core/pipeline/queue_budget.hpp"
#include "core/pipeline/slot_consumer.hpp"
#include "core/pipeline/wake_signal.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
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

// One sync group at run time: its publication and slot, one SlotConsumer thread, one FlushWorker
// per table and the snapshot copies. A control thread reconciles with the metadata (tables added,
// removed, resynced, retried) within a second of a change, persists state transitions and
// runtime figures, and restarts the consumer after a connection loss. One table failing, being
// copied or removed never stops the others.
class SyncGroup {
public:
	// `owner` (optional) is notified when the group has started its control loop or stopped.
	SyncGroup(const PipelineConfig &config, meta::SyncGroup group, lake::LakeWriter &writer,
	          WakeSignal *owner = nullptr);
	~SyncGroup();
	SyncGroup(const SyncGroup &) = delete;
	SyncGroup &operator=(const SyncGroup &) = delete;

	void Start();
	// Stops reading WAL, lets the workers flush what ends at a transaction boundary (finish) or
	// drops it, confirms the final position to the server and joins every thread.
	void Stop(bool finish = true);
	// Metadata or configuration changed: reconcile now.
	void Wake();

	const std::string &Name() const { return group_.name; }
	bool Stopped() const { return stopped_.load(); }
	// The control loop has made its first pass (tables started), or failed it and is retrying.
	bool Started() const { return started_.load(); }
	// The live figures as the control loop last refreshed them (any thread).
	GroupFigures Figures() const;

private:
	struct TableEntry {
		// The table's settings (resolved over its group's and global_config); `config.live` is what
		// its worker reads, replaced when a setting changes. Declared first: the worker refers to it.
		PipelineConfig config;
		meta::ConfigMap table_config; // the table layer config was last resolved with
		// Read and written by the control thread only (a rename rewrites the names): other threads
		// get their own copy when they start.
		meta::TableMapping mapping;
		std::shared_ptr<TableRoute> route;
		std::unique_ptr<FlushWorker> worker;
		std::thread snapshot;
		std::atomic<bool> snapshot_running{false};
		std::atomic<bool> cancel{false};
		// Copied again after the slot was lost, in append mode: keep the changelog (ops 'R').
		bool keep_history = false;
		int64_t rows_synced = 0;
		bool retry_recorded = false; // a transient flush error is shown in the metadata
		// Compaction figures already added to the metadata's counts (ReportRuntime adds the rest).
		int64_t reported_compactions = 0;
		int64_t reported_files_merged = 0;
		// CATCHUP ends once every transaction the stream had delivered when the copy landed is flushed.
		Lsn catchup_until;
		// The source table was found dropped when the WAL was at this position; the table fails once
		// the slot has confirmed past it, so the changes committed before the DROP reach the lake.
		Lsn dropped_at;
		std::chrono::steady_clock::time_point dropped_seen;
	};
	struct Event {
		enum class Kind { SnapshotLsn, CopyDone, Flushed, Failed, Retrying } kind;
		int64_t mapping_id;
		int generation;
		Lsn lsn;
		int64_t rows = 0; // Retrying: failures in a row
		int64_t lake_table_id = 0;
		std::string message;
		int64_t duration_ms = 0; // CopyDone: how long the copy took; Retrying: delay before the retry
	};

	// What the control loop last reported, to report only what moved.
	struct RuntimeReport {
		std::chrono::steady_clock::time_point last;
		int64_t peak = 0;
		uint64_t confirmed = 0;
	};

	void ControlLoop();
	void RunControlPasses(PgConnection &meta, meta::MetadataStore &store, PgConnection &source);
	void StartConsumer();
	void ReportProgress(PgConnection &meta, meta::MetadataStore &store, RuntimeReport &report);
	void ShutDown(meta::MetadataStore *store, PgConnection *meta, PgConnection *source);
	void ConsumerLoop();
	void ResetAfterStreamLoss();
	// Checks wal_level, creates the publication and the slot when missing (EnsureSlot).
	void Prepare(meta::MetadataStore &store, PgConnection &source);
	enum class SlotProblem { Missing, Invalidated };
	std::optional<SlotProblem> FindSlotProblem(PgConnection &source);
	// Slot names are per cluster: the group's slot name, when another database's slot has it.
	void ClaimSlotName(meta::MetadataStore &store, PgConnection &source);
	// Creates the slot when missing, or drops and recreates it when invalidated. A slot lost while
	// tables were synced means the changes since its position are gone: every table is copied again
	// (once; append-mode ones keep their changelog), said in the log and in the group's notice.
	void EnsureSlot(meta::MetadataStore &store, PgConnection &source);
	// The group's current failure, for `status` (best effort: the metadata may be what failed).
	void RecordGroupError(meta::MetadataStore *store, PgConnection *meta, const std::string &message);
	// Persists the stream's failure for `status`, and clears it once a stream has run for a while.
	void RecordStreamError(meta::MetadataStore &store);
	void Reconcile(meta::MetadataStore &store, PgConnection &source);
	void StartTable(const meta::TableMapping &mapping, PgConnection &source);
	// Adds the table to the group's publication; false (the table failed) when PostgreSQL refuses.
	bool JoinPublication(const meta::TableMapping &mapping, const TableSchema &schema, PgConnection &source);
	void StopTable(int64_t mapping_id, bool leave_publication, PgConnection *source);
	void RunSnapshot(TableEntry *entry, const meta::TableMapping &mapping, const TableSchema &schema);
	void HandleEvents(meta::MetadataStore &store, PgConnection &source);
	void ReportRuntime(PgConnection &meta);
	// Looks the running tables up by OID in the source catalog (one query): renamed ones get their
	// new name in the metadata, dropped ones fail once their last changes are in the lake.
	void CheckSourceTables(meta::MetadataStore &store, PgConnection &source);
	void RefreshSourceNames(meta::MetadataStore &store,
	                        const std::map<uint32_t, std::pair<std::string, std::string>> &names);
	void CheckDroppedTables(const std::set<uint32_t> &gone, Lsn now_lsn);
	void Post(Event event);
	// The table cannot start (unsupported, dropped, not publishable): it fails alone, with `message`.
	void FailAtStart(const meta::TableMapping &mapping, const std::string &message);
	// The table's applied LSN and, when recorded, the source layout its lake table mirrors.
	Lsn LoadAppliedLsn(const meta::TableMapping &mapping, std::optional<SourceLayout> *layout = nullptr);
	TableSchema LakeTableSchema(const TableSchema &described, int64_t lake_table_id, const SourceLayout &layout);
	std::string SourceConninfo() const;
	// The control thread's lake catalog connection, opened once and reopened only when broken.
	PgConnection &CatalogConnection();
	void MarkStarted();
	// True when the process's settings were reloaded since the last look (settings are resolved again).
	bool ApplyLiveConfig();
	// Resolves the stored settings (global_config, the group's and each table's config) over the
	// process's and hands what changed to the queue budget and the running tables' workers.
	void RefreshSettings(meta::MetadataStore &store, const meta::SyncGroup &group,
	                     const std::vector<meta::TableMapping> &mappings);
	// The settings a table starts with, from the layers last resolved.
	PipelineConfig TableSettings(const meta::ConfigMap &table_config) const;
	// The one-runner rule: takes the group's lock (meta::GroupLock) on `meta`, or waits for it (logged
	// once, recorded as the group's error) until it is free. False when stopped while waiting, or
	// when the lock this group held was lost (another process runs the group now).
	bool WaitForRunnerLock(PgConnection &meta, meta::MetadataStore &store);
	// Control thread: copies the tables' live figures for Figures().
	void RefreshFigures();
	// Control thread, after each look at the server's WAL end: whether the stream is catching up a
	// backlog (flush threads step back when background_flush = 2).
	void UpdateCatchUp();

	const PipelineConfig &config_;
	meta::SyncGroup group_;
	lake::LakeWriter &writer_;
	QueueBudget budget_;

	std::thread control_;
	std::thread consumer_thread_;
	std::atomic<bool> stop_{false};
	std::atomic<bool> stop_consumer_{false};
	std::atomic<bool> stopped_{false};
	std::atomic<bool> finish_{true};
	std::atomic<bool> wake_{false};
	std::atomic<bool> started_{false};
	WakeSignal signal_; // wakes the control loop: Wake(), Stop(), events posted by other threads
	WakeSignal *owner_ = nullptr;
	std::unique_ptr<PgConnection> catalog_; // control thread only
	uint64_t config_version_ = 0;           // control thread only
	// The layers the settings were last resolved with (control thread only).
	bool settings_resolved_ = false;
	meta::ConfigMap global_config_;
	meta::ConfigMap group_config_;
	bool held_lock_ = false;   // this group has held its runner lock (control thread only)
	int lock_backend_pid_ = 0; // the server process of the session that held it

	// Guards consumer_ (replaced on restart) and the registries the consumer thread reads.
	std::mutex consumer_mutex_;
	std::unique_ptr<SlotConsumer> consumer_;
	std::map<uint32_t, std::shared_ptr<TableRoute>> routes_;
	std::map<int64_t, FlushWorker *> workers_;
	// Set when the stream failed on the slot: the control loop looks at the slot now, not in 5 s.
	std::atomic<bool> check_slot_{false};
	// The stream's last failure (publication dropped, connection refused, ...), shown in `status`
	// until the stream runs again; the control thread persists it.
	std::mutex stream_error_mutex_;
	std::optional<std::string> stream_error_;
	std::optional<std::string> recorded_stream_error_; // control thread only
	std::atomic<int64_t> stream_started_ms_{0};        // steady clock, when the current stream began
	std::atomic<uint64_t> confirmed_{0};
	std::atomic<bool> stream_in_progress_{true}; // the group's resolved setting, for the next stream

	std::map<int64_t, std::unique_ptr<TableEntry>> tables_; // control thread only
	// The server's WAL end and the slot's confirmed position, as CheckSourceTables last read them
	// (control thread only; the end is cleared once judged).
	Lsn server_wal_end_;
	Lsn slot_confirmed_;
	CatchUpDetector catch_up_;      // control thread only
	CompactionScheduler compactor_; // told the streaming tables by RefreshFigures
	mutable std::mutex figures_mutex_;
	GroupFigures figures_;
	std::mutex events_mutex_;
	std::vector<Event> events_;
	std::atomic<int> snapshots_running_{0};
};

} // namespace duckpipe::pipeline
