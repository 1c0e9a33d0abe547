#pragma once

#include "core/meta/metadata_types.hpp"
#include "core/meta/setting_defaults.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace duckpipe::pipeline {

class LiveConfig;

// Everything a running pipeline needs, filled by the daemon from flags/environment and by the
// extension from GUCs. Defaults are the documented ones.
struct PipelineConfig {
	std::string source_conninfo;       // metadata + default source
	std::string lake_catalog_conninfo; // empty: the source database
	std::string lake_schema = "ducklake";
	std::string data_path;           // absolute, ends in '/'
	std::string temp_dir;            // DuckDB buffers spill here
	int64_t temp_dir_max_mb = 0;     // DuckDB's max_temp_directory_size per instance; 0 = the free disk space
	std::vector<std::string> groups; // empty: every enabled group (of this mode)
	// The kind of process this is: it runs only groups of its mode (the daemon's, or the extension
	// worker's), each under the group's runner lock (meta::GroupLock).
	meta::GroupMode mode = meta::GroupMode::Daemon;
	// How often a group whose runner lock is held elsewhere tries again.
	int64_t lock_retry_ms = 1000;

	// Reloadable (Pipeline::Reload): read through Live() where they are used. The first three and the
	// duckdb_* ones are also the process layer of the stored settings (meta::ConfigRegistry): a group
	// and a table run with them resolved over global_config and their own config (ResolveSettings).
	int64_t flush_interval_ms = meta::defaults::kFlushIntervalMs;
	int64_t flush_batch_threshold = meta::defaults::kFlushBatchThreshold; // buffered rows that trigger a flush
	int64_t max_queued_bytes = meta::defaults::kMaxQueuedBytes; // per group; the slot consumer stops reading above it
	int max_retry_backoff_s = 300;

	int64_t duckdb_buffer_memory_mb = meta::defaults::kDuckdbBufferMemoryMb;
	int64_t duckdb_flush_memory_mb = meta::defaults::kDuckdbFlushMemoryMb;
	int duckdb_threads = static_cast<int>(meta::defaults::kDuckdbThreads);
	// Background compaction of the tables' small lake files (CompactionScheduler).
	int64_t auto_compact = meta::defaults::kAutoCompact;
	int64_t compact_min_files = meta::defaults::kCompactMinFiles;
	int64_t compact_target_file_size_mb = meta::defaults::kCompactTargetFileSizeMb;
	int64_t compact_interval_ms = meta::defaults::kCompactIntervalMs;
	// Flush threads at background CPU priority (BackgroundThread): 1 always, 2 while the group
	// catches up a backlog of at least background_flush_backlog_mb of WAL (CatchUpDetector).
	int64_t background_flush = meta::defaults::kBackgroundFlush;
	int64_t background_flush_backlog_mb = meta::defaults::kBackgroundFlushBacklogMb;
	int max_parallel_snapshots = meta::defaults::kMaxParallelSnapshots;
	int64_t status_interval_ms = 10000; // standby status updates to the server
	int proto_version = 1;
	// 1: pgoutput protocol 2 with streaming of in-progress transactions (SlotConsumer keeps them
	// until they commit); 0: protocol `proto_version` without it.
	int64_t stream_in_progress = meta::defaults::kStreamInProgress;
	// Metadata is re-read on a notification or a Wake() at once; this is the fallback period (table
	// retries, state transitions that depend on time).
	int64_t reconcile_interval_ms = 1000;
	// How long a stop may take. A group waits up to a quarter of it for a transaction in flight to be
	// received whole (so it is flushed rather than replayed); the daemon gives up after all of it.
	int64_t shutdown_timeout_ms = meta::defaults::kShutdownTimeoutMs;

	// Set by Pipeline: where Reload() publishes new settings. Components keep the config they were
	// built with and read the reloadable settings through Live().
	std::shared_ptr<LiveConfig> live;

	std::string LakeCatalogConninfo() const {
		return lake_catalog_conninfo.empty() ? source_conninfo : lake_catalog_conninfo;
	}
	// The settings in force now (the last reload's, or these): one snapshot per flush or loop
	// iteration, so no setting changes under a reader's feet.
	std::shared_ptr<const PipelineConfig> Live() const;
};

// The settings in force, replaced whole on reload (copy-on-reload).
class LiveConfig {
public:
	explicit LiveConfig(const PipelineConfig &initial) { Set(initial); }

	std::shared_ptr<const PipelineConfig> Get() const {
		std::lock_guard guard(mutex_);
		return current_;
	}
	void Set(const PipelineConfig &config) {
		auto copy = std::make_shared<PipelineConfig>(config);
		copy->live.reset(); // no cycle: the snapshot does not point back at its holder
		std::lock_guard guard(mutex_);
		current_ = std::move(copy);
		version_.fetch_add(1);
	}
	// Bumped by every Set(): a reader refreshes its snapshot only when it moved.
	uint64_t Version() const { return version_.load(); }

private:
	mutable std::mutex mutex_;
	std::shared_ptr<const PipelineConfig> current_;
	std::atomic<uint64_t> version_{0};
};

inline std::shared_ptr<const PipelineConfig> PipelineConfig::Live() const {
	if (live) {
		return live->Get();
	}
	auto copy = std::make_shared<PipelineConfig>(*this);
	return copy;
}

} // namespace duckpipe::pipeline
