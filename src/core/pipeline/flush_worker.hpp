#pragma once

#include "core/common/background_thread.hpp"
#include "core/common/wake_batcher.hpp"
#include "core/flush/change_buffer.hpp"
#include "core/meta/metadata_types.hpp"
#include "core/pipeline/pipeline_config.hpp"
#include "core/pipeline/pipeline_figures.hpp"
#include "core/pipeline/schema_change.hpp"
#include "core/pipeline/table_route.hpp"
#include "core/pipeline/table_schema.hpp"

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace duckpipe {
class PgConnection;
}
namespace duckpipe::lake {
class LakeWriter;
}

namespace duckpipe::pipeline {

// What a worker tells its group (called on the worker's thread).
struct FlushWorkerEvents {
	std::function<void(Lsn applied, int64_t rows)> flushed;
	std::function<void(const std::string &message)> failed; // permanent: the table goes ERRORED
	// transient: the flush is retried in place after retry_in_ms (failures: how many in a row)
	std::function<void(const std::string &message, int failures, int64_t retry_in_ms)> retrying;
};

// One thread per table: drains the table's queue into its ChangeBuffer and applies the buffer to
// the lake. Flushes happen when the flush interval elapsed or the batch threshold is reached, and
// only at a source transaction boundary. Each flush is one DuckLake snapshot that also records the
// table's applied LSN. Transient failures (connection, conflict, full disk) keep the buffer and
// retry with backoff; anything else stops the table alone.
class FlushWorker {
public:
	// `schema` is what the lake table holds (or the copy will create); `source_conninfo` reaches the
	// source's catalog when DDL has to be interpreted.
	FlushWorker(std::shared_ptr<TableRoute> route, meta::TableMapping mapping, TableSchema schema,
	            std::string source_conninfo, const PipelineConfig &config, lake::LakeWriter &writer,
	            FlushWorkerEvents events);
	~FlushWorker();
	FlushWorker(const FlushWorker &) = delete;
	FlushWorker &operator=(const FlushWorker &) = delete;

	// `catching_up`: the group's stream trails the server by a backlog (CatchUpDetector).
	void Start(bool catching_up);
	// From the group's control thread a few times a second: puts the worker's thread at the priority
	// the setting background_flush asks for now (a priority the worker already has otherwise), and
	// moves a background one starved of CPU to normal priority.
	void Supervise(bool catching_up) {
		runner_.SetBackground(WantsBackground(catching_up));
		runner_.Supervise();
	}
	bool BackgroundPriority() const { return runner_.Background(); }
	// Stops the thread. With `finish`, a buffer that ends at a transaction boundary is flushed
	// first; otherwise it is dropped (the slot has not confirmed it, so nothing is lost).
	void Stop(bool finish);

	// The copy is in the lake (table id known): flushing may start. The first flush after it
	// always deletes by key.
	void CopyDone(int64_t lake_table_id);
	// Drops buffered and held rows (the group's stream restarts and sends them again). Blocks until
	// the worker thread has done it, or does it itself once that thread has left its loop.
	void Reset();

	const meta::TableMapping &Mapping() const { return mapping_; }
	const std::shared_ptr<TableRoute> &Route() const { return route_; }
	uint64_t BufferedRows() const { return buffered_rows_.load(); }
	bool Failed() const { return failed_.load(); }
	// The lake table's id once the copy is in the lake (0 before).
	int64_t LakeTableId() const { return copy_done_.load() ? lake_table_id_.load() : 0; }
	// Live figures for monitoring (any thread): flushes done, the last one's duration, one running.
	int64_t FlushCount() const { return flush_count_.load(); }
	int64_t LastFlushMs() const { return last_flush_ms_.load(); }
	FlushPhases LastFlushPhases() const;
	bool Flushing() const { return flushing_.load(); }
	// Memory of the table's DuckDB (change buffer, flush), sampled after appends (a few times a
	// second at most) and during each flush; 0 while the buffer is closed.
	int64_t DuckdbMemoryBytes() const { return duckdb_memory_bytes_.load(); }
	// When the oldest change not yet in the lake arrived (steady clock), if any.
	std::optional<std::chrono::steady_clock::time_point> OldestPendingSince() const;

private:
	using Clock = std::chrono::steady_clock;

	// One pass of the worker's loop (false once stopping), and what is done after the last one.
	bool Step();
	void Finish();
	// The consumer stops at a transaction boundary before the workers do, so what it routed here is
	// queued whole: the final flush takes it. Left to the next run's replay, a worker behind its
	// queue ended a clean stop with committed transactions missing from the lake.
	void TakeQueuedTransactions();
	void Process(QueueItem item);
	// Source DDL: evolves the buffer now and stages the lake steps for the next flush.
	void ChangeSchema(const cdc::RelationInfo &relation);
	// Appends batches to the buffer; a full temp directory is waited out (retried with backoff) rather
	// than failing the table. False when the table failed or the worker is stopping.
	bool AppendRetrying(std::span<const flush::ChangeBatch *const> batches);
	// Appends the staged batches (as one); false as AppendRetrying. They are gone either way.
	bool AppendStaged();
	void ClearStaged();
	// How long Step may block for the next item while rows are staged: until their flush is due.
	int64_t StagedWaitMs(Clock::time_point now) const;
	void ApplySchemaChange(SchemaChange change);
	// Rows that arrive before the snapshot LSN is known wait in held_; their bytes stay counted
	// against the group's budget until they are processed or dropped.
	void Hold(QueueItem item);
	void ReleaseHeld();
	void DropHeld();
	bool InCopy(const QueueItem &item) const;
	void RefreshSettings();
	bool ShouldFlush(Clock::time_point now) const;
	void Flush();
	bool ResolveUnknownCommit(Lsn up_to);
	void Apply(DuckConnection *duck, const flush::ChangeBuffer::Compacted *compacted, Lsn up_to);
	std::string AppendSelect(DuckConnection &duck, const std::string &relation);
	void FillUnchangedFromLake(DuckConnection &duck, const flush::ChangeBuffer::Compacted &compacted);
	void Fail(const std::string &message);
	void DropEverything();

