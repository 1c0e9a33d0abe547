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
    : options_(std::move(options)), budget_(budget), decoder_(*this, options_.proto_version) {}

SlotConsumer::~SlotConsumer() = default;

void SlotConsumer::SetRoute(std::shared_ptr<TableRoute> route) {
	std::lock_guard guard(routes_mutex_);
	auto &slot = routes_[route->source_oid];
	if (slot) {
		route_columns_.erase(slot.get());
	}
	slot = std::move(route);
}

void SlotConsumer::RemoveRoute(uint32_t source_oid) {
	std::lock_guard guard(routes_mutex_);
	auto it = routes_.find(source_oid);
	if (it != routes_.end()) {
		it->second->active.store(false);
		it->second->pending.Clear();
		route_columns_.erase(it->second.get());
		routes_.erase(it);
	}
}

void SlotConsumer::Run(const std::atomic<bool> &stop) {
	ReplicationConnection conn(options_.conninfo, {.application_name = options_.application_name});
	StreamOptions so;
	so.slot_name = options_.slot_name;
	so.publications = {options_.publication};
	so.proto_version = options_.proto_version;
	// Large transactions are decoded whole by the server (it spills them to disk); the pipeline
	// buffers by source transaction, so protocol 2 streaming of in-progress ones is not requested.
	so.streaming = false;
	so.messages = false;
	so.status_interval_ms = options_.status_interval_ms;
	ReplicationStream stream(conn, so);
	log::Info("slot.streaming", "slot", options_.slot_name, "publication", options_.publication, "proto",
	          options_.proto_version);

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
			confirmed_.store(stream.FlushPosition().value);
			stream.SendStatus();
			std::this_thread::sleep_for(std::chrono::milliseconds(50));
			continue;
		}
		// Backpressure: with the budget full, read nothing more; the backlog stays in the WAL.
		// Status updates keep going so the walsender does not time us out.
		if (!budget_.WaitBelowLimit(200)) {
			stream.Confirm(SafeConfirmLsn({}));
			confirmed_.store(stream.FlushPosition().value);
			stream.SendStatus();
			continue;
		}
		auto event = stream.Next(200);
		if (auto *data = std::get_if<XLogData>(&event)) {
			server_wal_end_.store(data->wal_end.value);
			decoder_.Decode(data->payload, data->wal_start);
		} else if (auto *ka = std::get_if<Keepalive>(&event)) {
			server_wal_end_.store(ka->wal_end.value);
			if (!in_txn_) {
				idle_wal_end = ka->wal_end;
			}
		} else if (std::holds_alternative<EndOfStream>(event)) {
			throw Error(ErrorKind::Source, "the server ended replication on slot " + options_.slot_name,
			            {.hint = "check the server log; the slot may have been dropped"});
		}
		stream.Confirm(SafeConfirmLsn(idle_wal_end));
		confirmed_.store(stream.FlushPosition().value);
		report_progress();
	}
	stream.Confirm(SafeConfirmLsn({}));
	stream.SendStatus();
	confirmed_.store(stream.FlushPosition().value);
	stream.Stop();
	log::Info("slot.stopped", "slot", options_.slot_name, "confirmed_lsn", Confirmed().ToString());
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

void SlotConsumer::OnRelation(const std::shared_ptr<const cdc::RelationInfo> &rel, cdc::RelationChange change) {
	if (change == cdc::RelationChange::Unchanged) {
		return;
	}
	std::lock_guard guard(routes_mutex_);
	auto it = routes_.find(rel->oid);
	if (it != routes_.end()) {
		route_columns_.erase(it->second.get()); // recomputed against the new description
	}
}

void SlotConsumer::OnStreamStart(const cdc::StreamStartMessage &) {
	throw Error(ErrorKind::Protocol, "the server streamed an in-progress transaction, which was not requested",
	            {.hint = "this is a bug in pg_duckpipe's START_REPLICATION options"});
}

const SlotConsumer::RouteColumns &SlotConsumer::ColumnsFor(TableRoute &route, const cdc::RelationInfo &rel) {
	auto &rc = route_columns_[&route];
	if (rc.relation == &rel && !rc.source_index.empty()) {
		return rc;
	}
	rc.relation = &rel;
	rc.mismatch.clear();
	rc.source_index.assign(route.columns.size(), -1);
	std::vector<bool> used(rel.columns.size(), false);
	for (size_t j = 0; j < route.columns.size(); j++) {
		for (size_t i = 0; i < rel.columns.size(); i++) {
			if (rel.columns[i].name == route.columns[j]) {
				rc.source_index[j] = static_cast<int>(i);
				used[i] = true;
				break;
			}
		}
		if (rc.source_index[j] < 0) {
			rc.mismatch = "column \"" + route.columns[j] + "\" is no longer published by the source";
		}
	}
	for (size_t i = 0; i < rel.columns.size() && rc.mismatch.empty(); i++) {
		if (!used[i]) {
			rc.mismatch = "the source has a new column \"" + rel.columns[i].name + "\"";
		}
	}
	return rc;
}

