#include "core/pipeline/sync_group.hpp"

#include "core/common/backoff.hpp"
#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/common/thread.hpp"
#include "core/lake/catalog_loader.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/meta/group_lock.hpp"
#include "core/meta/metadata_store.hpp"
#include "core/meta/progress_store.hpp"
#include "core/pg/pg_connection.hpp"
#include "core/pg/replication_connection.hpp"
#include "core/pg/wal_level.hpp"
#include "core/pipeline/settings_resolver.hpp"
#include "core/pipeline/snapshot_copier.hpp"

#include <algorithm>
#include <chrono>
#include <set>

namespace duckpipe::pipeline {

using Clock = std::chrono::steady_clock;

SyncGroup::SyncGroup(const PipelineConfig &config, meta::SyncGroup group, lake::LakeWriter &writer, WakeSignal *owner)
    : config_(config), group_(std::move(group)), writer_(writer), budget_(config.Live()->max_queued_bytes),
      owner_(owner), catch_up_(config.Live()->background_flush_backlog_mb << 20),
      compactor_(group_.name, config_, writer_) {
	stream_in_progress_.store(config.Live()->stream_in_progress != 0);
}

SyncGroup::~SyncGroup() {
	Stop(false);
}

std::string SyncGroup::SourceConninfo() const {
	return group_.conninfo ? *group_.conninfo : config_.source_conninfo;
}

void SyncGroup::Start() {
	// The control loop handles its own failures; what escapes it anyway stops the group, loudly.
	control_ = StartThread(
	    "dp-control", [this] { ControlLoop(); },
	    [this](const std::string &) {
		    stopped_.store(true);
		    if (owner_) {
			    owner_->Notify();
		    }
	    });
}

void SyncGroup::Wake() {
	wake_.store(true);
	signal_.Notify();
}

void SyncGroup::MarkStarted() {
	if (!started_.exchange(true) && owner_) {
		owner_->Notify();
	}
}

void SyncGroup::Stop(bool finish) {
	if (!control_.joinable()) {
		return;
	}
	finish_.store(finish);
	// Stop reading WAL at a transaction boundary first, so what the workers flush is final. A
	// transaction still arriving gets a quarter of the shutdown timeout; a consumer that is not
	// streaming (the source restarting) cannot pause and is not waited for. The mutex is never held
	// while waiting: the consumer thread needs it to recover from a stream loss.
	auto deadline = Clock::now() + std::chrono::milliseconds(config_.shutdown_timeout_ms / 4);
	while (finish && !stopped_.load() && Clock::now() < deadline) {
		bool paused = true;
		{
			std::lock_guard guard(consumer_mutex_);
			if (consumer_) {
				consumer_->RequestPause();
				paused = consumer_->Paused() || !consumer_->Streaming();
			}
		}
		if (paused) {
			break;
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
	log::Info("group.stopping", "group", group_.name, "finish", finish);
	stop_.store(true);
	budget_.Interrupt();
	signal_.Notify();
	control_.join();
}

void SyncGroup::Post(Event event) {
	{
		std::lock_guard guard(events_mutex_);
		events_.push_back(std::move(event));
	}
	signal_.Notify();
}

PgConnection &SyncGroup::CatalogConnection() {
	if (!catalog_ || !catalog_->IsHealthy()) {
		catalog_ = std::make_unique<PgConnection>(config_.LakeCatalogConninfo(),
		                                          PgConnection::Options{.application_name = "pg_duckpipe control"});
	}
	return *catalog_;
}

bool SyncGroup::ApplyLiveConfig() {
	if (!config_.live || config_.live->Version() == config_version_) {
		return false;
	}
	config_version_ = config_.live->Version();
	settings_resolved_ = false;
	return true;
}

PipelineConfig SyncGroup::TableSettings(const meta::ConfigMap &table_config) const {
	return ResolveSettings(*config_.Live(), {.global = global_config_, .group = group_config_, .table = table_config},
	                       meta::ConfigScope::Table);
}

void SyncGroup::RefreshSettings(meta::MetadataStore &store, const meta::SyncGroup &group,
                                const std::vector<meta::TableMapping> &mappings) {
	auto global = store.GlobalConfig();
	bool layers_moved = !settings_resolved_ || global != global_config_ || group.config != group_config_;
	global_config_ = std::move(global);
	group_config_ = group.config;
	if (layers_moved) {
		auto resolved = ResolveSettings(*config_.Live(), {.global = global_config_, .group = group_config_},
		                                meta::ConfigScope::Group);
		stream_in_progress_.store(resolved.stream_in_progress != 0);
		catch_up_.SetThreshold(resolved.background_flush_backlog_mb << 20);
		if (resolved.max_queued_bytes != budget_.Limit()) {
			log::Info("group.queue_budget", "group", group_.name, "max_queued_bytes", resolved.max_queued_bytes);
			budget_.SetLimit(resolved.max_queued_bytes);
		}
	}
	for (const auto &m : mappings) {
		auto it = tables_.find(m.id);
		if (it == tables_.end() || it->second->mapping.generation != m.generation) {
			continue;
		}
		auto &entry = *it->second;
		if (!layers_moved && entry.table_config == m.config) {
			continue;
		}
		entry.table_config = m.config;
		auto next = TableSettings(m.config);
		if (!SameSettings(*entry.config.Live(), next)) {
			log::Info("table.settings", "table", m.SourceName(), "flush_interval_ms", next.flush_interval_ms,
			          "flush_batch_threshold", next.flush_batch_threshold, "duckdb_buffer_memory_mb",
			          next.duckdb_buffer_memory_mb, "duckdb_flush_memory_mb", next.duckdb_flush_memory_mb,
			          "duckdb_threads", next.duckdb_threads);
			entry.config.live->Set(next); // the worker reads it before its next item (within 100 ms)
		}
	}
	settings_resolved_ = true;
}

bool SyncGroup::WaitForRunnerLock(PgConnection &meta, meta::MetadataStore &store) {
	bool logged = false;
	while (!stop_.load()) {
		if (meta::GroupLock::TryAcquire(meta, group_.id)) {
			if (logged) {
				log::Info("group.lock_acquired", "group", group_.name);
			}
			held_lock_ = true;
			lock_backend_pid_ = meta.BackendPid();
			return true;
		}
		int holder_pid = meta::GroupLock::HolderPid(meta, group_.id);
		if (holder_pid == 0 || (held_lock_ && holder_pid == lock_backend_pid_)) {
			// Free by now, or still held by this group's previous session, which is exiting: retry.
			signal_.Wait(-1, 50);
			continue;
		}
		if (held_lock_) {
			// Lost with the connection that held it, and taken since: the other runner owns the group
			// now. Stop (the pipeline starts this group afresh, waiting for the lock).
			log::Warn("group.lock_lost", "group", group_.name, "holder", meta::GroupLock::Holder(meta, group_.id));
			finish_.store(false);
			return false;
		}
		if (!logged) {
			auto holder = meta::GroupLock::Holder(meta, group_.id);
			log::Warn("group.locked", "group", group_.name, "holder", holder.empty() ? "unknown" : holder);
			store.SetGroupError(group_.name, "sync group " + group_.name + " is run by another process (" +
			                                     (holder.empty() ? std::string("holder unknown") : holder) +
			                                     "); this " + meta::GroupModeName(config_.mode) +
			                                     " waits until it stops");
			logged = true;
		}
		MarkStarted();
		auto until = Clock::now() + std::chrono::milliseconds(config_.lock_retry_ms);
		while (!stop_.load() && Clock::now() < until) {
			signal_.Wait(-1, 100);
		}
	}
	return false;
}

void SyncGroup::Prepare(meta::MetadataStore &store, PgConnection &source) {
	RequireLogicalWalLevel(source, "the source of group " + group_.name);
	auto pub = source.Exec("SELECT 1 FROM pg_publication WHERE pubname = $1", {group_.publication});
	if (pub.Rows() == 0) {
		// Partitions publish as their root, so a partitioned table lands in one lake table.
		source.Exec("CREATE PUBLICATION " + source.QuoteIdent(group_.publication) +
		            " WITH (publish_via_partition_root = true)");
		log::Info("publication.created", "group", group_.name, "publication", group_.publication);
	}
	EnsureSlot(store, source);
}

void SyncGroup::ControlLoop() {
	int failures = 0;
	std::unique_ptr<PgConnection> meta;
	std::unique_ptr<meta::MetadataStore> store;
	std::unique_ptr<PgConnection> source;
	while (!stop_.load()) {
		try {
			store.reset(); // it refers to the connection replaced below
			meta = std::make_unique<PgConnection>(
			    config_.source_conninfo,
			    PgConnection::Options{.application_name = std::string("pg_duckpipe ") +
			                                              meta::GroupModeName(config_.mode) + " " + group_.name});
			store = std::make_unique<meta::MetadataStore>(*meta);
			if (!WaitForRunnerLock(*meta, *store)) {
				break;
			}
			meta->Exec("LISTEN duckpipe_changed");
			source = group_.conninfo ? std::make_unique<PgConnection>(*group_.conninfo) : nullptr;
			PgConnection &src = source ? *source : *meta;
			Prepare(*store, src);
			store->SetGroupError(group_.name, std::nullopt);
			RunControlPasses(*meta, *store, src);
			failures = 0;
			break;
		} catch (const std::exception &e) {
			failures++;
			auto backoff_s = std::chrono::duration_cast<std::chrono::seconds>(
			                     Backoff(std::chrono::seconds(2), std::chrono::seconds(60)).Delay(failures))
			                     .count();
			log::Error("group.error", "group", group_.name, "error", e.what(), "retry_in_s", backoff_s);
			RecordGroupError(store.get(), meta.get(), e.what());
			MarkStarted();
			catalog_.reset();
			auto until = Clock::now() + std::chrono::seconds(backoff_s);
			while (!stop_.load() && Clock::now() < until) {
				signal_.Wait(-1, 100);
			}
		}
	}

	ShutDown(store.get(), meta.get(), source.get());
}

// The control loop proper, on working connections: returns on Stop, throws when a step fails.
void SyncGroup::RunControlPasses(PgConnection &meta, meta::MetadataStore &store, PgConnection &src) {
	RuntimeReport report{.last = Clock::now()};
	auto last_slot_check = Clock::now();
	auto last_reconcile = Clock::time_point{};
	bool notified = true;
	while (!stop_.load()) {
		notified = ApplyLiveConfig() || notified;
		HandleEvents(store, src);
		// The stream failing on the slot, or a periodic look: a slot dropped or invalidated
		// while streaming is recreated here, with one resync of every table.
		if (check_slot_.exchange(false) || Clock::now() - last_slot_check >= std::chrono::seconds(5)) {
			EnsureSlot(store, src);
			last_slot_check = Clock::now();
		}
		// On a notification or Wake() at once; otherwise every reconcile interval for retries and
		// state transitions that depend on time or on the workers.
		if (notified || Clock::now() - last_reconcile >= std::chrono::milliseconds(config_.reconcile_interval_ms)) {
			Reconcile(store, src);
			last_reconcile = Clock::now();
		}
		MarkStarted();
		if (stopped_.load()) {
			break;
		}
		StartConsumer();
		RecordStreamError(store);
		RefreshFigures();
		UpdateCatchUp();
		for (const auto &[id, entry] : tables_) {
			entry->worker->Supervise(catch_up_.CatchingUp());
		}
		if (Clock::now() - report.last >= std::chrono::seconds(2)) {
			ReportProgress(meta, store, report);
		}
		// Sleeps until a notification, a wake-up (metadata, a worker's event, Stop) or the next
		// periodic step.
		signal_.Wait(meta.Socket(), 250);
		notified = wake_.exchange(false);
		notified = !meta.DrainNotifications().empty() || notified;
	}
}

// Only once the tables are routed: a consumer that streamed before would drop (and then
// confirm) the backlog of every table, as if no table were synced.
void SyncGroup::StartConsumer() {
	if (consumer_thread_.joinable()) {
		return;
	}
	consumer_thread_ = StartThread(
	    "dp-consumer", [this] { ConsumerLoop(); },
	    [this](const std::string &m) {
		    std::lock_guard guard(stream_error_mutex_);
		    stream_error_ = "replication stream of slot " + group_.slot_name + " stopped: " + m;
	    });
}

void SyncGroup::ReportProgress(PgConnection &meta, meta::MetadataStore &store, RuntimeReport &report) {
	ReportRuntime(meta);
	// Only when it moved: the write notifies every listener of the metadata.
	if (confirmed_.load() != report.confirmed) {
		report.confirmed = confirmed_.load();
		store.SetGroupConfirmedLsn(group_.name, Lsn(report.confirmed));
	}
	// How much the group held in memory at most (queues, batches, rows held for a copy).
	if (budget_.Peak() > report.peak) {
		report.peak = budget_.Peak();
		log::Info("group.queue_peak", "group", group_.name, "bytes", report.peak, "limit", budget_.Limit());
	}
	report.last = Clock::now();
}

// Copies are cancelled, workers flush what ends at a transaction boundary, then the consumer
// confirms the final position and stops. The connections are those of the last control pass (any
// may be missing or broken).
void SyncGroup::ShutDown(meta::MetadataStore *store, PgConnection *meta, PgConnection *source) {
	compactor_.Stop(); // a compaction in progress ends first: it may hold a table's lake lock
	for (auto &[id, entry] : tables_) {
		entry->cancel.store(true);
	}
	for (auto &[id, entry] : tables_) {
		if (entry->snapshot.joinable()) {
			entry->snapshot.join();
		}
		entry->worker->Stop(finish_.load());
	}
	try {
		if (store && meta && meta->IsHealthy()) {
			PgConnection &src = source ? *source : *meta;
			HandleEvents(*store, src);
		}
	} catch (const std::exception &e) {
		log::Warn("group.final_state_failed", "group", group_.name, "error", e.what());
	}
	stop_consumer_.store(true);
	budget_.Interrupt();
	if (consumer_thread_.joinable()) {
		consumer_thread_.join();
	}
	try {
		if (store && confirmed_.load()) {
			store->SetGroupConfirmedLsn(group_.name, Lsn(confirmed_.load()));
		}
	} catch (const std::exception &) {
	}
	{
		std::lock_guard guard(consumer_mutex_);
		workers_.clear();
		routes_.clear();
	}
	tables_.clear();
	catalog_.reset();
	stopped_.store(true);
	log::Info("group.stopped", "group", group_.name, "confirmed_lsn", Lsn(confirmed_.load()).ToString(),
	          "queue_peak_bytes", budget_.Peak());
	if (owner_) {
		owner_->Notify();
	}
}

void SyncGroup::ConsumerLoop() {
	int failures = 0;
	while (!stop_consumer_.load()) {
		SlotConsumerOptions options;
		options.conninfo = SourceConninfo();
		options.slot_name = group_.slot_name;
		options.publication = group_.publication;
		options.proto_version = config_.proto_version;
		options.stream_in_progress = stream_in_progress_.load();
		options.spill_dir = config_.temp_dir;
		// Streamed transactions kept in memory are bounded like a batch being built.
		options.stream_memory_bytes = budget_.BatchBytes();
		options.status_interval_ms = static_cast<int>(config_.status_interval_ms);
		options.application_name = "pg_duckpipe " + group_.name;
		// A stop waits up to a quarter of its timeout for a transaction boundary, and up to another
		// quarter for the server to end the stream: the workers' final flushes keep the rest.
		options.stop_drain_ms = static_cast<int>(std::clamp<int64_t>(config_.shutdown_timeout_ms / 4, 1, 2000));
		options.confirmed_out = &confirmed_;
		SlotConsumer *consumer = nullptr;
		{
			std::lock_guard guard(consumer_mutex_);
			consumer_ = std::make_unique<SlotConsumer>(options, budget_);
			consumer = consumer_.get();
			for (const auto &[oid, route] : routes_) {
				consumer_->SetRoute(route);
			}
		}
		stream_started_ms_.store(
		    std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count());
		try {
			consumer->Run(stop_consumer_);
			failures = 0;
		} catch (const std::exception &e) {
			failures++;
			log::Error("slot.error", "group", group_.name, "slot", group_.slot_name, "error", e.what());
			{
				std::lock_guard guard(stream_error_mutex_);
				stream_error_ = std::string("replication stream of slot ") + group_.slot_name + ": " + e.what();
			}
			signal_.Notify();
			const auto *err = dynamic_cast<const Error *>(&e);
			if (err && err->Context().sqlstate == "42704" &&
			    std::string(err->what()).find("replication slot") != std::string::npos) {
				check_slot_.store(true);
			}
		}
		// The group is stopping: its workers are (being) stopped, so there is nothing to reset and
		// no reason to reconnect; what is not confirmed is replayed after a restart.
		if (stop_consumer_.load() || stop_.load()) {
			break;
		}
		// The stream restarts from the slot's confirmed position and sends again everything that is
		// not durable yet: drop what the workers hold of it.
		ResetAfterStreamLoss();
		auto until =
		    Clock::now() + Backoff(std::chrono::milliseconds(250), std::chrono::seconds(30)).Delay(failures + 1);
		while (!stop_consumer_.load() && !stop_.load() && Clock::now() < until) {
			std::this_thread::sleep_for(std::chrono::milliseconds(50));
		}
	}
}

void SyncGroup::ResetAfterStreamLoss() {
	// Under the mutex, so the control thread cannot stop and free a worker meanwhile; Reset returns
	// at once for a worker that already left its loop.
	std::lock_guard guard(consumer_mutex_);
	for (auto &[id, worker] : workers_) {
		worker->Reset();
		worker->Route()->pending.Clear();
	}
}

Lsn SyncGroup::LoadAppliedLsn(const meta::TableMapping &mapping, std::optional<SourceLayout> *layout) {
	auto progress = meta::ProgressStore(CatalogConnection()).Load(mapping);
	if (!progress) {
		return Lsn();
	}
	if (layout && progress->source_columns) {
		*layout = SourceLayout::FromJson(*progress->source_columns);
	}
	return progress->applied;
}

TableSchema SyncGroup::LakeTableSchema(const TableSchema &described, int64_t lake_table_id,
                                       const SourceLayout &layout) {
	auto state = lake::LoadCatalog(CatalogConnection(), config_.lake_schema);
	const auto *table = state.FindTable(lake_table_id);
	if (!table) {
		throw Error(ErrorKind::Lake,
		            "lake table id " + std::to_string(lake_table_id) + " of " + described.source.schema + "." +
		                described.source.name + " no longer exists",
		            {.hint = "run `duckpipe resync-table " + described.source.schema + "." + described.source.name +
		                     "` to copy it again"});
	}
	return TableSchema::FromLake(described, *table, layout);
}

} // namespace duckpipe::pipeline
