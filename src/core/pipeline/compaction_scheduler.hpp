#pragma once

#include "core/pipeline/pipeline_config.hpp"
#include "core/pipeline/table_route.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace duckpipe {
class PgConnection;
}
namespace duckpipe::lake {
class LakeWriter;
}

namespace duckpipe::pipeline {

// A streaming table the scheduler may compact.
struct CompactionTarget {
	int64_t mapping_id = 0;
	int64_t lake_table_id = 0;
	std::string name; // the lake table's, for logs
	std::shared_ptr<TableRoute> route;
	std::shared_ptr<LiveConfig> settings; // the table's resolved settings (auto_compact, compact_*)
};

// Background compaction of one sync group's lake tables, on its own thread (off the flush path). Once
// a second it counts each table's small files (below compact_target_file_size_mb): at
// compact_min_files it merges files of like size (tiered: the write cost stays logarithmic as the
// table grows), and every compact_interval_ms it merges every small file into one. A compaction
// commits while holding the table's TableRoute::lake_mutex, so it never interleaves with the
// table's flush; it reads and writes unlocked unless a flush's deletes beat it once (then the table
// is compacted under the lock from start to end). Failures are logged and tried again later; they
// never touch the table's state.
class CompactionScheduler {
public:
	CompactionScheduler(std::string group, const PipelineConfig &config, lake::LakeWriter &writer);
	~CompactionScheduler();
	CompactionScheduler(const CompactionScheduler &) = delete;
	CompactionScheduler &operator=(const CompactionScheduler &) = delete;

	void Start();
	// Waits for a compaction in progress to end.
	void Stop();
	// The tables that may be compacted now (the group's control thread, a few times a second).
	void SetTargets(std::vector<CompactionTarget> targets);

private:
	using Clock = std::chrono::steady_clock;
	struct TableState {
		Clock::time_point last_full;          // the last merge of every small file (or when first seen)
		Clock::time_point retry_after;        // after a failure
		bool lock_whole = false;              // a flush's deletes made a compaction conflict once
		Clock::time_point last_inlined_flush; // rows inlined into the catalog last moved to Parquet
	};
	struct FileCounts {
		int64_t files = 0;
		int64_t small = 0;
	};

	void Run();
	void Pass();
	std::map<int64_t, FileCounts> CountFiles(const std::vector<CompactionTarget> &targets,
	                                         const std::vector<int64_t> &target_bytes);
	void Compact(const CompactionTarget &target, const PipelineConfig &settings, bool full, const FileCounts &counts,
	             TableState &state);
	void FlushInlined(const CompactionTarget &target, TableState &state);
	PgConnection &Catalog();

	std::string group_;
	const PipelineConfig &config_;
	lake::LakeWriter &writer_;
	std::thread thread_;
	std::mutex mutex_;
	std::condition_variable wake_;
	bool stop_ = false;                     // guarded by mutex_
	std::vector<CompactionTarget> targets_; // guarded by mutex_
	// Scheduler thread only.
	std::map<int64_t, TableState> states_;
	std::unique_ptr<PgConnection> catalog_;
};

} // namespace duckpipe::pipeline