	std::shared_ptr<TableRoute> route_;
	meta::TableMapping mapping_;
	TableSchema schema_;                                 // of the buffered rows and the rows to come
	TableSchema lake_schema_;                            // of the lake table as last committed
	std::vector<LakeColumnChange> pending_lake_changes_; // lake_schema_ -> schema_, for the next flush
	std::string source_conninfo_;
	const PipelineConfig &config_;
	lake::LakeWriter &writer_;
	FlushWorkerEvents events_;
	flush::ChangeBuffer buffer_;
	std::optional<std::string> unresolved_commit_; // token of a commit whose outcome is unknown
	Lsn unresolved_up_to_;                         // the batch it carried

	std::atomic<bool> stop_{false};
	std::atomic<bool> finish_on_stop_{false};
	std::atomic<bool> copy_done_{false};
	std::atomic<int64_t> lake_table_id_{0};
	std::atomic<bool> reset_requested_{false};
	std::mutex reset_mutex_;
	std::condition_variable reset_done_;
	bool exited_ = false; // the thread left its loop (guarded by reset_mutex_)
	std::atomic<bool> failed_{false};
	std::atomic<uint64_t> buffered_rows_{0};
	std::atomic<int64_t> flush_count_{0};
	std::atomic<int64_t> last_flush_ms_{0};
	std::atomic<bool> flushing_{false};
	std::atomic<int64_t> duckdb_memory_bytes_{0};

	// Worker-thread state.
	// Batches taken from the queue and not yet in the buffer: appended together once the stage holds
	// kStageRows rows or kStageBytes bytes, or a batch's worth of the group's queue budget while that
	// is full (the consumer waits for that much room), or before a flush or schema change; and while
	// the queue is empty once it holds kIdleStageRows (or anything, with the budget full), so that
	// little is left to append when the flush is due. Each append is a DuckDB statement: under an OLTP
	// source (one small transaction after another) appending whenever the queue ran dry cost more CPU
	// than the rest of the worker, taken from the source's backends.
	static constexpr uint64_t kIdleStageRows = 2048;
	static constexpr uint64_t kStageRows = 16384;
	static constexpr int64_t kStageBytes = 8 << 20;
	std::vector<std::unique_ptr<flush::ChangeBatch>> staged_;
	bool queue_drained_ = true;       // the last Pop found the queue empty
	int64_t appends_since_flush_ = 0; // DuckDB appends of staged batches (the flush line's `appends`)
	uint64_t staged_rows_ = 0;
	int64_t staged_bytes_ = 0;   // counted against the group's budget while staged
	std::deque<QueueItem> held_; // rows that arrived before the snapshot LSN was known
	int64_t held_bytes_ = 0;
	// The reloadable settings of this flush (PipelineConfig::Live), refreshed between items.
	std::shared_ptr<const PipelineConfig> settings_;
	uint64_t settings_version_ = 0;
	std::unique_ptr<PgConnection> catalog_; // kept for the worker's catalog reads
	bool at_boundary_ = true;
	std::chrono::steady_clock::time_point memory_sampled_at_{}; // last DuckdbMemoryBytes sample
	bool truncate_pending_ = false;
	bool delete_always_ = true; // first flush after the copy
	Lsn last_commit_lsn_;
	int64_t last_commit_time_us_ = 0;
	// The first transaction buffered since the last flush (commit LSN, Unix us): recorded with the
	// flush's lake commit (CommitProvenance).
	Lsn batch_first_lsn_;
	int64_t batch_first_time_us_ = 0;
	// Commit times of the transactions buffered since the last flush (append mode records them).
	std::vector<std::pair<Lsn, int64_t>> commit_times_;
	std::optional<Clock::time_point> first_row_at_;
	Clock::time_point retry_after_{};
	int transient_failures_ = 0;
	// 5 ms: at most 200 wake-ups a second per busy table, and a lag a flush interval hardly notices.
	WakeBatcher wake_{std::chrono::milliseconds(5), std::chrono::milliseconds(5)};
	mutable std::mutex stats_mutex_;
	std::optional<Clock::time_point> oldest_pending_;
	FlushPhases last_phases_;  // guarded by stats_mutex_
	FlushPhases flush_phases_; // of the flush running (worker thread)
	bool WantsBackground(bool catching_up) const {
		auto mode = background_mode_.load();
		return mode == 1 || (mode == 2 && catching_up);
	}
	// The setting background_flush as the worker last resolved it (read by the control thread).
	std::atomic<int64_t> background_mode_{0};
	// Declared last: its thread runs Step() on everything above, and is joined first.
	BackgroundThread runner_;
};

} // namespace duckpipe::pipeline
