#include "daemon/run_command.hpp"

#include "core/common/log.hpp"
#include "core/pipeline/pipeline.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <pthread.h>
#include <thread>
#include <unistd.h>

namespace duckpipe::daemon {

namespace {

// Ends the signal thread once Run() returned (SIGUSR2 is not used otherwise).
constexpr int kQuitSignal = SIGUSR2;

void WriteReadyFile(const std::string &path) {
	// Written whole then renamed, so a reader never sees a partial file.
	std::string tmp = path + ".tmp";
	{
		std::ofstream out(tmp, std::ios::trunc);
		out << getpid() << "\n";
	}
	std::error_code ec;
	std::filesystem::rename(tmp, path, ec);
	if (ec) {
		log::Error("pipeline.ready_file_failed", "path", path, "error", ec.message());
	}
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
	sub_->add_option("--ready-file", ready_file_,
	                 "File written (with the process id) once every group's control loop has started; removed "
	                 "on exit")
	    ->envname("DUCKPIPE_READY_FILE");
	sub_->add_option("--shutdown-timeout", shutdown_timeout_ms_,
	                 "Milliseconds a stop (SIGTERM) may take; past it the process exits with code 1 (nothing is "
	                 "lost: what was not confirmed is replayed)")
	    ->envname("DUCKPIPE_SHUTDOWN_TIMEOUT")
	    ->check(CLI::PositiveNumber)
	    ->capture_default_str();
}

bool RunCommand::Selected() const {
	return sub_->parsed();
}

pipeline::PipelineConfig RunCommand::BuildConfig() const {
	pipeline::PipelineConfig config;
	config.source_conninfo = global_.SourceConninfo();
	config.lake_catalog_conninfo = global_.lake_catalog;
	config.lake_schema = global_.lake_schema;
	config.data_path = global_.data_path;
	config.temp_dir = global_.temp_dir;
	config.temp_dir_max_mb = global_.temp_dir_max_mb;
	config.groups = groups_;
	config.mode = meta::GroupMode::Daemon; // groups of mode bgworker are the extension worker's
	config.flush_interval_ms = flush_interval_ms_;
	config.flush_batch_threshold = flush_batch_threshold_;
	config.max_queued_bytes = max_queued_bytes_;
	config.duckdb_buffer_memory_mb = global_.duckdb_buffer_memory_mb;
	config.duckdb_flush_memory_mb = global_.duckdb_flush_memory_mb;
	config.duckdb_threads = global_.duckdb_threads;
	config.max_parallel_snapshots = max_parallel_snapshots_;
	config.shutdown_timeout_ms = shutdown_timeout_ms_;
	return config;
}

int RunCommand::Run() const {
	// Blocked before any thread exists, so every thread inherits the mask and the signals reach
	// only the signal thread below, which turns them into Pipeline calls (no work in a handler).
	sigset_t signals;
	sigemptyset(&signals);
	for (int sig : {SIGTERM, SIGINT, SIGHUP, kQuitSignal}) {
		sigaddset(&signals, sig);
	}
	pthread_sigmask(SIG_BLOCK, &signals, nullptr);
	signal(SIGPIPE, SIG_IGN);

	if (!ready_file_.empty()) {
		std::error_code ec;
		std::filesystem::remove(ready_file_, ec);
	}
	pipeline::Pipeline pipeline(BuildConfig());
	if (!ready_file_.empty()) {
		pipeline.OnReady([this] { WriteReadyFile(ready_file_); });
	}
	std::thread signal_thread([&] {
		std::optional<std::chrono::steady_clock::time_point> give_up;
		while (true) {
			int sig = 0;
			if (give_up) {
				// Stopping: a stop that hangs must not keep the process (and its slot) forever.
				auto left = std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
				                                     *give_up - std::chrono::steady_clock::now())
				                                     .count());
				timespec ts{.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000};
				sig = sigtimedwait(&signals, nullptr, &ts);
				if (sig < 0 && errno == EAGAIN) {
					log::Error("pipeline.shutdown_timeout", "timeout_ms", shutdown_timeout_ms_);
					if (!ready_file_.empty()) {
						std::error_code ec;
						std::filesystem::remove(ready_file_, ec);
					}
					std::fflush(nullptr);
					_exit(1);
				}
				if (sig < 0) {
					continue;
				}
			} else if (sigwait(&signals, &sig) != 0) {
				continue;
			}
			if (sig == kQuitSignal) {
				return;
			}
			if (sig == SIGHUP) {
				try {
					pipeline.Reload(BuildConfig());
				} catch (const std::exception &e) {
					log::Error("pipeline.reload_failed", "error", e.what());
				}
				continue;
			}
			log::Info("pipeline.signal", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
			pipeline.RequestStop();
			if (!give_up) {
				give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(shutdown_timeout_ms_);
			}
		}
	});
	struct Joiner {
		std::thread &thread;
		const std::string &ready_file;
		~Joiner() {
			pthread_kill(thread.native_handle(), kQuitSignal);
			thread.join();
			if (!ready_file.empty()) {
				std::error_code ec;
				std::filesystem::remove(ready_file, ec);
			}
		}
	} joiner{signal_thread, ready_file_};
	pipeline.Run();
	return 0;
}

} // namespace duckpipe::daemon
