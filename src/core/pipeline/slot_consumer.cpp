#include "core/pipeline/slot_consumer.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/pg/replication_connection.hpp"
#include "core/pg/replication_stream.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

namespace duckpipe::pipeline {

using flush::ChangeBatch;
using flush::ChangeOp;

SlotConsumer::SlotConsumer(SlotConsumerOptions options, QueueBudget &budget)
    : options_(std::move(options)), budget_(budget),
      decoder_(*this, options_.stream_in_progress ? std::max(options_.proto_version, 2) : options_.proto_version),
      streamed_(options_.spill_dir, options_.stream_memory_bytes) {}

SlotConsumer::~SlotConsumer() {
	ReleaseReservations();
}

void SlotConsumer::ReleaseReservations() {
	for (auto &[oid, t] : txn_tables_) {
		if (t.reserved > 0) {
			budget_.Release(t.reserved);
		}
		t.reserved = 0;
	}
}

void SlotConsumer::Reserve(TxnTable &t) {
	auto bytes = t.batch ? static_cast<int64_t>(t.batch->Bytes()) : 0;
	if (bytes != t.reserved) {
		budget_.Add(bytes - t.reserved);
		t.reserved = bytes;
	}
}

void SlotConsumer::FlushAllBatches() {
	for (auto &[oid, t] : txn_tables_) {
		FlushBatch(t);
	}
}

void SlotConsumer::PublishConfirmed(Lsn lsn) {
	confirmed_.store(lsn.value);
	if (options_.confirmed_out) {
		uint64_t prev = options_.confirmed_out->load();
		while (prev < lsn.value && !options_.confirmed_out->compare_exchange_weak(prev, lsn.value)) {
		}
	}
}

void SlotConsumer::SetRoute(std::shared_ptr<TableRoute> route) {
	std::lock_guard guard(routes_mutex_);
	auto &slot = routes_[route->source_oid];
	if (slot) {
		sent_schema_.erase(slot.get());
	}
	slot = std::move(route);
}

void SlotConsumer::RemoveRoute(uint32_t source_oid) {
	std::lock_guard guard(routes_mutex_);
	auto it = routes_.find(source_oid);
	if (it != routes_.end()) {
		it->second->active.store(false);
		it->second->pending.Clear();
		sent_schema_.erase(it->second.get());
		routes_.erase(it);
	}
}

void SlotConsumer::Run(const std::atomic<bool> &stop) {
	ReplicationConnection conn(options_.conninfo, {.application_name = options_.application_name});
	StreamOptions so;
	so.slot_name = options_.slot_name;
	so.publications = {options_.publication};
	// Without streaming the server decodes a large transaction whole before sending it (spilling it
	// to disk itself); with it, the transaction arrives while it runs and is kept here until it
	// commits (StreamedTxns), so the walsender never waits for it. PostgreSQL 14 brought streaming.
	stream_requested_ = options_.stream_in_progress && conn.Connection().ServerVersion() >= 140000;
	so.proto_version = stream_requested_ ? decoder_.ProtoVersion() : options_.proto_version;
	so.streaming = stream_requested_;
	so.messages = false;
	so.status_interval_ms = options_.status_interval_ms;
	ReplicationStream stream(conn, so);
	streaming_.store(true);
	stream_ = &stream;
	stop_ = &stop;
	struct StreamingFlag {
		SlotConsumer &self;
		~StreamingFlag() {
			self.streaming_.store(false);
			self.stream_ = nullptr;
			self.stop_ = nullptr;
			// The server streams a transaction again from its start after a reconnect.
			self.streamed_.Clear();
			self.streamed_open_.store(0);
		}
	} streaming_flag{*this};
	log::Info("slot.streaming", "slot", options_.slot_name, "publication", options_.publication, "proto",
	          so.proto_version, "stream_in_progress", so.streaming);

	Lsn idle_wal_end;
	// The status timer alone (10 s by default) let an idle group's slot trail the WAL by that long;
	// a moved position is reported within a second instead.
	Lsn reported;
	auto reported_at = std::chrono::steady_clock::now();
	auto report_progress = [&] {
		auto now = std::chrono::steady_clock::now();
		if (stream.FlushPosition() > reported && now - reported_at >= std::chrono::seconds(1)) {
			stream.SendStatus();
			reported = stream.FlushPosition();
			reported_at = now;
		}
	};
	while (!stop.load()) {
		if (pause_requested_.load() && !in_txn_) {
			paused_.store(true);
			stream.Confirm(SafeConfirmLsn({}));
			PublishConfirmed(stream.FlushPosition());
			stream.SendStatus();
			std::this_thread::sleep_for(std::chrono::milliseconds(50));
			continue;
		}
		// Backpressure: with the budget full, read nothing more; the backlog stays in the WAL.
		// Status updates keep going so the walsender does not time us out.
		if (budget_.Full()) {
			FlushAllBatches();
			if (!budget_.WaitBelowLimit(200)) {
				stream.Confirm(SafeConfirmLsn({}));
				PublishConfirmed(stream.FlushPosition());
				stream.SendStatus();
				continue;
			}
		}
		auto event = stream.Next(200);
		if (auto *data = std::get_if<XLogData>(&event)) {
			NoteRead(data->wal_start);
			if (decoder_.InStreamBlock() && cdc::PgOutputDecoder::IsStreamedChange(data->payload)) {
				streamed_.Add(decoder_.StreamXid(), data->payload);
				stream_spilled_.store(streamed_.SpilledBytes());
			} else {
				decoder_.Decode(data->payload, data->wal_start);
			}
			// The confirmable position moves only when a worker flushes (a few times a second): between
			// row messages it is looked up every few milliseconds, not once per message (a lock per
			// table each time).
			auto now = std::chrono::steady_clock::now();
			if (now - confirm_checked_at_ < std::chrono::milliseconds(5)) {
				continue;
			}
			confirm_checked_at_ = now;
		} else if (auto *ka = std::get_if<Keepalive>(&event)) {
			NoteRead(ka->wal_end);
			if (!in_txn_) {
				idle_wal_end = ka->wal_end;
			}
			ServerWaitsForUs(*ka, stream.FlushPosition());
		} else if (std::holds_alternative<EndOfStream>(event)) {
			throw Error(ErrorKind::Source, "the server ended replication on slot " + options_.slot_name,
			            {.hint = "check the server log; the slot may have been dropped"});
		}
		stream.Confirm(SafeConfirmLsn(idle_wal_end));
		PublishConfirmed(stream.FlushPosition());
		report_progress();
	}
	stream.Confirm(SafeConfirmLsn({}));
	stream.SendStatus();
	PublishConfirmed(stream.FlushPosition());
	// The walsender may be in the middle of sending a large transaction: do not wait for all of it.
	stream.StopOrAbandon(options_.stop_drain_ms);
	log::Info("slot.stopped", "slot", options_.slot_name, "confirmed_lsn", Confirmed().ToString());
}

void SlotConsumer::ServerWaitsForUs(const Keepalive &keepalive, Lsn flushed) {
	// A shutting-down server keeps its logical walsender until the client has confirmed everything
	// sent, pinging it again after every reply. What is not durable in the lake cannot be confirmed
	// (and the lake may well live on that very server, now refusing connections): let the server go,
	// the stream resumes from the slot when it is back.
	auto now = std::chrono::steady_clock::now();
	if (!keepalive.reply_requested || flushed >= keepalive.wal_end) {
		return;
	}
	if (now - pings_since_ > std::chrono::seconds(2)) {
		pings_since_ = now;
		pings_ = 0;
	}
	if (++pings_ >= 20) {
		throw Error(ErrorKind::Connection,
		            "the server is waiting for slot " + options_.slot_name + " to confirm " +
		                keepalive.wal_end.ToString() + " before it shuts down, and only " + flushed.ToString() +
		                " is durable in the lake; disconnecting (the rest is sent again once the server is back)");
	}
}

Lsn SlotConsumer::SafeConfirmLsn(Lsn idle_wal_end) {
	// Everything received so far, unless a table still waits to make some of it durable. The
	// transaction in progress (if any) commits after `received_`, so it is not confirmed.
	Lsn safe(received_.load());
	if (!in_txn_ && idle_wal_end > safe) {
		bool any_pending = false;
		std::lock_guard guard(routes_mutex_);
		for (const auto &[oid, route] : routes_) {
			any_pending = any_pending || route->pending.Oldest().has_value();
		}
		if (!any_pending) {
			safe = idle_wal_end;
		}
	}
	std::lock_guard guard(routes_mutex_);
	for (const auto &[oid, route] : routes_) {
		if (auto oldest = route->pending.Oldest()) {
			safe = std::min(safe, *oldest);
		}
	}
	return safe;
}

void SlotConsumer::OnBegin(const cdc::BeginMessage &msg) {
	in_txn_ = true;
	txn_commit_lsn_ = msg.final_lsn;
	txn_commit_time_us_ = msg.commit_time_us;
	ReleaseReservations();
	txn_tables_.clear();
}

void SlotConsumer::OnCommit(const cdc::CommitMessage &msg) {
	for (auto &[oid, t] : txn_tables_) {
		FlushBatch(t);
		QueueItem item;
		item.kind = QueueItem::Kind::Commit;
		item.commit_lsn = msg.commit_lsn;
		item.end_lsn = msg.end_lsn;
		item.commit_time_us = msg.commit_time_us;
		t.route->queue.Push(std::move(item));
	}
	txn_tables_.clear();
	in_txn_ = false;
	received_.store(std::max(received_.load(), msg.end_lsn.value));
}

void SlotConsumer::OnRelation(const std::shared_ptr<const cdc::RelationInfo> &rel, cdc::RelationChange) {
	// The worker hears of a change with the table's next row, in order with the rows (SyncSchema).
	relations_[rel->oid] = rel;
}

void SlotConsumer::OnStreamStart(const cdc::StreamStartMessage &msg) {
	if (!stream_requested_) {
		throw Error(ErrorKind::Protocol, "the server streamed an in-progress transaction, which was not requested",
		            {.hint = "this is a bug in pg_duckpipe's START_REPLICATION options"});
	}
	if (msg.first_segment) {
		streamed_.Begin(msg.xid);
		streamed_open_.store(streamed_.Open());
	}
}

void SlotConsumer::OnStreamAbort(const cdc::StreamAbortMessage &msg) {
	streamed_.Abort(msg.xid, msg.subxid);
	streamed_open_.store(streamed_.Open());
}

void SlotConsumer::OnStreamCommit(const cdc::StreamCommitMessage &msg) {
	// Replayed as the ordinary transaction it now is: the same routing, skipping of what a table
	// already holds, batching and confirmation as one sent whole.
	cdc::BeginMessage begin;
	begin.final_lsn = msg.commit_lsn;
	begin.commit_time_us = msg.commit_time_us;
	begin.xid = msg.xid;
	OnBegin(begin);
	bool whole = true;
	streamed_.Replay(msg.xid, [&](std::string_view message) {
		if (!ReplayMayGoOn()) {
			whole = false;
			return false;
		}
		decoder_.DecodeStreamed(message, msg.commit_lsn);
		return true;
	});
	streamed_open_.store(streamed_.Open());
	if (!whole) {
		// Stopping: like a transaction cut off mid-way, nothing of it is confirmed, and the server
		// sends it again.
		return;
	}
	cdc::CommitMessage commit;
	commit.flags = msg.flags;
	commit.commit_lsn = msg.commit_lsn;
	commit.end_lsn = msg.end_lsn;
	commit.commit_time_us = msg.commit_time_us;
	OnCommit(commit);
}

bool SlotConsumer::ReplayMayGoOn() {
	auto report = [&] {
		auto now = std::chrono::steady_clock::now();
		if (stream_ && now - replay_status_at_ >= std::chrono::seconds(1)) {
			replay_status_at_ = now;
			stream_->Confirm(SafeConfirmLsn({}));
			PublishConfirmed(stream_->FlushPosition());
			stream_->SendStatus();
		}
	};
	if (budget_.Full()) {
		FlushAllBatches();
		while (!budget_.WaitBelowLimit(200)) {
			if (stop_ && stop_->load()) {
				return false;
			}
			report();
		}
	}
	if (stop_ && stop_->load()) {
		return false;
	}
	report();
	return true;
}

SlotConsumer::TxnTable *SlotConsumer::Target(const cdc::RelationInfo &rel) {
	TxnTable *t = nullptr;
	auto it = txn_tables_.find(rel.oid);
	if (it != txn_tables_.end()) {
		if (!it->second.route->active.load()) {
			return nullptr;
		}
		t = &it->second;
	} else {
		std::shared_ptr<TableRoute> route;
		{
			std::lock_guard guard(routes_mutex_);
			auto r = routes_.find(rel.oid);
			if (r == routes_.end()) {
				return nullptr;
			}
			route = r->second;
		}
		if (!route->active.load() || route->Skips(txn_commit_lsn_)) {
			return nullptr;
		}
		route->pending.Add(txn_commit_lsn_);
		t = &txn_tables_[rel.oid];
		t->route = std::move(route);
	}
	SyncSchema(*t, rel);
	return t;
}

void SlotConsumer::SyncSchema(TxnTable &t, const cdc::RelationInfo &rel) {
	if (t.relation == &rel) {
		return;
	}
	auto described = relations_.find(rel.oid);
	if (described == relations_.end() || described->second.get() != &rel) {
		throw Error(ErrorKind::Internal, "row change for " + rel.QualifiedName() + " without its Relation message");
	}
	bool changed = false;
	{
		std::lock_guard guard(routes_mutex_);
		auto &sent = sent_schema_[t.route.get()];
		changed = !sent || !sent->SameSchema(rel);
		sent = described->second;
	}
	if (changed) {
		// Rows already batched have the old columns: they go first.
		FlushBatch(t);
		QueueItem item;
		item.kind = QueueItem::Kind::Schema;
		item.commit_lsn = txn_commit_lsn_;
		item.relation = described->second;
		t.route->queue.Push(std::move(item));
	}
	t.relation = &rel;
	// The key by name; a key column the worker has not seen renamed yet falls back to the replica
	// identity flags (exact unless the identity is FULL, where every column is flagged: then a key
	// change is detected on any change, which costs a delete but stays correct).
	auto key_names = t.route->KeyColumns();
	t.row_match = t.route->mode == meta::SyncMode::Upsert && key_names.empty();
	t.key.assign(rel.columns.size(), false);
	size_t found = 0;
	for (size_t i = 0; i < rel.columns.size(); i++) {
		if (std::find(key_names.begin(), key_names.end(), rel.columns[i].name) != key_names.end()) {
			t.key[i] = true;
			found++;
		}
	}
	if (found != key_names.size() || key_names.empty()) {
		for (size_t i = 0; i < rel.columns.size(); i++) {
			t.key[i] = rel.columns[i].is_key;
		}
	}
}

void SlotConsumer::AddRow(TxnTable &t, ChangeOp op, const cdc::TupleView &tuple, bool key_only,
                          const cdc::TupleView *fallback) {
	size_t width = t.key.size();
	if (!t.batch) {
		t.batch = std::make_unique<ChangeBatch>(width);
	}
	auto &batch = *t.batch;
	batch.BeginRow(op, next_seq_++, txn_commit_lsn_);
	for (size_t i = 0; i < width; i++) {
		if (i >= tuple.Size() || (key_only && !t.key[i])) {
			batch.AddNull();
			continue;
		}
		const auto *cell = &tuple[i];
		if (cell->kind == cdc::ColumnKind::UnchangedToast && fallback && i < fallback->Size() &&
		    (*fallback)[i].HasValue()) {
			cell = &(*fallback)[i];
		}
		const auto &v = *cell;
		switch (v.kind) {
		case cdc::ColumnKind::Null:
			batch.AddNull();
			break;
		case cdc::ColumnKind::UnchangedToast:
			batch.AddUnchanged();
			break;
		case cdc::ColumnKind::Text:
		case cdc::ColumnKind::Binary:
			batch.AddText(v.data);
			break;
		}
	}
	Reserve(t);
	if (batch.Rows() >= options_.rows_per_batch || t.reserved >= budget_.BatchBytes()) {
		FlushBatch(t);
	}
}

void SlotConsumer::FlushBatch(TxnTable &t) {
	if (t.reserved > 0) {
		budget_.Release(t.reserved);
		t.reserved = 0;
	}
	if (!t.batch || t.batch->Rows() == 0) {
		return;
	}
	QueueItem item;
	item.kind = QueueItem::Kind::Rows;
	item.commit_lsn = txn_commit_lsn_;
	item.batch = std::move(t.batch);
	t.route->queue.Push(std::move(item));
}

bool SlotConsumer::KeyChanged(const TxnTable &t, const cdc::TupleView &old_tuple, const cdc::TupleView &new_tuple) {
	for (size_t i = 0; i < t.key.size() && i < old_tuple.Size() && i < new_tuple.Size(); i++) {
		if (!t.key[i]) {
			continue;
		}
		auto &o = old_tuple[i];
		auto &n = new_tuple[i];
		if (o.kind != n.kind || o.data != n.data) {
			return true;
		}
	}
	return false;
}

void SlotConsumer::OnInsert(const cdc::InsertMessage &msg) {
	if (auto *t = Target(*msg.relation)) {
		AddRow(*t, ChangeOp::Insert, msg.new_tuple, false);
	}
}

void SlotConsumer::OnUpdate(const cdc::UpdateMessage &msg) {
	auto *t = Target(*msg.relation);
	if (!t) {
		return;
	}
	// pgoutput sends the old key only when it changed (K), or the whole old row with REPLICA
	// IDENTITY FULL (O). A changed key becomes delete(old) + insert(new) so compaction by key is right.
	bool key_changed = msg.old_kind == cdc::OldTupleKind::Key ||
	                   (msg.old_kind == cdc::OldTupleKind::Full && KeyChanged(*t, msg.old_tuple, msg.new_tuple));
	// With REPLICA IDENTITY FULL the old row carries every value, TOASTed ones included.
	const cdc::TupleView *full_old = msg.old_kind == cdc::OldTupleKind::Full ? &msg.old_tuple : nullptr;
	bool upsert = t->route->mode == meta::SyncMode::Upsert;
	if (upsert && t->row_match) {
		// No key: the lake row to replace is found by the full old row (RowMatchApply).
		if (!full_old) {
			QueueItem fail;
			fail.kind = QueueItem::Kind::Fail;
			fail.commit_lsn = txn_commit_lsn_;
			fail.message = "an UPDATE of " + msg.relation->QualifiedName() +
			               " (no key) came without the full old row; set REPLICA IDENTITY FULL and run "
			               "`duckpipe resync-table " +
			               t->route->source_name + "`";
			t->route->active.store(false);
			t->route->queue.Push(std::move(fail));
			return;
		}
		AddRow(*t, ChangeOp::Delete, msg.old_tuple, false);
		AddRow(*t, ChangeOp::Insert, msg.new_tuple, false, full_old);
		return;
	}
	bool unsent = false;
	if (key_changed && upsert && !full_old) {
		for (const auto &v : msg.new_tuple) {
			unsent = unsent || v.IsUnchangedToast();
		}
	}
	if (key_changed && upsert) {
		// An unsent TOAST value belongs to the row under its old key: the buffer (or the lake) takes
		// it from there, found through the Delete right before the InsertMoved.
		AddRow(*t, ChangeOp::Delete, msg.old_tuple, true);
		AddRow(*t, unsent ? ChangeOp::InsertMoved : ChangeOp::Insert, msg.new_tuple, false, full_old);
	} else {
		AddRow(*t, ChangeOp::Update, msg.new_tuple, false, full_old);
	}
}

void SlotConsumer::OnDelete(const cdc::DeleteMessage &msg) {
	if (auto *t = Target(*msg.relation)) {
		// A changelog keeps whatever old row the replica identity provides (all of it with FULL).
		// Without a key (REPLICA IDENTITY FULL) the whole old row is what finds the lake row.
		AddRow(*t, ChangeOp::Delete, msg.old_tuple, t->route->mode == meta::SyncMode::Upsert && !t->row_match);
	}
}

void SlotConsumer::OnTruncate(const cdc::TruncateMessage &msg) {
	for (const auto *rel : msg.relations) {
		auto *t = Target(*rel);
		if (!t) {
			continue;
		}
		if (t->route->mode == meta::SyncMode::Append) {
			// A changelog keeps what came before: the TRUNCATE is one more change, in order.
			size_t width = t->key.size();
			if (!t->batch) {
				t->batch = std::make_unique<ChangeBatch>(width);
			}
			t->batch->BeginRow(ChangeOp::Truncate, next_seq_++, txn_commit_lsn_);
			for (size_t i = 0; i < width; i++) {
				t->batch->AddNull();
			}
			Reserve(*t);
			continue;
		}
		FlushBatch(*t);
		QueueItem item;
		item.kind = QueueItem::Kind::Truncate;
		item.commit_lsn = txn_commit_lsn_;
		t->route->queue.Push(std::move(item));
	}
}

} // namespace duckpipe::pipeline
