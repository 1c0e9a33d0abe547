#pragma once

#include "core/cdc/pgoutput_decoder.hpp"
#include "core/cdc/pgoutput_handler.hpp"
#include "core/common/lsn.hpp"
#include "core/pipeline/streamed_txns.hpp"
#include "core/pipeline/table_route.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace duckpipe {
class ReplicationStream;
struct Keepalive;
} // namespace duckpipe

namespace duckpipe::pipeline {

struct SlotConsumerOptions {
	std::string conninfo; // the group's source
	std::string slot_name;
	std::string publication;
	int proto_version = 1;
	// Asks the server to stream large in-progress transactions (protocol 2, streaming = on): they
	// are kept (spilled past `stream_memory_bytes`) until their commit, then applied as usual.
	bool stream_in_progress = false;
	std::string spill_dir; // empty: the system's temp directory
	int64_t stream_memory_bytes = 32LL << 20;
	int status_interval_ms = 10000;
	size_t rows_per_batch = 8192; // rows a batch collects before it is queued mid-transaction
	std::string application_name = "pg_duckpipe";
	// At a stop, how long the rest of a transaction still arriving is read and thrown away while the
	// server ends the stream; past it the connection is closed (the next stream sends it again).
	int stop_drain_ms = 2000;
	// When set, also receives every confirmed position (the group reads it without a poller thread).
	std::atomic<uint64_t> *confirmed_out = nullptr;
};

// The one reader of a sync group's slot. Decodes pgoutput, routes each row change by relation OID
// to its table's queue as text values, marks transaction boundaries, and confirms to the server
// only what every table has made durable. Stops reading when the group's queue budget is full.
class SlotConsumer final : public cdc::PgOutputHandler {
public:
	SlotConsumer(SlotConsumerOptions options, QueueBudget &budget);
	~SlotConsumer() override;

	// Adds or replaces the route of a table (by source OID). Safe while Run() is streaming.
	void SetRoute(std::shared_ptr<TableRoute> route);
	void RemoveRoute(uint32_t source_oid);

	// Stops reading WAL (status updates go on) so workers can flush what they hold before the final
	// confirmation; Paused() turns true once no transaction is half received.
	void RequestPause() { pause_requested_.store(true); }
	bool Paused() const { return paused_.load(); }
	// True while Run() is connected and reading; a consumer that is not cannot pause.
	bool Streaming() const { return streaming_.load(); }

	// Streams until `stop` becomes true (returns normally, after a final status update) or an
	// error is thrown (connection lost, slot or publication missing, protocol error).
	void Run(const std::atomic<bool> &stop);

	// The position confirmed to the server (everything before is durable in the lake).
	Lsn Confirmed() const { return Lsn(confirmed_.load()); }
	// The end of the last transaction received.
	Lsn Received() const { return Lsn(received_.load()); }
	// How far the stream has read the WAL: the latest position a message or keepalive carried.
	Lsn ReadPosition() const { return Lsn(read_.load(std::memory_order_relaxed)); }
	// Streamed in-progress transactions kept, and bytes spilled for them so far.
	size_t StreamedOpen() const { return streamed_open_.load(); }
	int64_t StreamSpilledBytes() const { return stream_spilled_.load(); }

private:
	struct TxnTable {
		std::shared_ptr<TableRoute> route;
		std::unique_ptr<flush::ChangeBatch> batch;
		// The description the rows are encoded with (rows carry the relation's columns in its order),
		// and per relation column whether it belongs to the route's key.
		const cdc::RelationInfo *relation = nullptr;
		std::vector<bool> key;
		bool row_match = false; // no key: rows are found by their full old value (RowMatchApply)
		int64_t reserved = 0;   // bytes of `batch` counted against the budget while it is built
	};

