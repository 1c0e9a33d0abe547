// FlushWorker's other half: a flush, from the compacted buffer to the lake commit that records the
// table's progress with it (the first half, flush_worker.cpp, takes changes off the queue).
#include "core/pipeline/flush_worker.hpp"

#include "core/common/backoff.hpp"
#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/common/memory_release.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/lake/catalog_loader.hpp"
#include "core/lake/lake_reader.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/meta/progress_store.hpp"
#include "core/pg/pg_connection.hpp"
#include "core/pipeline/commit_provenance.hpp"
#include "core/pipeline/crash_point.hpp"
#include "core/pipeline/flush_slots.hpp"
#include "core/pipeline/row_match_apply.hpp"

namespace duckpipe::pipeline {

using Q = DuckConnection;

bool FlushWorker::ShouldFlush(Clock::time_point now) const {
	if (!copy_done_.load() || !at_boundary_ || now < retry_after_) {
		return false;
	}
	uint64_t rows = buffer_.BufferedRows() + staged_rows_;
	if (rows == 0 && !truncate_pending_ && pending_lake_changes_.empty()) {
		return false;
	}
	if (static_cast<int64_t>(rows) >= settings_->flush_batch_threshold) {
		return true;
	}
	return first_row_at_ && now - *first_row_at_ >= std::chrono::milliseconds(settings_->flush_interval_ms);
}

void FlushWorker::Flush() {
	// Staged rows belong to transactions up to last_commit_lsn_: they go into this flush. (None are
	// staged while a commit's outcome is unknown: nothing is taken from the queue then.)
	if (!unresolved_commit_ && !AppendStaged()) {
		return;
	}
	Lsn up_to = last_commit_lsn_;
	uint64_t rows = buffer_.BufferedRows();
	auto started = Clock::now();
	flushing_.store(true);
	struct FlushingFlag {
		std::atomic<bool> &flag;
		~FlushingFlag() { flag.store(false); }
	} flushing_flag{flushing_};
	flush_phases_ = {};
	try {
		if (!ResolveUnknownCommit(up_to)) {
			if (rows > 0) {
				FlushSlots::Slot slot;
				buffer_.Flush([&](DuckConnection &duck, const flush::ChangeBuffer::Compacted &compacted) {
					flush_phases_.load_ms = compacted.load_ms;
					flush_phases_.compact_ms = compacted.compact_ms;
					duckdb_memory_bytes_.store(buffer_.MemoryBytes()); // with the compacted batch
					Apply(&duck, &compacted, up_to);
				});
			} else {
				Apply(nullptr, nullptr, up_to);
			}
		}
	} catch (const Error &e) {
		bool transient = e.Retryable() || e.Kind() == ErrorKind::Io;
		if (!transient) {
			Fail(e.what());
			return;
		}
		transient_failures_++;
		auto backoff = Backoff(std::chrono::seconds(1), std::chrono::seconds(settings_->max_retry_backoff_s))
		                   .Delay(transient_failures_ + 1);
		retry_after_ = Clock::now() + backoff;
		log::Warn("flush.retry", "table", mapping_.SourceName(), "error", e.what(), "retry_in_ms", backoff.count());
		if (events_.retrying) {
			events_.retrying(e.what(), transient_failures_, static_cast<int64_t>(backoff.count()));
		}
		return;
	}
	transient_failures_ = 0;
	truncate_pending_ = false;
	lake_schema_ = schema_;
	pending_lake_changes_.clear();
	delete_always_ = false;
	commit_times_.clear();
	batch_first_lsn_ = Lsn();
	batch_first_time_us_ = 0;
	first_row_at_.reset();
	buffered_rows_.store(0);
	duckdb_memory_bytes_.store(0);
	{
		std::lock_guard guard(stats_mutex_);
		oldest_pending_.reset();
		last_phases_ = flush_phases_;
	}
	route_->applied_lsn.store(std::max(route_->applied_lsn.load(), up_to.value));
	route_->pending.Flushed(up_to);
	ReleaseFreedMemory(); // the buffer's DuckDB just closed
	auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
	flush_count_.fetch_add(1);
	last_flush_ms_.store(ms);
	auto phase = [](double v) { return fmt::format("{:.1f}", v); };
	log::Info("flush.done", "table", mapping_.SourceName(), "rows", rows, "applied_lsn", up_to.ToString(), "ms", ms,
	          "load_ms", phase(flush_phases_.load_ms), "compact_ms", phase(flush_phases_.compact_ms), "write_ms",
	          phase(flush_phases_.write_ms), "commit_ms", phase(flush_phases_.commit_ms), "appends",
	          appends_since_flush_);
	appends_since_flush_ = 0;
	if (events_.flushed) {
		events_.flushed(up_to, static_cast<int64_t>(rows));
	}
}

// A commit of an earlier attempt whose COMMIT answer was lost and the catalog could not be asked:
// re-applying the batch would duplicate it if it did commit. -> true when it committed this batch.
bool FlushWorker::ResolveUnknownCommit(Lsn up_to) {
	if (!unresolved_commit_) {
		return false;
	}
	auto outcome = writer_.ResolveCommit(*unresolved_commit_);
	if (outcome == lake::PendingFiles::Outcome::Unknown) {
		throw Error(ErrorKind::Connection,
		            "whether the last lake commit of " + mapping_.SourceName() + " committed is still unknown",
		            {.table = mapping_.SourceName(),
		             .lsn = unresolved_up_to_,
		             .hint = "nothing to do: the flush waits until the lake catalog answers"});
	}
	auto batch = unresolved_up_to_;
	unresolved_commit_.reset();
	if (outcome == lake::PendingFiles::Outcome::NotCommitted) {
		return false;
	}
	log::Warn("flush.lost_commit_was_durable", "table", mapping_.SourceName(), "applied_lsn", batch.ToString());
	route_->applied_lsn.store(std::max(route_->applied_lsn.load(), batch.value));
	if (batch.value != up_to.value) {
		return false; // the buffer was reset meanwhile: it no longer holds that batch
	}
	buffer_.Clear();
	return true;
}

FlushPhases FlushWorker::LastFlushPhases() const {
	std::lock_guard guard(stats_mutex_);
	return last_phases_;
}

void FlushWorker::Apply(DuckConnection *duck, const flush::ChangeBuffer::Compacted *c, Lsn up_to) {
	auto started = Clock::now();
	int64_t table = lake_table_id_.load();
	std::lock_guard lake_guard(route_->lake_mutex); // no compaction of the table commits meanwhile
	auto commit = writer_.Begin();
	// A lake table dropped behind our back is a permanent error for this table only.
	auto current = commit.FindTable(mapping_.target_schema, mapping_.target_table);
	if (!current || *current != table) {
		throw Error(ErrorKind::Lake,
		            "lake table " + mapping_.TargetName() + " (id " + std::to_string(table) +
		                ") no longer exists in the lake",
		            {.table = mapping_.SourceName(),
		             .lsn = up_to,
		             .hint = "run `duckpipe resync-table " + mapping_.SourceName() + "` to copy it again"});
	}
	// Source DDL first: the rows below have the new columns.
	SchemaChange::StageLake(commit, table, pending_lake_changes_);
	if (truncate_pending_) {
		commit.Truncate(table);
	}
	if (c && c->rows > 0) {
		std::string relation = c->relation;
		// Small flushes go into the catalog (data inlining): keyed deletes find inlined rows, the
		// row match of keyless tables reads files only.
		if (!RowMatchApply::Applies(schema_)) {
			commit.AllowInlining();
		}
		if (RowMatchApply::Applies(schema_)) {
			RowMatchApply::Apply(commit, table, *duck, *c, schema_);
		} else if (c->append_mode) {
			commit.Insert(table, *duck, AppendSelect(*duck, relation));
		} else {
			if (c->unchanged_rows > 0) {
				FillUnchangedFromLake(*duck, *c);
			}
			if (!truncate_pending_ && (!c->only_inserts || delete_always_)) {
				std::string keys;
				for (const auto &k : schema_.key_columns) {
					keys += (keys.empty() ? "" : ", ") + Q::QuoteIdent(k);
				}
				commit.DeleteByKey(table, *duck, schema_.key_columns, "SELECT " + keys + " FROM " + relation);
			}
			std::string cols;
			for (const auto &name : schema_.column_names) {
				cols += (cols.empty() ? "" : ", ") + Q::QuoteIdent(name);
			}
			commit.Insert(table, *duck, "SELECT " + cols + " FROM " + relation + " WHERE _op <> 'D'");
		}
	}
	auto layout = schema_.layout.ToJson();
	commit.AddStatement(
	    [mapping = mapping_, up_to, rows = c ? static_cast<int64_t>(c->rows) : 0, layout](PgConnection &catalog) {
		    return meta::ProgressStore(catalog).RecordSql(mapping, up_to, rows, false, layout);
	    });
	CrashPoint("flush_before_commit");
#ifdef DUCKPIPE_FAULT_INJECTION
	commit.OnCommitSent([] { CrashPoint("flush_commit_sent"); });
#endif
	try {
		CommitProvenance provenance{.kind = CommitProvenance::Kind::Flush,
		                            .group = mapping_.group_name,
		                            .source_table = mapping_.SourceName(),
		                            .target_table = mapping_.TargetName(),
		                            .from_lsn = batch_first_lsn_.IsValid() ? batch_first_lsn_ : up_to,
		                            .source_lsn = up_to,
		                            .from_time_us = batch_first_lsn_.IsValid() ? batch_first_time_us_ : 0,
		                            .source_time_us = up_to == last_commit_lsn_ ? last_commit_time_us_ : 0};
		commit.Commit({.author = std::string("duckpipe"),
		               .message = "sync " + mapping_.SourceName() + " up to " + up_to.ToString(),
		               .extra_info = provenance.ToJson()});
	} catch (const Error &) {
		if (commit.OutcomeUnknown()) {
			unresolved_commit_ = commit.Token();
			unresolved_up_to_ = up_to;
		}
		throw;
	}
	// Write: everything but the catalog transaction (the catalog reads that find the rows to delete too).
	flush_phases_.commit_ms = commit.CommitTimes().catalog_ms;
	flush_phases_.write_ms =
	    std::chrono::duration<double, std::milli>(Clock::now() - started).count() - flush_phases_.commit_ms;
	CrashPoint("flush_after_commit");
}

std::string FlushWorker::AppendSelect(DuckConnection &duck, const std::string &relation) {
	// Every change becomes a row, in source order, with its operation, commit LSN and commit time.
	duck.Execute("CREATE OR REPLACE TEMP TABLE duckpipe_commit_times (lsn BIGINT, commit_time TIMESTAMPTZ)");
	if (!commit_times_.empty()) {
		std::string values;
		for (const auto &[lsn, us] : commit_times_) {
			values += (values.empty() ? "" : ", ") + std::string("(") + std::to_string(lsn.value) + ", to_timestamp(" +
			          std::to_string(us / 1000000) + ") + to_microseconds(" + std::to_string(us % 1000000) + "))";
		}
		duck.Execute("INSERT INTO duckpipe_commit_times VALUES " + values);
	}
	std::string cols;
	for (const auto &name : schema_.column_names) {
		cols += "c." + Q::QuoteIdent(name) + ", ";
	}
	return "SELECT " + cols + "c._op AS " + TableSchema::kOpColumn + ", c._commit_lsn AS " + TableSchema::kLsnColumn +
	       ", t.commit_time AS " + TableSchema::kCommitTimeColumn + " FROM " + relation +
	       " c LEFT JOIN duckpipe_commit_times t ON t.lsn = c._commit_lsn ORDER BY c._seq";
}

void FlushWorker::FillUnchangedFromLake(DuckConnection &duck, const flush::ChangeBuffer::Compacted &c) {
	// An UPDATE that left a TOASTed column unchanged did not send it, and no earlier change in the
	// buffer had it: take it from the row already in the lake.
	if (!catalog_ || !catalog_->IsHealthy()) {
		catalog_ = std::make_unique<PgConnection>(config_.LakeCatalogConninfo(),
		                                          PgConnection::Options{.application_name = "pg_duckpipe flush"});
	}
	auto state = lake::LoadCatalog(*catalog_, config_.lake_schema);
	const auto *table = state.FindTable(lake_table_id_.load());
	if (!table) {
		throw Error(ErrorKind::Lake, "lake table " + mapping_.TargetName() + " vanished during a flush",
		            {.table = mapping_.SourceName()});
	}
	std::string lake_rows = lake::LakeReader::TableQuery(state, *table);
	// The lake table does not have this flush's schema changes yet: name its columns as it does.
	auto lake_name = [&](const std::string &name) -> std::optional<std::string> {
		std::optional<std::string> n = name;
		for (auto it = pending_lake_changes_.rbegin(); it != pending_lake_changes_.rend() && n; ++it) {
			if (it->kind == LakeColumnChange::Kind::Rename && it->new_name == *n) {
				n = it->name;
			} else if (it->kind == LakeColumnChange::Kind::Add && it->name == *n) {
				n.reset();
			}
		}
		return n;
	};
	std::string set;
	for (size_t i = 0; i < schema_.column_names.size(); i++) {
		auto in_lake = lake_name(schema_.column_names[i]);
		if (schema_.key[i] || !in_lake) {
			continue;
		}
		std::string q = Q::QuoteIdent(schema_.column_names[i]);
		set += set.empty() ? "" : ", ";
		set += q;
		set += " = CASE WHEN list_contains(r._unchanged, CAST(" + std::to_string(i) + " AS USMALLINT)) THEN l.";
		set.append(Q::QuoteIdent(*in_lake)).append(" ELSE r.").append(q).append(" END");
	}
	if (set.empty()) {
		return;
	}
	// The lake row is found by the lookup key: the old key for a row an UPDATE moved.
	std::string match;
	for (size_t n = 0; n < schema_.key_columns.size(); n++) {
		const auto &k = schema_.key_columns[n];
		auto in_lake = lake_name(k).value_or(k);
		std::string mine = n < c.lookup_columns.size() ? c.lookup_columns[n] : k;
		match +=
		    std::string(match.empty() ? "" : " AND ") + "r." + Q::QuoteIdent(mine) + " = l." + Q::QuoteIdent(in_lake);
	}
	duck.Execute("UPDATE " + c.relation + " AS r SET " + set + ", _unchanged = NULL FROM (" + lake_rows +
	             ") AS l WHERE r._unchanged IS NOT NULL AND " + match);
}

} // namespace duckpipe::pipeline
