#pragma once

#include "core/pipeline/pipeline_config.hpp"
#include "daemon/global_options.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace duckpipe::daemon {

// `duckpipe run`: the long-running service. SIGTERM/SIGINT stop reading WAL, finish in-flight
// flushes that end at a transaction boundary, send the final confirmed LSN and exit 0. SIGHUP
// reloads the settings from the flags and environment (Pipeline::Reload). --ready-file is written
// once every group's control loop has started (tests and service managers wait for it).
class RunCommand {
public:
	RunCommand(CLI::App &app, const GlobalOptions &global);

	bool Selected() const;
	int Run() const;

private:
	pipeline::PipelineConfig BuildConfig() const;

	const GlobalOptions &global_;
	CLI::App *sub_ = nullptr;
	std::vector<std::string> groups_;
	int64_t flush_interval_ms_ = meta::defaults::kFlushIntervalMs;
	int64_t flush_batch_threshold_ = meta::defaults::kFlushBatchThreshold;
	int64_t max_queued_bytes_ = meta::defaults::kMaxQueuedBytes;
	int max_parallel_snapshots_ = meta::defaults::kMaxParallelSnapshots;
	std::string ready_file_;
	int64_t shutdown_timeout_ms_ = meta::defaults::kShutdownTimeoutMs;
};

} // namespace duckpipe::daemon
