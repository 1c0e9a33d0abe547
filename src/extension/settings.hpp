#pragma once

#include <string>

// The duckpipe.* settings (GUCs): defined once in _PG_init, read by the background workers on
// their main thread (at start and after SIGHUP). PGC_SIGHUP (ALTER SYSTEM + pg_reload_conf()), except
// where the lake lives and how to connect, which superusers may also set per database (PGC_SUSET).
namespace duckpipe::ext {

struct Settings {
	bool enabled;
	int poll_interval_ms;
	int flush_interval_ms;
	int flush_batch_threshold;
	int max_queued_bytes;
	int duckdb_buffer_memory_mb;
	int duckdb_flush_memory_mb;
	int duckdb_threads;
	std::string data_path;    // empty: DefaultDataPath()
	std::string lake_catalog; // empty: this database
	std::string conninfo;     // empty: this server over its Unix socket
	bool debug_log;
};

void DefineSettings();
// Where this database's lake keeps its data files unless duckpipe.data_path says otherwise:
// $PGDATA/pg_duckpipe/lake/<database oid>/ (one lake's cleanup must never see another's files).
// The worker writes there and the lake relation reads there.
std::string DefaultDataPath();
// The values in force in this process (main thread only).
Settings CurrentSettings();
// The first directory of unix_socket_directories, where this server listens ("" if none): how the
// worker and the lake relation reach this server when duckpipe.conninfo is empty.
std::string SocketDirectory();

} // namespace duckpipe::ext
