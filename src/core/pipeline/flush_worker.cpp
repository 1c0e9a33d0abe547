#include "core/pipeline/flush_worker.hpp"

#include "core/common/backoff.hpp"
#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/common/thread.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/pg/pg_connection.hpp"
#include "core/pipeline/flush_slots.hpp"
#include "core/pipeline/row_match_apply.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace duckpipe::pipeline {

namespace {

// A table's batches stay as they came until they pass this size or are flushed: a table receiving
// small changes then holds no DuckDB instance between flushes (scenario 4 of the bench: 100 tables).
constexpr int64_t kDeferBytes = 256 << 10;

} // namespace

static flush::ChangeBufferOptions BufferOptions(const PipelineConfig &config, const meta::TableMapping &mapping,
                                                const TableSchema &schema, const lake::LakeWriter &writer) {
	flush::ChangeBufferOptions o;
	o.lake_directories = {writer.DataPath()};
	o.temp_dir = config.temp_dir;
	o.temp_max_mb = config.temp_dir_max_mb;
	o.buffer_memory_mb = config.duckdb_buffer_memory_mb;
	o.flush_memory_mb = config.duckdb_flush_memory_mb;
	o.threads = config.duckdb_threads;
	o.defer_bytes = kDeferBytes;
	// A table without a key keeps every change too: rows are matched by value (RowMatchApply).
	o.append_mode = mapping.sync_mode == meta::SyncMode::Append || RowMatchApply::Applies(schema);
	return o;
}

FlushWorker::FlushWorker(std::shared_ptr<TableRoute> route, meta::TableMapping mapping, TableSchema schema,
                         std::string source_conninfo, const PipelineConfig &config, lake::LakeWriter &writer,
                         FlushWorkerEvents events)
    : route_(std::move(route)), mapping_(std::move(mapping)), schema_(std::move(schema)), lake_schema_(schema_),
      source_conninfo_(std::move(source_conninfo)), config_(config), writer_(writer), events_(std::move(events)),
      buffer_(mapping_.SourceName(), schema_.buffer_columns, BufferOptions(config, mapping_, schema_, writer)),
      // An exception escaping a pass fails this table alone, with its message.
      runner_("dp-flush-" + std::to_string(mapping_.id),
              {.step = [this] { return Step(); }, .finish = [this] { Finish(); }},
              [this](const std::string &message) { Fail("flush worker stopped: " + message); }) {
	RefreshSettings();
}

FlushWorker::~FlushWorker() {
	Stop(false);
}

void FlushWorker::Start(bool catching_up) {
	log::Debug("worker.started", "table", mapping_.SourceName());
	runner_.Start(WantsBackground(catching_up));
}

void FlushWorker::Stop(bool finish) {
	finish_on_stop_.store(finish);
	stop_.store(true);
	route_->queue.Close();
	runner_.Join();
}

void FlushWorker::CopyDone(int64_t lake_table_id) {
	lake_table_id_.store(lake_table_id);
	// Transactions committed before the snapshot LSN reached the stream while the copy was set up;
	// they are in the copy, now durable, so they must not hold the slot back.
	uint64_t snapshot = route_->snapshot_lsn.load();
	if (snapshot > 1) {
		route_->pending.Flushed(Lsn(snapshot - 1));
	}
	copy_done_.store(true);
}

void FlushWorker::Reset() {
	std::unique_lock lock(reset_mutex_);
	if (runner_.Started() && !exited_) {
		reset_requested_.store(true);
		// A worker stopping meanwhile (shutdown during a stream loss) never comes back to the request:
		// it says so on its way out, and the reset is done here. A loop between two threads (leaving
		// background priority) is resumed here: its supervisor, the group's control thread, may be
		// waiting for the lock our caller holds.
		while (!reset_done_.wait_for(lock, std::chrono::milliseconds(20),
		                             [this] { return !reset_requested_.load() || exited_; })) {
			lock.unlock();
			runner_.Resume();
			lock.lock();
		}
		if (!reset_requested_.load()) {
			return;
		}
	}
	// No worker thread runs (never started, or gone): nothing touches the state concurrently.
	DropEverything();
	reset_requested_.store(false);
}

