// The GUCs, in one place. The globals' initializers are the boot values; units are declared so
// that '5s' and '16MB' work and pg_settings shows them.
#include "extension/settings.hpp"

#include <climits>

#include "core/meta/setting_defaults.hpp"

#include "extension/pg_includes.hpp"

extern "C" {
#include "postmaster/postmaster.h"
#include "utils/guc.h"
}

namespace duckpipe::ext {

namespace {

namespace defaults = meta::defaults;

bool enabled = true;
int poll_interval_ms = 1000;
int flush_interval_ms = defaults::kFlushIntervalMs;
int flush_batch_threshold = defaults::kFlushBatchThreshold;
int max_queued_bytes = defaults::kMaxQueuedBytes;
int duckdb_buffer_memory_mb = defaults::kDuckdbBufferMemoryMb;
int duckdb_flush_memory_mb = defaults::kDuckdbFlushMemoryMb;
int duckdb_threads = defaults::kDuckdbThreads;
char *data_path = nullptr;
char *lake_catalog = nullptr;
char *conninfo = nullptr;
bool debug_log = false;

std::string Text(const char *value) {
	return value ? std::string(value) : std::string();
}

} // namespace

void DefineSettings() {
	DefineCustomBoolVariable("duckpipe.enabled", "Runs the pg_duckpipe background workers.",
	                         "Off: workers stop and none is started; the metadata and slots stay.", &enabled, true,
	                         PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("duckpipe.poll_interval",
	                        "Longest sleep of a worker's main loop between checks of its settings and live figures.",
	                        "Changes made through the duckpipe.* functions wake the worker at once.", &poll_interval_ms,
	                        1000, 100, 3600000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("duckpipe.flush_interval", "Time between flushes of a table's changes into the lake.",
	                        nullptr, &flush_interval_ms, defaults::kFlushIntervalMs, 1, INT_MAX, PGC_SIGHUP,
	                        GUC_UNIT_MS, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("duckpipe.flush_batch_threshold", "Buffered rows of a table that trigger a flush.", nullptr,
	                        &flush_batch_threshold, defaults::kFlushBatchThreshold, 1, INT_MAX, PGC_SIGHUP, 0, nullptr,
	                        nullptr, nullptr);
	DefineCustomIntVariable("duckpipe.max_queued_bytes",
	                        "Memory a group's queued changes may use before reading WAL pauses (backpressure).",
	                        nullptr, &max_queued_bytes, defaults::kMaxQueuedBytes, 1024 * 1024, INT_MAX, PGC_SIGHUP,
	                        GUC_UNIT_BYTE, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("duckpipe.duckdb_buffer_memory_mb",
	                        "Memory limit of each table's embedded DuckDB change buffer (spills to disk above it).",
	                        nullptr, &duckdb_buffer_memory_mb, defaults::kDuckdbBufferMemoryMb, 1, INT_MAX, PGC_SIGHUP,
	                        GUC_UNIT_MB, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("duckpipe.duckdb_flush_memory_mb",
	                        "Memory limit of the embedded DuckDB while flushing to the lake.", nullptr,
	                        &duckdb_flush_memory_mb, defaults::kDuckdbFlushMemoryMb, 1, INT_MAX, PGC_SIGHUP,
	                        GUC_UNIT_MB, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("duckpipe.duckdb_threads", "Threads of each embedded DuckDB.", nullptr, &duckdb_threads,
	                        defaults::kDuckdbThreads, 1, 1024, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
	DefineCustomStringVariable(
	    "duckpipe.data_path", "Where the lake's data files are written (directory or URI).",
	    "Empty: $PGDATA/pg_duckpipe/lake/<database oid>/. Used when the lake is created. Per database: "
	    "ALTER DATABASE ... SET.",
	    &data_path, "", PGC_SUSET, GUC_SUPERUSER_ONLY, nullptr, nullptr, nullptr);
	DefineCustomStringVariable(
	    "duckpipe.lake_catalog", "libpq connection string of the DuckLake catalog database.",
	    "Empty: the worker's own database (schema ducklake). Per database: ALTER DATABASE ... SET.", &lake_catalog, "",
	    PGC_SUSET, GUC_SUPERUSER_ONLY, nullptr, nullptr, nullptr);
	DefineCustomStringVariable(
	    "duckpipe.conninfo", "libpq connection string the workers use to reach this server.",
	    "Empty: the Unix socket, as the extension's owner. Put passwords in ~/.pgpass, not here.", &conninfo, "",
	    PGC_SUSET, GUC_SUPERUSER_ONLY, nullptr, nullptr, nullptr);
	DefineCustomBoolVariable("duckpipe.debug_log", "Logs the workers' debug events.", nullptr, &debug_log, false,
	                         PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
}

Settings CurrentSettings() {
	return Settings{.enabled = enabled,
	                .poll_interval_ms = poll_interval_ms,
	                .flush_interval_ms = flush_interval_ms,
	                .flush_batch_threshold = flush_batch_threshold,
	                .max_queued_bytes = max_queued_bytes,
	                .duckdb_buffer_memory_mb = duckdb_buffer_memory_mb,
	                .duckdb_flush_memory_mb = duckdb_flush_memory_mb,
	                .duckdb_threads = duckdb_threads,
	                .data_path = Text(data_path),
	                .lake_catalog = Text(lake_catalog),
	                .conninfo = Text(conninfo),
	                .debug_log = debug_log};
}

std::string SocketDirectory() {
	std::string dirs = Unix_socket_directories ? Unix_socket_directories : "";
	std::string first = dirs.substr(0, dirs.find(','));
	auto begin = first.find_first_not_of(" \t");
	auto end = first.find_last_not_of(" \t");
	return begin == std::string::npos ? std::string() : first.substr(begin, end - begin + 1);
}

std::string DefaultDataPath() {
	return std::string(DataDir) + "/pg_duckpipe/lake/" + std::to_string(MyDatabaseId) + "/";
}

} // namespace duckpipe::ext