SlotConsumer::TxnTable *SlotConsumer::Target(const cdc::RelationInfo &rel) {
	auto it = txn_tables_.find(rel.oid);
	if (it != txn_tables_.end()) {
		return it->second.route->active.load() ? &it->second : nullptr;
	}
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
	std::string mismatch;
	std::vector<int> source_index;
	{
		std::lock_guard guard(routes_mutex_);
		const auto &columns = ColumnsFor(*route, rel);
		mismatch = columns.mismatch;
		source_index = columns.source_index;
	}
	if (!mismatch.empty()) {
		// Schema evolution is applied by the worker in a later version; until then the table stops
		// cleanly and says how to recover, while the rest of the group keeps streaming.
		QueueItem fail;
		fail.kind = QueueItem::Kind::Fail;
		fail.commit_lsn = txn_commit_lsn_;
		fail.message = "source table " + rel.QualifiedName() + " changed: " + mismatch +
		               "; run `duckpipe resync-table " + route->source_name + "` to copy it again";
		route->active.store(false);
		route->queue.Push(std::move(fail));
		return nullptr;
	}
	route->pending.Add(txn_commit_lsn_);
	auto &t = txn_tables_[rel.oid];
	t.route = std::move(route);
	t.source_index = std::move(source_index);
	return &t;
}

void SlotConsumer::AddRow(TxnTable &t, ChangeOp op, const cdc::TupleView &tuple, bool key_only,
                          const cdc::TupleView *fallback) {
	auto &route = *t.route;
	const auto &index = t.source_index;
	if (!t.batch) {
		t.batch = std::make_unique<ChangeBatch>(route.columns.size());
	}
	auto &batch = *t.batch;
	batch.BeginRow(op, next_seq_++, txn_commit_lsn_);
	for (size_t j = 0; j < route.columns.size(); j++) {
		int i = index[j];
		if (i < 0 || static_cast<size_t>(i) >= tuple.Size() || (key_only && !route.key[j])) {
			batch.AddNull();
			continue;
		}
		const auto *cell = &tuple[static_cast<size_t>(i)];
		if (cell->kind == cdc::ColumnKind::UnchangedToast && fallback && static_cast<size_t>(i) < fallback->Size() &&
		    (*fallback)[static_cast<size_t>(i)].HasValue()) {
			cell = &(*fallback)[static_cast<size_t>(i)];
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
	if (batch.Rows() >= options_.rows_per_batch) {
		FlushBatch(t);
	}
}

void SlotConsumer::FlushBatch(TxnTable &t) {
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
	const auto &route = *t.route;
	for (size_t j = 0; j < route.columns.size(); j++) {
		int i = t.source_index[j];
		if (!route.key[j] || i < 0 || static_cast<size_t>(i) >= old_tuple.Size() ||
		    static_cast<size_t>(i) >= new_tuple.Size()) {
			continue;
		}
		auto &o = old_tuple[static_cast<size_t>(i)];
		auto &n = new_tuple[static_cast<size_t>(i)];
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
	if (key_changed && upsert && !full_old) {
		bool unsent = false;
		for (const auto &v : msg.new_tuple) {
			unsent = unsent || v.IsUnchangedToast();
		}
		if (unsent) {
			// The unsent value belongs to the row under its old key, which the buffer cannot follow
			// yet. Rather than store NULL, stop the table: its automatic retry copies it again.
			QueueItem fail;
			fail.kind = QueueItem::Kind::Fail;
			fail.commit_lsn = txn_commit_lsn_;
			fail.message = "an UPDATE of " + msg.relation->QualifiedName() +
			               " changed a row's key and left a TOASTed column unchanged, which PostgreSQL does not "
			               "send; the table is copied again (REPLICA IDENTITY FULL avoids this)";
			t->route->active.store(false);
			t->route->queue.Push(std::move(fail));
			return;
		}
	}
	if (key_changed && upsert) {
		AddRow(*t, ChangeOp::Delete, msg.old_tuple, true);
		AddRow(*t, ChangeOp::Insert, msg.new_tuple, false, full_old);
	} else {
		AddRow(*t, ChangeOp::Update, msg.new_tuple, false, full_old);
	}
}

void SlotConsumer::OnDelete(const cdc::DeleteMessage &msg) {
	if (auto *t = Target(*msg.relation)) {
		// A changelog keeps whatever old row the replica identity provides (all of it with FULL).
		AddRow(*t, ChangeOp::Delete, msg.old_tuple, t->route->mode == meta::SyncMode::Upsert);
	}
}

void SlotConsumer::OnTruncate(const cdc::TruncateMessage &msg) {
	for (const auto *rel : msg.relations) {
		auto *t = Target(*rel);
		if (!t) {
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