std::optional<std::chrono::steady_clock::time_point> FlushWorker::OldestPendingSince() const {
	std::lock_guard guard(stats_mutex_);
	return oldest_pending_;
}

void FlushWorker::DropEverything() {
	buffer_.Clear();
	ClearStaged();
	appends_since_flush_ = 0;
	batch_first_lsn_ = Lsn();
	batch_first_time_us_ = 0;
	if (!pending_lake_changes_.empty()) {
		// The stream restarts from what the lake holds, so does the schema.
		schema_ = lake_schema_;
		pending_lake_changes_.clear();
		buffer_.Reconfigure(schema_.buffer_columns);
		route_->SetKeyColumns(schema_.key_columns);
	}
	DropHeld();
	route_->queue.Discard();
	at_boundary_ = true;
	truncate_pending_ = false;
	first_row_at_.reset();
	commit_times_.clear();
	buffered_rows_.store(0);
	duckdb_memory_bytes_.store(0);
	std::lock_guard guard(stats_mutex_);
	oldest_pending_.reset();
}

bool FlushWorker::Step() {
	if (reset_requested_.load()) {
		DropEverything();
		std::lock_guard lock(reset_mutex_);
		reset_requested_.store(false);
		reset_done_.notify_all();
	}
	if (stop_.load()) {
		return false;
	}
	RefreshSettings();
	ReleaseHeld();
	if (unresolved_commit_) {
		// The buffer must stay the batch of that commit until its outcome is known.
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
	} else {
		// Rows that will be held stay in the budget from queue to hold: released in between, the
		// consumer could read a batch more past the limit before they counted again.
		bool hold = route_->snapshot_lsn.load() == 0;
		// With rows staged, what is queued already is taken without a wait; once the queue is empty,
		// the wait ends when their flush is due.
		int64_t wait_ms = staged_.empty() ? 100 : queue_drained_ ? StagedWaitMs(Clock::now()) : 0;
		// What is queued already is taken at once: a nap or a wait only ever meets an empty queue (a
		// backlog taken with a nap per item crawled at a few hundred rows a second).
		auto item = wait_ms > 0 ? route_->queue.Pop(0, hold) : std::optional<QueueItem>{};
		if (!item) {
			bool napped = false;
			if (wait_ms > 0) {
				// Small transactions in quick succession (an OLTP source) are taken a few at a time:
				// a wake-up each cost the source's backends more CPU than anything else here.
				if (auto nap = wake_.NapBeforeWait(); nap > WakeBatcher::Duration::zero()) {
					std::this_thread::sleep_for(nap);
					wait_ms = 0;
					napped = true;
				}
			}
			// Only a blocking wait is timed.
			auto popped = wait_ms > 0 ? Clock::now() : Clock::time_point{};
			item = route_->queue.Pop(wait_ms, hold);
			if (napped) {
				wake_.Napped(item.has_value());
			} else if (wait_ms > 0) {
				wake_.Woke(item.has_value(), std::chrono::duration_cast<WakeBatcher::Duration>(Clock::now() - popped));
			}
		}
		queue_drained_ = !item.has_value();
		if (item) {
			if (failed_.load()) {
				if (hold) {
					route_->queue.Budget().Release(item->bytes);
				}
			} else if (hold) {
				Hold(std::move(*item));
			} else if (!InCopy(*item)) {
				Process(std::move(*item));
			}
		}
		// With the budget full the consumer waits for a batch's worth of room: the stage goes once it
		// holds that much, or once the queue is empty. Appended per item while a backlog fills the
		// budget, it made a DuckDB statement per source transaction.
		const auto &budget = route_->queue.Budget();
		if (!staged_.empty() &&
		    (staged_rows_ >= kStageRows || staged_bytes_ >= kStageBytes || (!item && staged_rows_ >= kIdleStageRows) ||
		     ((!item || staged_bytes_ >= budget.BatchBytes()) && budget.Full()))) {
			AppendStaged();
		}
	}
	if (!failed_.load() && ShouldFlush(Clock::now())) {
		Flush();
	}
	return true;
}