	void OnBegin(const cdc::BeginMessage &msg) override;
	void OnCommit(const cdc::CommitMessage &msg) override;
	void OnRelation(const std::shared_ptr<const cdc::RelationInfo> &rel, cdc::RelationChange change) override;
	void OnInsert(const cdc::InsertMessage &msg) override;
	void OnUpdate(const cdc::UpdateMessage &msg) override;
	void OnDelete(const cdc::DeleteMessage &msg) override;
	void OnTruncate(const cdc::TruncateMessage &msg) override;
	void OnStreamStart(const cdc::StreamStartMessage &msg) override;
	void OnStreamCommit(const cdc::StreamCommitMessage &msg) override;
	void OnStreamAbort(const cdc::StreamAbortMessage &msg) override;
	// Between replayed messages: waits for room in the budget (reporting status meanwhile, so the
	// walsender does not time us out). False when the consumer is stopping.
	bool ReplayMayGoOn();

	// The route for a relation in the current transaction, or nullptr when the table is not
	// synced or skips this transaction.
	TxnTable *Target(const cdc::RelationInfo &rel);
	// Queues a Schema item when the rows that follow have other columns than the route's worker
	// last heard of (first rows of the stream, or DDL), and notes the relation the rows use.
	void SyncSchema(TxnTable &t, const cdc::RelationInfo &rel);
	// key_only: cells outside the key are NULL (an upsert delete). fallback: a full old row whose
	// values stand in for unchanged TOAST cells.
	void AddRow(TxnTable &t, flush::ChangeOp op, const cdc::TupleView &tuple, bool key_only,
	            const cdc::TupleView *fallback = nullptr);
	void FlushBatch(TxnTable &t);
	// Hands every half-built batch to its worker: with the budget full, they are what must drain.
	void FlushAllBatches();
	void Reserve(TxnTable &t);
	void ReleaseReservations();
	void PublishConfirmed(Lsn lsn);
	// Once per message: the consumer thread is the only writer, so no read-modify-write.
	void NoteRead(Lsn lsn) {
		if (lsn.value > read_.load(std::memory_order_relaxed)) {
			read_.store(lsn.value, std::memory_order_relaxed);
		}
	}
	static bool KeyChanged(const TxnTable &t, const cdc::TupleView &old_tuple, const cdc::TupleView &new_tuple);
	Lsn SafeConfirmLsn(Lsn idle_wal_end);
	// Throws when the server pings again and again for a position we cannot confirm (its shutdown
	// waits for it).
	void ServerWaitsForUs(const Keepalive &keepalive, Lsn flushed);

	SlotConsumerOptions options_;
	QueueBudget &budget_;
	cdc::PgOutputDecoder decoder_;
	StreamedTxns streamed_;
	// Set while Run() streams (the replay of a streamed transaction reports status and stops).
	ReplicationStream *stream_ = nullptr;
	const std::atomic<bool> *stop_ = nullptr;
	bool stream_requested_ = false; // START_REPLICATION asked for streaming = on
	std::chrono::steady_clock::time_point replay_status_at_{};
	std::chrono::steady_clock::time_point confirm_checked_at_{}; // last SafeConfirmLsn between messages

	mutable std::mutex routes_mutex_;
	std::unordered_map<uint32_t, std::shared_ptr<TableRoute>> routes_;
	// The latest description of every relation, and the one each route's worker last received.
	std::unordered_map<uint32_t, std::shared_ptr<const cdc::RelationInfo>> relations_;
	std::unordered_map<TableRoute *, std::shared_ptr<const cdc::RelationInfo>> sent_schema_;

	// The transaction being received.
	bool in_txn_ = false;
	Lsn txn_commit_lsn_;
	int64_t txn_commit_time_us_ = 0;
	std::unordered_map<uint32_t, TxnTable> txn_tables_;
	uint64_t next_seq_ = 1;

	std::atomic<bool> pause_requested_{false};
	std::atomic<bool> paused_{false};
	std::atomic<bool> streaming_{false};
	int pings_ = 0;
	std::chrono::steady_clock::time_point pings_since_{};
	std::atomic<uint64_t> confirmed_{0};
	std::atomic<uint64_t> received_{0};
	std::atomic<uint64_t> read_{0};
	std::atomic<size_t> streamed_open_{0};
	std::atomic<int64_t> stream_spilled_{0};
};

} // namespace duckpipe::pipeline
