#include "core/pipeline/compaction_scheduler.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/common/thread.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/lake/write/inlined_data_flusher.hpp"
#include "core/lake/write/inlined_data_writer.hpp"
#include "core/lake/write/lake_compactor.hpp"
#include "core/pg/pg_connection.hpp"

namespace duckpipe::pipeline {

namespace {

// How often the tables' files are counted.
constexpr auto kCheckInterval = std::chrono::milliseconds(1000);
// How long a table waits after a compaction failed for another reason than a concurrent commit.
constexpr auto kFailureDelay = std::chrono::seconds(60);
// Rows inlined into the catalog (data inlining) that are moved to a Parquet file at once; fewer
// are moved every compact_interval_ms.
constexpr int64_t kInlinedFlushRows = 1000;

} // namespace

CompactionScheduler::CompactionScheduler(std::string group, const PipelineConfig &config, lake::LakeWriter &writer)
    : group_(std::move(group)), config_(config), writer_(writer) {}

CompactionScheduler::~CompactionScheduler() {
	Stop();
}

void CompactionScheduler::Start() {
	if (thread_.joinable()) {
		return;
	}
	// A failure escaping a pass ends background compaction of the group only, loudly.
	thread_ = StartThread("dp-compact", [this] { Run(); });
}

void CompactionScheduler::Stop() {
	{
		std::lock_guard guard(mutex_);
		stop_ = true;
	}
	wake_.notify_all();
	if (thread_.joinable()) {
		thread_.join();
	}
}

void CompactionScheduler::SetTargets(std::vector<CompactionTarget> targets) {
	std::lock_guard guard(mutex_);
	targets_ = std::move(targets);
}

void CompactionScheduler::Run() {
	std::unique_lock lock(mutex_);
	while (!stop_) {
		wake_.wait_for(lock, kCheckInterval, [this] { return stop_; });
		if (stop_) {
			break;
		}
		lock.unlock();
		try {
			Pass();
		} catch (const std::exception &e) {
			catalog_.reset();
			log::Warn("compaction.check_failed", "group", group_, "error", e.what());
		}
		lock.lock();
	}
}

PgConnection &CompactionScheduler::Catalog() {
	if (!catalog_ || !catalog_->IsHealthy()) {
		catalog_.reset();
		catalog_ = std::make_unique<PgConnection>(writer_.Config().catalog_conninfo,
		                                          PgConnection::Options{.application_name = "pg_duckpipe compaction"});
	}
	return *catalog_;
}

std::map<int64_t, CompactionScheduler::FileCounts>
CompactionScheduler::CountFiles(const std::vector<CompactionTarget> &targets,
                                const std::vector<int64_t> &target_bytes) {
	std::string ids = "{", sizes = "{";
	for (size_t i = 0; i < targets.size(); i++) {
		ids += (i ? "," : "") + std::to_string(targets[i].lake_table_id);
		sizes += (i ? "," : "") + std::to_string(target_bytes[i]);
	}
	ids += "}";
	sizes += "}";
	auto &conn = Catalog();
	auto r = conn.Exec("SELECT t.id, count(f.data_file_id), count(f.data_file_id) FILTER (WHERE f.file_size_bytes < "
	                   "t.target) FROM unnest($1::bigint[], $2::bigint[]) AS t(id, target) LEFT JOIN " +
	                       conn.QuoteIdent(writer_.Config().catalog_schema) +
	                       ".ducklake_data_file f ON f.table_id = t.id AND f.end_snapshot IS NULL GROUP BY t.id",
	                   {ids, sizes});
	std::map<int64_t, FileCounts> out;
	for (int i = 0; i < r.Rows(); i++) {
		out[r.GetInt(i, 0)] = {.files = r.GetInt(i, 1), .small = r.GetInt(i, 2)};
	}
	return out;
}

void CompactionScheduler::Pass() {
	std::vector<CompactionTarget> targets;
	{
		std::lock_guard guard(mutex_);
		targets = targets_;
	}
	std::vector<CompactionTarget> enabled;
	std::vector<std::shared_ptr<const PipelineConfig>> settings;
	std::vector<int64_t> target_bytes;
	for (auto &t : targets) {
		auto s = t.settings ? t.settings->Get() : config_.Live();
		if (s->auto_compact == 0 || t.lake_table_id <= 0) {
			continue;
		}
		target_bytes.push_back(s->compact_target_file_size_mb << 20);
		settings.push_back(std::move(s));
		enabled.push_back(std::move(t));
	}
	// Tables no longer here start afresh if they come back.
	std::map<int64_t, TableState> kept;
	for (const auto &t : enabled) {
		auto it = states_.find(t.mapping_id);
		kept[t.mapping_id] = it != states_.end()
		                         ? it->second
		                         : TableState{.last_full = Clock::now(), .last_inlined_flush = Clock::now()};
	}
	states_ = std::move(kept);
	if (enabled.empty()) {
		catalog_.reset();
		return;
	}
	auto counts = CountFiles(enabled, target_bytes);
	std::vector<int64_t> table_ids;
	for (const auto &t : enabled) {
		table_ids.push_back(t.lake_table_id);
	}
	auto inlined = lake::InlinedDataWriter::LiveRowCounts(Catalog(), writer_.Config().catalog_schema, table_ids);
	for (size_t i = 0; i < enabled.size(); i++) {
		{
			std::lock_guard guard(mutex_);
			if (stop_) {
				return;
			}
		}
		const auto &t = enabled[i];
		const auto &s = *settings[i];
		auto &state = states_[t.mapping_id];
		auto now = Clock::now();
		auto c = counts[t.lake_table_id];
		t.route->data_files.store(c.files);
		if (now < state.retry_after) {
			continue;
		}
		auto rows = inlined[t.lake_table_id];
		if (rows >= kInlinedFlushRows ||
		    (rows > 0 && now - state.last_inlined_flush >= std::chrono::milliseconds(s.compact_interval_ms))) {
			FlushInlined(t, state);
		}
		bool full = c.small >= 2 && now - state.last_full >= std::chrono::milliseconds(s.compact_interval_ms);
		if (full || c.small >= s.compact_min_files) {
			Compact(t, s, full, c, state);
		}
	}
}

// Moves the table's inlined rows into one Parquet file, between its flushes (which may delete them).
void CompactionScheduler::FlushInlined(const CompactionTarget &target, TableState &state) {
	state.last_inlined_flush = Clock::now();
	try {
		std::lock_guard lake_lock(target.route->lake_mutex);
		auto result = lake::FlushInlinedData(writer_, target.lake_table_id);
		log::Info("table.inlined_rows_flushed", "table", target.name, "rows", result.rows, "snapshot",
		          result.snapshot_id.value_or(0));
	} catch (const Error &e) {
		if (e.Kind() != ErrorKind::Conflict) {
			state.retry_after = Clock::now() + kFailureDelay;
		}
		log::Warn("table.inlined_flush_failed", "table", target.name, "error", e.what());
	}
}

void CompactionScheduler::Compact(const CompactionTarget &target, const PipelineConfig &settings, bool full,
                                  const FileCounts &counts, TableState &state) {
	auto started = Clock::now();
	lake::CompactionOptions options;
	options.target_file_size_bytes = settings.compact_target_file_size_mb << 20;
	options.min_files_to_merge = 2;
	options.duck_memory_limit = std::to_string(settings.duckdb_flush_memory_mb) + "MB";
	options.tiered = !full;
	options.merge_small_with_deletes = true;
	std::unique_lock lake_lock(target.route->lake_mutex, std::defer_lock);
	try {
		if (state.lock_whole) {
			lake_lock.lock();
		}
		// The DuckDB instance that reads and writes the files lives as long as the compaction.
		lake::TableCompaction compaction(writer_, target.lake_table_id, options);
		if (!compaction.Prepare()) {
			if (full) {
				state.last_full = started; // nothing to merge is as good as merged
			}
			return;
		}
		if (!lake_lock.owns_lock()) {
			lake_lock.lock();
		}
		auto result = compaction.Commit();
		lake_lock.unlock();
		if (full) {
			state.last_full = started;
		}
		auto files_after = counts.files - result.files_merged - result.files_rewritten + result.files_written;
		target.route->compaction_files_merged.fetch_add(result.files_merged + result.files_rewritten);
		target.route->last_compaction_unix_us.store(
		    std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
		        .count());
		target.route->data_files.store(files_after);
		target.route->compactions.fetch_add(1);
		auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
		log::Info("table.compacted", "table", target.name, "mode", full ? "full" : "tiered", "files_before",
		          counts.files, "files_after", files_after, "rows", result.rows_written, "snapshot",
		          result.snapshot_id.value_or(0), "ms", ms);
	} catch (const Error &e) {
		if (e.Kind() == ErrorKind::Conflict) {
			// A flush deleted from the files being merged: from now on the table's flushes wait for
			// its compactions rather than beat them again.
			state.lock_whole = true;
			log::Info("table.compaction_conflict", "table", target.name, "error", e.what());
			return;
		}
		state.retry_after = Clock::now() + kFailureDelay;
		log::Warn("table.compaction_failed", "table", target.name, "error", e.what(), "retry_in_ms",
		          std::chrono::duration_cast<std::chrono::milliseconds>(kFailureDelay).count());
	}
}

} // namespace duckpipe::pipeline