void FlushWorker::Finish() {
	bool finishing = finish_on_stop_.load() && !failed_.load() && copy_done_.load();
	if (finishing) {
		TakeQueuedTransactions();
	}
	if (finishing && !failed_.load() && at_boundary_ &&
	    (buffer_.BufferedRows() > 0 || !staged_.empty() || truncate_pending_ || !pending_lake_changes_.empty())) {
		try {
			Flush();
		} catch (const std::exception &e) {
			log::Warn("worker.final_flush_failed", "table", mapping_.SourceName(), "error", e.what());
		}
	}
	buffer_.Clear();
	ClearStaged();
	DropHeld();
	catalog_.reset();
	{
		std::lock_guard lock(reset_mutex_);
		exited_ = true;
	}
	reset_done_.notify_all();
	log::Debug("worker.stopped", "table", mapping_.SourceName());
}

void FlushWorker::TakeQueuedTransactions() {
	// A copy's rows still held, or a commit whose outcome is unknown: the order must hold, the next
	// run replays the rest.
	if (!held_.empty() || unresolved_commit_) {
		return;
	}
	for (auto &item : route_->queue.PopWholeTransactions()) {
		if (failed_.load()) {
			return;
		}
		if (InCopy(item)) {
			continue;
		}
		auto relation = item.kind == QueueItem::Kind::Schema ? item.relation : nullptr;
		Process(std::move(item));
		if (relation && !SchemaChange::Matches(schema_, *relation)) {
			return; // its lookup gave up for the stop: what follows must not be read with the old columns
		}
	}
}

void FlushWorker::RefreshSettings() {
	if (settings_ && config_.live && config_.live->Version() == settings_version_) {
		return;
	}
	if (settings_ && !config_.live) {
		return;
	}
	settings_version_ = config_.live ? config_.live->Version() : 0;
	settings_ = config_.Live();
	// Per-table DuckDB resources: the buffer takes them when it next opens (after each flush) or
	// flushes.
	buffer_.SetResources(settings_->duckdb_buffer_memory_mb, settings_->duckdb_flush_memory_mb,
	                     settings_->duckdb_threads);
	// The control thread applies it at its next pass (Supervise), with what only it knows: whether
	// the group is catching up.
	background_mode_.store(settings_->background_flush);
}

bool FlushWorker::InCopy(const QueueItem &item) const {
	// Transactions committed before the snapshot LSN are in the copy. The consumer skips them once
	// the LSN is known; the rows it routed before (held, queued, or the rest of a transaction it was
	// receiving then) are dropped here.
	return item.kind != QueueItem::Kind::Fail && item.commit_lsn.value < route_->snapshot_lsn.load();
}

void FlushWorker::Hold(QueueItem item) {
	// Still counted in the budget (popped with keep_in_budget) while it is held, so a copy waiting
	// for its slot makes the consumer stop reading instead of growing memory.
	held_bytes_ += item.bytes;
	held_.push_back(std::move(item));
}

void FlushWorker::DropHeld() {
	held_.clear();
	if (held_bytes_ > 0) {
		route_->queue.Budget().Release(held_bytes_);
	}
	held_bytes_ = 0;
}

