#pragma once

#include "core/common/lsn.hpp"
#include "core/meta/metadata_types.hpp"
#include "core/pipeline/change_queue.hpp"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace duckpipe::pipeline {

// One synced table as the slot consumer sees it: where its changes go and which ones to skip.
// Shared (shared_ptr) by the group's consumer thread and the table's flush worker.
struct TableRoute {
	TableRoute(QueueBudget &budget) : queue(budget) {}

	int64_t mapping_id = 0;
	int generation = 0;
	uint32_t source_oid = 0;
	std::string source_name; // schema.table, for logs and errors
	meta::SyncMode mode = meta::SyncMode::Upsert;

	// The key columns' current names (the flush worker renames them as source DDL arrives).
	std::vector<std::string> KeyColumns() const {
		std::lock_guard guard(key_mutex_);
		return key_columns_;
	}
	void SetKeyColumns(std::vector<std::string> names) {
		std::lock_guard guard(key_mutex_);
		key_columns_ = std::move(names);
	}

	// Transactions committed before this LSN are in the snapshot copy; 0 while the copy is being
	// set up (the worker then holds the rows until it is known).
	std::atomic<uint64_t> snapshot_lsn{0};
	// Transactions committed at or before this LSN are already in the lake (exactly-once replay).
	std::atomic<uint64_t> applied_lsn{0};
	// Cleared when the table errors or is removed: the consumer stops routing to it.
	std::atomic<bool> active{true};

	ChangeQueue queue;
	PendingTransactions pending;

	// Serializes the table's own lake commits: a flush holds it from reading its base snapshot to its
	// commit, a background compaction at least for its commit. A flush therefore never finds a
	// compaction of its table committed since its base (its deletes would conflict and wait a retry).
	std::mutex lake_mutex;
	// Background compaction's figures (CompactionScheduler writes, the control thread reports).
	std::atomic<int64_t> compactions{0};             // compactions committed
	std::atomic<int64_t> compaction_files_merged{0}; // data files those compactions replaced
	std::atomic<int64_t> last_compaction_unix_us{0}; // when the last one committed (0: none yet)
	std::atomic<int64_t> data_files{-1};             // live data files when last counted (-1: not counted)

	// True when a transaction committed at commit_lsn must not reach this table.
	bool Skips(Lsn commit_lsn) const {
		uint64_t snap = snapshot_lsn.load(std::memory_order_acquire);
		if (snap != 0 && commit_lsn.value < snap) {
			return true;
		}
		return commit_lsn.value <= applied_lsn.load(std::memory_order_acquire);
	}

private:
	mutable std::mutex key_mutex_;
	std::vector<std::string> key_columns_;
};

} // namespace duckpipe::pipeline
