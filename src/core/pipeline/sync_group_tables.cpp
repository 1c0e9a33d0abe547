// SyncGroup: the tables side (reconcile with the metadata, start/stop tables, copies, state).
#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/common/thread.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/meta/metadata_store.hpp"
#include "core/pg/pg_connection.hpp"
#include "core/pipeline/snapshot_copier.hpp"
#include "core/pipeline/sync_group.hpp"

#include <chrono>
#include <set>

namespace duckpipe::pipeline {

using Clock = std::chrono::steady_clock;
using meta::TableState;

void SyncGroup::Reconcile(meta::MetadataStore &store, PgConnection &source) {
	auto group = store.FindGroup(group_.name);
	if (!group || !group->enabled || group->mode != config_.mode) {
		log::Info("group.disabled", "group", group_.name, "reason",
		          !group            ? "dropped"
		          : !group->enabled ? "disabled"
		                            : "its mode changed");
		stopped_.store(true);
		return;
	}
	auto mappings = store.ListTables(group_.name);
	RefreshSettings(store, *group, mappings);
	std::set<int64_t> seen;
	for (auto &m : mappings) {
		seen.insert(m.id);
		auto it = tables_.find(m.id);
		if (it != tables_.end() && it->second->mapping.generation != m.generation) {
			log::Info("table.resync", "table", m.SourceName(), "generation", m.generation);
			StopTable(m.id, false, nullptr);
			it = tables_.end();
		}
		if (it != tables_.end()) {
			continue;
		}
		if (m.state == TableState::Errored) {
			auto due = store.RetryDue(m.id);
			if (!due) {
				continue;
			}
			// Retry means a fresh copy: an errored table stopped holding the slot back.
			store.SetState(m.id, m.generation, TableState::Pending);
			m.state = TableState::Pending;
		}
		StartTable(m, source);
	}
	std::vector<int64_t> gone;
	for (const auto &[id, entry] : tables_) {
		if (!seen.count(id)) {
			gone.push_back(id);
		}
	}
	for (auto id : gone) {
		log::Info("table.removed", "table", tables_[id]->mapping.SourceName());
		StopTable(id, true, &source);
	}
	// CATCHUP ends when the table holds nothing the stream gave it before the copy landed. Later
	// transactions do not count: under a steady write load something is always pending.
	for (auto &[id, entry] : tables_) {
		auto &m = entry->mapping;
		auto oldest = entry->route->pending.Oldest();
		if (m.state == TableState::Catchup && !entry->snapshot_running.load() &&
		    (!oldest || *oldest >= entry->catchup_until)) {
			store.SetState(m.id, m.generation, TableState::Streaming);
			m.state = TableState::Streaming;
			log::Info("table.streaming", "table", m.SourceName());
		}
	}
	CheckSourceTables(store, source);
}

void SyncGroup::CheckSourceTables(meta::MetadataStore &store, PgConnection &source) {
	if (tables_.empty()) {
		return;
	}
	// A DROP or RENAME writes nothing to the stream: look the tables up by OID.
	std::string oids = "{";
	for (const auto &[id, entry] : tables_) {
		oids += (oids.size() > 1 ? "," : "") + std::to_string(entry->mapping.source_oid);
	}
	// The WAL end and the slot's position come along for UpdateCatchUp (the slot's position stands
	// for the stream's until the stream has read something).
	auto r = source.Exec("SELECT o::bigint, n.nspname, c.relname, pg_current_wal_lsn()::text, "
	                     "(SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $2) "
	                     "FROM unnest($1::oid[]) o "
	                     "LEFT JOIN pg_class c ON c.oid = o LEFT JOIN pg_namespace n ON n.oid = c.relnamespace",
	                     {oids + "}", group_.slot_name});
	if (r.Rows() > 0) {
		server_wal_end_ = Lsn::Parse(r.Get(0, 3));
		Lsn slot;
		slot_confirmed_ = !r.IsNull(0, 4) && Lsn::TryParse(r.Get(0, 4), slot) ? slot : Lsn();
	}
	std::set<uint32_t> gone;
	std::map<uint32_t, std::pair<std::string, std::string>> names;
	for (int i = 0; i < r.Rows(); i++) {
		auto oid = static_cast<uint32_t>(r.GetInt(i, 0));
		if (r.IsNull(i, 2)) {
			gone.insert(oid);
		} else {
			names[oid] = {std::string(r.Get(i, 1)), std::string(r.Get(i, 2))};
		}
	}
	RefreshSourceNames(store, names);
	if (!gone.empty()) {
		CheckDroppedTables(gone, server_wal_end_);
	}
}

void SyncGroup::UpdateCatchUp() {
	if (!server_wal_end_.IsValid()) {
		return;
	}
	Lsn read = slot_confirmed_;
	{
		std::lock_guard guard(consumer_mutex_);
		if (consumer_) {
			read = std::max(read, consumer_->ReadPosition());
		}
	}
	if (catch_up_.Update(server_wal_end_, read)) {
		int64_t behind_mb = catch_up_.Behind() >> 20;
		if (catch_up_.CatchingUp()) {
			log::Info("group.catching_up", "group", group_.name, "behind_mb", behind_mb, "threshold_mb",
			          catch_up_.Threshold() >> 20);
		} else {
			log::Info("group.caught_up", "group", group_.name, "behind_mb", behind_mb);
		}
	}
	server_wal_end_ = Lsn();
}

void SyncGroup::RefreshSourceNames(meta::MetadataStore &store,
                                   const std::map<uint32_t, std::pair<std::string, std::string>> &names) {
	for (const auto &[oid, name] : names) {
		const auto &[schema, table] = name;
		for (auto &[id, entry] : tables_) {
			auto &m = entry->mapping;
			if (m.source_oid != oid || (m.source_schema == schema && m.source_table == table)) {
				continue;
			}
			std::string now_name = schema;
			now_name.append(".").append(table);
			log::Info("table.source_renamed", "table", m.SourceName(), "now", now_name);
			store.SetSourceName(m.id, schema, table);
			m.source_schema = schema;
			m.source_table = table;
		}
	}
}

void SyncGroup::CheckDroppedTables(const std::set<uint32_t> &gone, Lsn now_lsn) {
	auto now = Clock::now();
	for (auto &[id, entry] : tables_) {
		const auto &m = entry->mapping;
		if (!gone.count(m.source_oid)) {
			continue;
		}
		if (!entry->dropped_at.IsValid()) {
			entry->dropped_at = now_lsn;
			entry->dropped_seen = now;
			log::Warn("table.source_dropped", "table", m.SourceName(), "oid", m.source_oid, "wal_lsn",
			          now_lsn.ToString());
			continue;
		}
		// Changes committed before the DROP are still on their way while the slot trails it (the
		// stream held back, a flush retrying): failing the table now would let the slot move past
		// them. However long it takes, the table fails only once they are durable in the lake.
		if (Lsn(confirmed_.load()) < entry->dropped_at) {
			if (now - entry->dropped_seen >= std::chrono::seconds(60)) {
				log::Warn("table.source_dropped_draining", "table", m.SourceName(), "wal_lsn",
				          entry->dropped_at.ToString(), "confirmed_lsn", Lsn(confirmed_.load()).ToString());
				entry->dropped_seen = now;
			}
			continue;
		}
		std::string msg = "source table " + m.SourceName() + " (oid " + std::to_string(m.source_oid) +
		                  ") was dropped; its lake table " + m.TargetName() +
		                  " keeps the rows synced before the DROP; remove it with `duckpipe remove-table " +
		                  m.SourceName() + "` (add --drop-target to drop the lake table too)";
		log::Error("table.source_dropped", "table", m.SourceName(), "error", msg);
		// HandleEvents stops the table before the next check.
		Post({.kind = Event::Kind::Failed, .mapping_id = m.id, .generation = m.generation, .lsn = {}, .message = msg});
	}
}

namespace {

std::string DroppedMessage(const meta::TableMapping &m) {
	return "source table " + m.SourceName() + " (oid " + std::to_string(m.source_oid) +
	       ") was dropped; remove it with `duckpipe remove-table " + m.SourceName() + "`";
}

} // namespace

void SyncGroup::FailAtStart(const meta::TableMapping &m, const std::string &message) {
	log::Error("table.unsupported", "table", m.SourceName(), "error", message);
	Post({.kind = Event::Kind::Failed, .mapping_id = m.id, .generation = m.generation, .lsn = {}, .message = message});
}

void SyncGroup::StartTable(const meta::TableMapping &m, PgConnection &source) {
	bool needs_copy = m.state == TableState::Pending || m.state == TableState::Snapshot || !m.lake_table_id;
	TableSchema schema;
	bool source_dropped = false;
	try {
		schema = TableSchema::Describe(source, m.source_oid, m.sync_mode);
	} catch (const Error &e) {
		if (e.Retryable()) {
			throw; // the source is unreachable for now: the control loop reconnects and tries again
		}
		std::string msg = e.what();
		source_dropped = e.Kind() == ErrorKind::Source && msg.find("does not exist") != std::string::npos;
		if (!source_dropped || needs_copy) {
			if (source_dropped) {
				msg = DroppedMessage(m);
			}
			FailAtStart(m, msg);
			return;
		}
		// Dropped while the daemon was away: its changes before the DROP may still be in the slot.
		// Resume it from the lake (its recorded layout); CheckSourceTables fails it once they are in.
		log::Warn("table.source_dropped_resuming", "table", m.SourceName(), "oid", m.source_oid);
		schema.mode = m.sync_mode;
		schema.source.oid = m.source_oid;
		schema.source.schema = m.source_schema;
		schema.source.name = m.source_table;
	}
	// Before anything else: a table PostgreSQL refuses to publish (unlogged, temporary, ...) fails
	// alone, with the reason, and the group's other tables go on.
	if (!source_dropped && !JoinPublication(m, schema, source)) {
		return;
	}
	auto entry = std::make_unique<TableEntry>();
	entry->config = TableSettings(m.config);
	entry->config.live = std::make_shared<LiveConfig>(entry->config);
	entry->table_config = m.config;
	entry->mapping = m;
	entry->rows_synced = m.rows_synced;
	auto route = std::make_shared<TableRoute>(budget_);
	route->mapping_id = m.id;
	route->generation = m.generation;
	route->source_oid = m.source_oid;
	route->source_name = m.SourceName();
	route->mode = m.sync_mode;
	entry->route = route;

	if (!needs_copy) {
		std::optional<SourceLayout> layout;
		route->applied_lsn.store(LoadAppliedLsn(m, &layout).value);
		route->snapshot_lsn.store(m.snapshot_lsn ? m.snapshot_lsn->value : 1);
		if (layout) {
			// Resume from what the lake holds: the source may have moved on (DDL while stopped), and
			// the stream replays the changes in between with their own Relation messages.
			try {
				schema = LakeTableSchema(schema, *m.lake_table_id, *layout);
			} catch (const Error &e) {
				if (e.Retryable()) {
					throw;
				}
				FailAtStart(m, e.what());
				return;
			}
		} else if (source_dropped) {
			FailAtStart(m, DroppedMessage(m));
			return;
		}
	}
	route->SetKeyColumns(schema.key_columns);
	int64_t id = m.id;
	int generation = m.generation;
	FlushWorkerEvents events;
	events.flushed = [this, id, generation](Lsn lsn, int64_t rows) {
		Post({.kind = Event::Kind::Flushed, .mapping_id = id, .generation = generation, .lsn = lsn, .rows = rows});
	};
	events.failed = [this, id, generation](const std::string &message) {
		Post({.kind = Event::Kind::Failed, .mapping_id = id, .generation = generation, .lsn = {}, .message = message});
	};
	events.retrying = [this, id, generation](const std::string &message, int failures, int64_t retry_in_ms) {
		Post({.kind = Event::Kind::Retrying,
		      .mapping_id = id,
		      .generation = generation,
		      .lsn = {},
		      .rows = failures,
		      .message = message,
		      .duration_ms = retry_in_ms});
	};
	entry->worker =
	    std::make_unique<FlushWorker>(route, m, schema, SourceConninfo(), entry->config, writer_, std::move(events));
	entry->worker->Start(catch_up_.CatchingUp());
	if (!needs_copy) {
		entry->worker->CopyDone(*m.lake_table_id);
	}

	{
		std::lock_guard guard(consumer_mutex_);
		routes_[m.source_oid] = route;
		workers_[m.id] = entry->worker.get();
		if (consumer_) {
			consumer_->SetRoute(route);
		}
	}
	auto *raw = entry.get();
	tables_[m.id] = std::move(entry);
	log::Info("table.started", "table", m.SourceName(), "target", m.TargetName(), "state",
	          meta::TableStateName(m.state), "copy", needs_copy);
	if (needs_copy) {
		// Copied again after the slot was lost, and this generation's copy not committed yet.
		raw->keep_history = m.sync_mode == meta::SyncMode::Append && m.resync_reason == meta::TableMapping::kSlotLost &&
		                    m.lake_table_id && !LoadAppliedLsn(m).IsValid();
		raw->snapshot_running.store(true);
		// The copy gets its own mapping: this thread rewrites entry->mapping (a rename) while it runs.
		raw->snapshot = StartThread(
		    "dp-copy", [this, raw, mapping = m, schema = std::move(schema)] { RunSnapshot(raw, mapping, schema); },
		    [this, raw, id = m.id, generation = m.generation](const std::string &message) {
			    raw->snapshot_running.store(false);
			    Post({.kind = Event::Kind::Failed, .mapping_id = id, .generation = generation, .message = message});
		    });
	}
}

bool SyncGroup::JoinPublication(const meta::TableMapping &m, const TableSchema &schema, PgConnection &source) {
	// The table must be published before a copy's slot is created, so every transaction committed
	// after the copy's snapshot reaches the stream.
	try {
		auto member = source.Exec("SELECT 1 FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid "
		                          "WHERE p.pubname = $1 AND pr.prrelid = $2",
		                          {group_.publication, std::to_string(m.source_oid)});
		if (member.Rows() == 0) {
			source.Exec("ALTER PUBLICATION " + source.QuoteIdent(group_.publication) + " ADD TABLE " +
			            source.QuoteQualified(schema.source.schema, schema.source.name));
		}
		return true;
	} catch (const Error &e) {
		if (e.Retryable()) {
			throw;
		}
		std::string msg = "cannot add " + m.SourceName() + " to publication " + group_.publication + ": " + e.what();
		FailAtStart(m, msg);
		return false;
	}
}

void SyncGroup::RunSnapshot(TableEntry *entry, const meta::TableMapping &m, const TableSchema &schema) {
	// At most max_parallel_snapshots copies at once per group.
	while (!entry->cancel.load()) {
		int running = snapshots_running_.load();
		if (running < config_.max_parallel_snapshots &&
		    snapshots_running_.compare_exchange_weak(running, running + 1)) {
			break;
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
	}
	if (entry->cancel.load()) {
		entry->snapshot_running.store(false);
		return;
	}
	try {
		auto started = Clock::now();
		auto settings = entry->config.Live(); // the table's settings as the copy starts
		SnapshotCopier copier(*settings, writer_);
		copier.KeepHistory(entry->keep_history);
		auto result = copier.Run(
		    SourceConninfo(), m, schema,
		    [&](Lsn snapshot_lsn) {
			    entry->route->applied_lsn.store(0);
			    entry->route->snapshot_lsn.store(snapshot_lsn.value);
			    Post({.kind = Event::Kind::SnapshotLsn,
			          .mapping_id = m.id,
			          .generation = m.generation,
			          .lsn = snapshot_lsn});
		    },
		    entry->cancel);
		entry->route->applied_lsn.store(result.snapshot_lsn.value - 1);
		// Posted before the worker may flush: a worker failing on its first flush must be handled
		// after the copy's event, or the copy's CATCHUP would revive the table it just stopped.
		Post({.kind = Event::Kind::CopyDone,
		      .mapping_id = m.id,
		      .generation = m.generation,
		      .lsn = Lsn(result.snapshot_lsn.value - 1),
		      .rows = result.rows,
		      .lake_table_id = result.lake_table_id,
		      .duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()});
		entry->worker->CopyDone(result.lake_table_id);
	} catch (const std::exception &e) {
		if (!entry->cancel.load()) {
			log::Error("snapshot.failed", "table", m.SourceName(), "error", e.what());
			Post({.kind = Event::Kind::Failed,
			      .mapping_id = m.id,
			      .generation = m.generation,
			      .lsn = {},
			      .message = std::string("initial copy failed: ") + e.what()});
		}
	}
	snapshots_running_.fetch_sub(1);
	entry->snapshot_running.store(false);
}

void SyncGroup::StopTable(int64_t mapping_id, bool leave_publication, PgConnection *source) {
	auto it = tables_.find(mapping_id);
	if (it == tables_.end()) {
		return;
	}
	auto &entry = *it->second;
	entry.cancel.store(true);
	{
		std::lock_guard guard(consumer_mutex_);
		if (consumer_) {
			consumer_->RemoveRoute(entry.mapping.source_oid);
		}
		routes_.erase(entry.mapping.source_oid);
		workers_.erase(mapping_id);
	}
	entry.route->active.store(false);
	entry.route->pending.Clear();
	if (entry.snapshot.joinable()) {
		entry.snapshot.join();
	}
	entry.worker->Stop(false);
	if (leave_publication && source) {
		try {
			// By OID: the mapping's name is stale after a rename, and may even name another table now.
			auto r = source->Exec("SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c "
			                      "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_publication_rel pr ON "
			                      "pr.prrelid = c.oid JOIN pg_publication p ON p.oid = pr.prpubid "
			                      "WHERE c.oid = $1 AND p.pubname = $2",
			                      {std::to_string(entry.mapping.source_oid), group_.publication});
			if (r.Rows() > 0) {
				source->Exec("ALTER PUBLICATION " + source->QuoteIdent(group_.publication) + " DROP TABLE " +
				             std::string(r.Get(0, 0)));
			}
		} catch (const Error &e) {
			log::Debug("publication.drop_table_failed", "table", entry.mapping.SourceName(), "error", e.what());
		}
	}
	tables_.erase(it);
}

void SyncGroup::HandleEvents(meta::MetadataStore &store, PgConnection &) {
	std::vector<Event> events;
	{
		std::lock_guard guard(events_mutex_);
		events.swap(events_);
	}
	for (const auto &ev : events) {
		auto it = tables_.find(ev.mapping_id);
		TableEntry *entry =
		    it != tables_.end() && it->second->mapping.generation == ev.generation ? it->second.get() : nullptr;
		// A copy's events for a table stopped meanwhile (failed, removed, resynced) are stale: applied,
		// they would bring an ERRORED table back to CATCHUP without the changes its worker dropped.
		if (!entry && (ev.kind == Event::Kind::SnapshotLsn || ev.kind == Event::Kind::CopyDone)) {
			log::Info("table.stale_event", "mapping_id", ev.mapping_id, "generation", ev.generation);
			continue;
		}
		switch (ev.kind) {
		case Event::Kind::SnapshotLsn:
			store.SetSnapshotLsn(ev.mapping_id, ev.generation, ev.lsn);
			store.SetState(ev.mapping_id, ev.generation, TableState::Snapshot);
			if (entry) {
				entry->mapping.state = TableState::Snapshot;
				entry->mapping.snapshot_lsn = ev.lsn;
			}
			break;
		case Event::Kind::CopyDone:
			store.SetLakeTableId(ev.mapping_id, ev.generation, ev.lake_table_id);
			store.RecordProgress(ev.mapping_id, ev.generation, ev.lsn, ev.rows);
			store.RecordSnapshotStats(ev.mapping_id, ev.generation, ev.duration_ms, ev.rows);
			store.ClearError(ev.mapping_id, ev.generation);
			store.SetState(ev.mapping_id, ev.generation, TableState::Catchup);
			if (entry) {
				entry->mapping.state = TableState::Catchup;
				entry->mapping.lake_table_id = ev.lake_table_id;
				entry->rows_synced = ev.rows;
				std::lock_guard guard(consumer_mutex_);
				entry->catchup_until = consumer_ ? consumer_->Received() : Lsn();
			}
			break;
		case Event::Kind::Flushed:
			if (entry) {
				entry->rows_synced += ev.rows;
				store.RecordProgress(ev.mapping_id, ev.generation, ev.lsn, entry->rows_synced);
				if (entry->retry_recorded) {
					store.ClearError(ev.mapping_id, ev.generation);
					entry->retry_recorded = false;
				}
			}
			break;
		case Event::Kind::Retrying:
			if (entry) {
				store.RecordRetry(ev.mapping_id, ev.generation, ev.message, static_cast<int>(ev.rows), ev.duration_ms);
				entry->retry_recorded = true;
			}
			break;
		case Event::Kind::Failed:
			store.RecordError(ev.mapping_id, ev.generation, ev.message, config_.max_retry_backoff_s);
			if (entry) {
				StopTable(ev.mapping_id, false, nullptr);
			}
			break;
		}
	}
}

void SyncGroup::RefreshFigures() {
	GroupFigures figures;
	figures.name = group_.name;
	figures.queued_bytes = budget_.Used();
	figures.backpressured = budget_.Full();
	figures.catching_up = catch_up_.CatchingUp();
	figures.confirmed_lsn = confirmed_.load();
	std::vector<CompactionTarget> targets;
	for (const auto &[id, entry] : tables_) {
		int64_t lake_table_id = entry->worker->LakeTableId();
		if (lake_table_id > 0 && !entry->worker->Failed() && !entry->snapshot_running.load()) {
			targets.push_back({.mapping_id = id,
			                   .lake_table_id = lake_table_id,
			                   .name = entry->mapping.TargetName(),
			                   .route = entry->route,
			                   .settings = entry->config.live});
		}
	}
	compactor_.SetTargets(std::move(targets));
	compactor_.Start();
	for (const auto &[id, entry] : tables_) {
		TableFigures table;
		table.mapping_id = id;
		table.queued_changes = entry->route->queue.Rows();
		table.buffered_rows = static_cast<int64_t>(entry->worker->BufferedRows());
		table.flush_count = entry->worker->FlushCount();
		table.last_flush_ms = entry->worker->LastFlushMs();
		table.last_flush_phases = entry->worker->LastFlushPhases();
		table.flushing = entry->worker->Flushing();
		table.duckdb_memory_bytes = entry->worker->DuckdbMemoryBytes();
		table.compactions = entry->route->compactions.load();
		table.compaction_files_merged = entry->route->compaction_files_merged.load();
		table.last_compaction_unix_us = entry->route->last_compaction_unix_us.load();
		table.data_files = entry->route->data_files.load();
		figures.queued_changes += table.queued_changes;
		figures.active_flushes += table.flushing ? 1 : 0;
		figures.tables.push_back(table);
	}
	std::lock_guard guard(figures_mutex_);
	figures_ = std::move(figures);
}

GroupFigures SyncGroup::Figures() const {
	std::lock_guard guard(figures_mutex_);
	return figures_;
}

void SyncGroup::ReportRuntime(PgConnection &meta) {
	if (tables_.empty()) {
		return;
	}
	std::string ids = "{", queued = "{", buffered = "{", ages = "{";
	// Compactions since the last report (the metadata adds them up across restarts), the last one's
	// time and the live data files (NULL: not counted).
	std::string compactions = "{", merged = "{", last = "{", files = "{";
	std::vector<std::pair<TableEntry *, std::pair<int64_t, int64_t>>> reported;
	auto now = Clock::now();
	bool first = true;
	auto add = [&first](std::string &list, const std::string &value) { list += (first ? "" : ",") + value; };
	for (const auto &[id, entry] : tables_) {
		auto since = entry->worker->OldestPendingSince();
		std::string age = since ? std::to_string(std::chrono::duration<double>(now - *since).count()) : "NULL";
		const auto &route = *entry->route;
		int64_t c = route.compactions.load(), m = route.compaction_files_merged.load();
		int64_t at = route.last_compaction_unix_us.load(), n = route.data_files.load();
		add(ids, std::to_string(id));
		add(queued, std::to_string(route.queue.Rows()));
		add(buffered, std::to_string(entry->worker->BufferedRows()));
		add(ages, age);
		add(compactions, std::to_string(c - entry->reported_compactions));
		add(merged, std::to_string(m - entry->reported_files_merged));
		add(last, at > 0 ? std::to_string(at) : "NULL");
		add(files, n >= 0 ? std::to_string(n) : "NULL");
		reported.push_back({entry.get(), {c, m}});
		first = false;
	}
	auto close = [](std::string &list) { list += "}"; };
	for (auto *list : {&ids, &queued, &buffered, &ages, &compactions, &merged, &last, &files}) {
		close(*list);
	}
	meta.Exec("UPDATE duckpipe.table_mappings m SET queued_changes = v.q, buffered_rows = v.b, "
	          "oldest_pending_at = CASE WHEN v.age IS NULL THEN NULL ELSE now() - make_interval(secs => v.age) END, "
	          "compaction_count = m.compaction_count + v.dc, compaction_files_merged = m.compaction_files_merged + "
	          "v.dm, last_compaction_at = coalesce(to_timestamp(v.lc::float8 / 1000000), m.last_compaction_at), "
	          "data_files = v.nf "
	          "FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::float8[], $5::bigint[], $6::bigint[], "
	          "$7::bigint[], $8::bigint[]) AS v(id, q, b, age, dc, dm, lc, nf) "
	          "WHERE m.id = v.id",
	          {ids, queued, buffered, ages, compactions, merged, last, files});
	for (auto &[entry, counts] : reported) {
		entry->reported_compactions = counts.first;
		entry->reported_files_merged = counts.second;
	}
}

} // namespace duckpipe::pipeline