void FlushWorker::ReleaseHeld() {
	if (held_.empty() || route_->snapshot_lsn.load() == 0) {
		return;
	}
	log::Info("table.held_released", "table", mapping_.SourceName(), "items", held_.size(), "bytes", held_bytes_,
	          "budget_bytes", route_->queue.Budget().Limit());
	// A stop or reset that interrupted a schema lookup ends the release: the rows after it must not
	// be read with the old columns.
	while (!held_.empty() && !failed_.load() && !stop_.load() && !reset_requested_.load()) {
		auto item = std::move(held_.front());
		held_.pop_front();
		held_bytes_ -= item.bytes;
		route_->queue.Budget().Release(item.bytes);
		if (!InCopy(item)) {
			Process(std::move(item));
		}
	}
}

void FlushWorker::Process(QueueItem item) {
	switch (item.kind) {
	case QueueItem::Kind::Rows:
		if (item.batch && item.batch->Rows() > 0) {
			// Staged: the batches queued back to back (a run of small transactions) go to the buffer
			// as one append (AppendStaged), before anything that needs them there.
			// They count against the group's budget again until appended (memory stays bounded).
			staged_rows_ += item.batch->Rows();
			staged_bytes_ += item.bytes;
			route_->queue.Budget().Add(item.bytes);
			staged_.push_back(std::move(item.batch));
			at_boundary_ = false;
			if (!first_row_at_) {
				first_row_at_ = Clock::now();
				std::lock_guard guard(stats_mutex_);
				if (!oldest_pending_) {
					oldest_pending_ = first_row_at_;
				}
			}
		}
		break;
	case QueueItem::Kind::Commit:
		at_boundary_ = true;
		// Status shows staged rows as buffered once their transaction is whole here.
		buffered_rows_.store(buffer_.BufferedRows() + staged_rows_);
		last_commit_lsn_ = item.commit_lsn;
		last_commit_time_us_ = item.commit_time_us;
		if (!batch_first_lsn_.IsValid()) {
			batch_first_lsn_ = item.commit_lsn;
			batch_first_time_us_ = item.commit_time_us;
		}
		if (mapping_.sync_mode == meta::SyncMode::Append) {
			commit_times_.emplace_back(item.commit_lsn, item.commit_time_us);
		}
		if (!first_row_at_ && (truncate_pending_ || !pending_lake_changes_.empty())) {
			first_row_at_ = Clock::now();
		}
		break;
	case QueueItem::Kind::Truncate:
		// Whatever was buffered is erased by the truncate; the lake table is emptied by the next
		// flush, in the same snapshot as the rows that follow it.
		ClearStaged();
		buffer_.Clear();
		buffered_rows_.store(0);
		duckdb_memory_bytes_.store(0);
		truncate_pending_ = true;
		at_boundary_ = false;
		break;
	case QueueItem::Kind::Fail:
		Fail(item.message);
		break;
	case QueueItem::Kind::Schema:
		// The rows before the change have the old columns.
		if (item.relation && AppendStaged()) {
			ChangeSchema(*item.relation);
		}
		break;
	}
}

int64_t FlushWorker::StagedWaitMs(Clock::time_point now) const {
	// A flush that waits for the queue (the rest of a transaction, the copy) comes with an item.
	if (!copy_done_.load() || !at_boundary_ || !first_row_at_) {
		return 100;
	}
	auto due = std::max(*first_row_at_ + std::chrono::milliseconds(settings_->flush_interval_ms), retry_after_);
	auto ms = std::chrono::ceil<std::chrono::milliseconds>(due - now).count();
	return std::clamp<int64_t>(ms, 0, 100);
}

void FlushWorker::ClearStaged() {
	staged_.clear();
	if (staged_bytes_ > 0) {
		route_->queue.Budget().Release(staged_bytes_);
	}
	staged_rows_ = 0;
	staged_bytes_ = 0;
}

