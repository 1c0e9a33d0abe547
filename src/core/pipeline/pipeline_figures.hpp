#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace duckpipe::pipeline {

// Where a flush spent its time, in ms (its flush.done log line carries the same).
struct FlushPhases {
	double load_ms = 0;    // appending its changes into the buffer's DuckDB, summed since the previous flush
	double compact_ms = 0; // the last change per key wins
	double write_ms = 0;   // Parquet data and delete files, finding the rows to delete included
	double commit_ms = 0;  // the lake catalog transaction in PostgreSQL
};

// Live figures of a running pipeline, for monitoring (the extension copies them into shared
// memory). A snapshot: each group's control loop refreshes its own a few times a second.
struct TableFigures {
	int64_t mapping_id = 0;
	int64_t queued_changes = 0; // changes routed to the table, not yet taken by its flush worker
	int64_t buffered_rows = 0;  // rows in the table's change buffer, not yet in the lake
	int64_t flush_count = 0;
	int64_t last_flush_ms = 0;
	bool flushing = false;
	int64_t duckdb_memory_bytes = 0;     // held by the table's DuckDB (change buffer, flush) right now
	int64_t compactions = 0;             // background compactions of the lake table committed
	int64_t compaction_files_merged = 0; // data files they replaced
	int64_t last_compaction_unix_us = 0; // when the last one committed (0: none)
	int64_t data_files = -1;             // live data files of the lake table when last counted (-1: not)
	FlushPhases last_flush_phases;
};

struct GroupFigures {
	std::string name;
	int64_t queued_bytes = 0;
	int64_t queued_changes = 0;
	bool backpressured = false; // reading WAL is paused: the queues are full
	// The stream trails the server's WAL by background_flush_backlog_mb or more (CatchUpDetector).
	bool catching_up = false;
	int active_flushes = 0;
	// Every change committed at or before it is in the lake (the slot's confirmed position).
	uint64_t confirmed_lsn = 0;
	std::vector<TableFigures> tables;
};

} // namespace duckpipe::pipeline
