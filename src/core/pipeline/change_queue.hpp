#pragma once

#include "core/cdc/relation_cache.hpp"
#include "core/common/lsn.hpp"
#include "core/flush/change_batch.hpp"
#include "core/pipeline/queue_budget.hpp"

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace duckpipe::pipeline {

// What the slot consumer hands a table's flush worker, in stream order.
struct QueueItem {
	enum class Kind {
		Rows,     // a batch of row changes
		Commit,   // the source transaction that produced the preceding rows committed
		Truncate, // TRUNCATE of this table, in order with the surrounding changes
		Fail,     // the consumer found something the table cannot follow (message says what)
		Schema,   // the rows that follow have `relation`'s columns (first rows of a stream, or after DDL)
	};
	Kind kind = Kind::Rows;
	std::unique_ptr<flush::ChangeBatch> batch;         // Rows only
	Lsn commit_lsn;                                    // Commit, Truncate: the transaction's commit LSN
	Lsn end_lsn;                                       // Commit: position after the commit record
	int64_t commit_time_us = 0;                        // Commit: Unix epoch microseconds
	int64_t bytes = 0;                                 // accounted against the group budget
	std::string message;                               // Fail only
	std::shared_ptr<const cdc::RelationInfo> relation; // Schema only
};

// A bounded single-producer (slot consumer) single-consumer (flush worker) queue. Its bytes count
// against the group's QueueBudget; the producer never blocks here, it waits on the budget before
// reading more WAL.
class ChangeQueue {
public:
	explicit ChangeQueue(QueueBudget &budget) : budget_(budget) {}
	~ChangeQueue();
	ChangeQueue(const ChangeQueue &) = delete;
	ChangeQueue &operator=(const ChangeQueue &) = delete;

	void Push(QueueItem item);
	// Waits up to timeout_ms for an item. The item leaves the budget, unless keep_in_budget: a caller
	// that holds it on (rows waiting for a copy's snapshot LSN) keeps it counted without a gap in
	// which the consumer could read past the limit, and releases it itself.
	std::optional<QueueItem> Pop(int64_t timeout_ms, bool keep_in_budget = false);
	// Everything up to and including the last Commit, without waiting (a final flush takes whole
	// transactions only; the rest of one still arriving stays queued). The items leave the budget.
	std::vector<QueueItem> PopWholeTransactions();
	// Drops everything queued (table removed, errored or resynced).
	void Discard();
	void Close(); // wakes a waiting Pop for shutdown

	int64_t Bytes() const;
	size_t Items() const;
	int64_t Rows() const; // row changes queued
	QueueBudget &Budget() const { return budget_; }

private:
	QueueBudget &budget_;
	mutable std::mutex mutex_;
	std::condition_variable ready_;
	std::deque<QueueItem> items_;
	int64_t bytes_ = 0;
	int64_t rows_ = 0;
	bool closed_ = false;
};

// Commit LSNs of the source transactions a table has received but not yet made durable in the
// lake, oldest first. The group confirms to the server no further than the oldest of all its
// tables, which is what makes a crash lose nothing: those transactions are sent again.
class PendingTransactions {
public:
	void Add(Lsn commit_lsn);           // consumer: first change of a transaction for this table
	void Flushed(Lsn up_to_commit_lsn); // worker: everything committed at or before is durable
	void Clear();                       // table dropped from the pipeline
	std::optional<Lsn> Oldest() const;

private:
	mutable std::mutex mutex_;
	std::deque<Lsn> pending_;
};

} // namespace duckpipe::pipeline