bool FlushWorker::AppendStaged() {
	if (staged_.empty()) {
		return true;
	}
	std::vector<const flush::ChangeBatch *> batches;
	for (const auto &b : staged_) {
		batches.push_back(b.get());
	}
	bool ok = AppendRetrying(batches);
	// Not appended: the table failed or the worker stops or resets, and the rows go with the rest.
	ClearStaged();
	if (!ok) {
		return false;
	}
	appends_since_flush_++;
	buffered_rows_.store(buffer_.BufferedRows());
	if (Clock::now() - memory_sampled_at_ >= std::chrono::milliseconds(250)) {
		memory_sampled_at_ = Clock::now();
		duckdb_memory_bytes_.store(buffer_.MemoryBytes());
	}
	return true;
}

bool FlushWorker::AppendRetrying(std::span<const flush::ChangeBatch *const> batches) {
	Backoff backoff(std::chrono::seconds(1), std::chrono::seconds(settings_->max_retry_backoff_s));
	for (;;) {
		try {
			buffer_.Append(batches);
			return true;
		} catch (const Error &e) {
			if (e.Kind() != ErrorKind::Io) {
				Fail(e.what());
				return false;
			}
			// No room to spill (a full temp directory): the batch is not in the buffer; keep it and try
			// again, holding the stream back, until there is room. The slot keeps everything not flushed.
			if (stop_.load() || reset_requested_.load()) {
				return false;
			}
			auto delay = backoff.Failed();
			log::Warn("flush.buffer_retry", "table", mapping_.SourceName(), "error", e.what(), "retry_in_ms",
			          delay.count());
			auto until = Clock::now() + delay;
			while (Clock::now() < until && !stop_.load() && !reset_requested_.load()) {
				std::this_thread::sleep_for(std::chrono::milliseconds(50));
			}
		}
	}
}

void FlushWorker::ChangeSchema(const cdc::RelationInfo &relation) {
	if (SchemaChange::Matches(schema_, relation)) {
		return;
	}
	Backoff backoff(std::chrono::milliseconds(200), std::chrono::seconds(5));
	for (;;) {
		try {
			PgConnection source(source_conninfo_, {.application_name = "pg_duckpipe schema"});
			ApplySchemaChange(SchemaChange::Plan(source, schema_, relation));
			return;
		} catch (const Error &e) {
			if (!e.Retryable()) {
				Fail(e.what());
				return;
			}
			// An outage is no reason to copy the table again: a stream reset (the outage took the
			// stream too) drops the buffer and the stream replays the change; a stop keeps the slot
			// where it was. Either way nothing after the change is applied with the old columns.
			if (stop_.load() || reset_requested_.load()) {
				return;
			}
			// The source is unreachable for now; the rows after the change must wait for it.
			log::Warn("table.schema_lookup_retry", "table", mapping_.SourceName(), "error", e.what());
			std::this_thread::sleep_for(backoff.Failed());
		}
	}
}

void FlushWorker::ApplySchemaChange(SchemaChange change) {
	try {
		if (!change.Empty()) {
			buffer_.Evolve(change.schema.buffer_columns, change.buffer);
			pending_lake_changes_.insert(pending_lake_changes_.end(), change.lake.begin(), change.lake.end());
			log::Info("table.schema_changed", "table", mapping_.SourceName(), "changes", change.summary);
		}
		schema_ = std::move(change.schema);
		route_->SetKeyColumns(schema_.key_columns);
		if (!first_row_at_ && !pending_lake_changes_.empty()) {
			first_row_at_ = Clock::now();
		}
	} catch (const Error &e) {
		Fail(e.what());
	}
}

void FlushWorker::Fail(const std::string &message) {
	if (failed_.exchange(true)) {
		return;
	}
	log::Error("table.failed", "table", mapping_.SourceName(), "error", message);
	// The table stops holding the slot back: its recovery is a fresh copy (automatic retry with
	// backoff, or resync-table), so nothing it skipped is needed again.
	route_->active.store(false);
	route_->pending.Clear();
	DropEverything();
	if (events_.failed) {
		events_.failed(message);
	}
}

} // namespace duckpipe::pipeline
