#pragma once

#include "core/common/lsn.hpp"

#include <cstdint>
#include <string>

namespace duckpipe::pipeline {

// How far the source had got when the pipeline wrote a lake commit, recorded in the commit's
// ducklake_snapshot_changes.commit_extra_info (free text the DuckLake spec leaves to writers) as
// {"duckpipe": {...}}. duckpipe.snapshot_at maps a source LSN or time to a snapshot from it
// (docs/lake-relation.md, "Time travel").
struct CommitProvenance {
	enum class Kind { Copy, Flush };
	Kind kind = Kind::Flush;
	std::string group;
	std::string source_table; // schema.table
	std::string target_table; // schema.table in the lake
	// Copy: the copy holds every transaction committed before source_lsn (the snapshot's consistent
	// point); from_lsn is unset. Flush: the batch holds the transactions committed from from_lsn to
	// source_lsn (commit LSNs, both included), and the table every one before.
	Lsn from_lsn;
	Lsn source_lsn;
	// Commit times (Unix microseconds) of those two transactions, 0 when unknown.
	int64_t from_time_us = 0;
	int64_t source_time_us = 0;

	std::string ToJson() const;
};

} // namespace duckpipe::pipeline
