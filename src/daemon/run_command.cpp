#include "daemon/run_command.hpp"

#include "core/common/log.hpp"
#include "core/pipeline/pipeline.hpp"

#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>

namespace duckpipe::daemon {

namespace {
std::atomic<bool> g_stop{false};

extern "C" void HandleStopSignal(int) {
	g_stop.store(true);
}
} // namespace

RunCommand::RunCommand(CLI::App &app, const GlobalOptions &global) : global_(global) {
	sub_ = app.add_subcommand("run", "Run the pipeline: snapshot, catch-up and streaming of every synced table");
	sub_->add_option("--group", groups_, "Sync group to run (repeatable; default: every enabled group)")
	    ->envname("DUCKPIPE_GROUP");
	sub_->add_option("--flush-interval", flush_interval_ms_, "Milliseconds between flushes of a table")
	    ->envname("DUCKPIPE_FLUSH_INTERVAL")
	    ->check(CLI::PositiveNumber)
	    ->capture_default_str();
	sub_->add_option("--flush-batch-threshold", flush_batch_threshold_, "Buffered rows that trigger a flush")
	    ->envname("DUCKPIPE_FLUSH_BATCH_THRESHOLD")
	    ->check(CLI::PositiveNumber)
	    ->capture_default_str();
	sub_->add_option("--max-queued-bytes", max_queued_bytes_,
	                 "Bytes queued per group before reading WAL pauses (backpressure)")
	    ->envname("DUCKPIPE_MAX_QUEUED_BYTES")
	    ->check(CLI::PositiveNumber)
	    ->capture_default_str();
	sub_->add_option("--max-parallel-snapshots", max_parallel_snapshots_, "Initial copies running at once per group")
	    ->envname("DUCKPIPE_MAX_PARALLEL_SNAPSHOTS")
	    ->check(CLI::PositiveNumber)
	    ->capture_default_str();
}

bool RunCommand::Selected() const {
	return sub_->parsed();
}

int RunCommand::Run() const {
	pipeline::PipelineConfig config;
	config.source_conninfo = global_.SourceConninfo();
	config.lake_catalog_conninfo = global_.lake_catalog;
	config.lake_schema = global_.lake_schema;
	config.data_path = global_.data_path;
	config.temp_dir = global_.temp_dir;
	config.temp_dir_max_mb = global_.temp_dir_max_mb;
	config.groups = groups_;
	config.flush_interval_ms = flush_interval_ms_;
	config.flush_batch_threshold = flush_batch_threshold_;
	config.max_queued_bytes = max_queued_bytes_;
	config.duckdb_buffer_memory_mb = global_.duckdb_buffer_memory_mb;
	config.duckdb_flush_memory_mb = global_.duckdb_flush_memory_mb;
	config.duckdb_threads = global_.duckdb_threads;
	config.max_parallel_snapshots = max_parallel_snapshots_;

	struct sigaction sa {};
	sa.sa_handler = HandleStopSignal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, nullptr);
	sigaction(SIGINT, &sa, nullptr);
	signal(SIGPIPE, SIG_IGN);

	pipeline::Pipeline pipeline(config);
	pipeline.Run(g_stop);
	return 0;
}

} // namespace duckpipe::daemon
