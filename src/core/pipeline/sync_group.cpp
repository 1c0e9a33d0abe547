#include "core/pipeline/sync_group.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/lake/catalog_loader.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/meta/metadata_store.hpp"
#include "core/meta/progress_store.hpp"
#include "core/pg/pg_connection.hpp"
#include "core/pg/replication_connection.hpp"
#include "core/pipeline/snapshot_copier.hpp"

#include <chrono>
#include <set>

namespace duckpipe::pipeline {

using Clock = std::chrono::steady_clock;
using meta::TableState;

SyncGroup::SyncGroup(const PipelineConfig &config, meta::SyncGroup group, lake::LakeWriter &writer)
    : config_(config), group_(std::move(group)), writer_(writer), budget_(config.max_queued_bytes) {}

SyncGroup::~SyncGroup() {
	Stop(false);
}

std::string SyncGroup::SourceConninfo() const {
	return group_.conninfo ? *group_.conninfo : config_.source_conninfo;
}

Lsn SyncGroup::Confirmed() const {
	return Lsn(confirmed_.load());
}

void SyncGroup::Start() {
	control_ = std::thread([this] { ControlLoop(); });
}

void SyncGroup::Wake() {
	wake_.store(true);
}

void SyncGroup::Stop(bool finish) {
	if (!control_.joinable()) {
		return;
	}
	finish_.store(finish);
	// Stop reading WAL at a transaction boundary first, so what the workers flush is final.
	{
		std::lock_guard guard(consumer_mutex_);
		if (consumer_) {
			consumer_->RequestPause();
		}
	}
	for (int i = 0; i < 100; i++) {
		std::lock_guard guard(consumer_mutex_);
		if (!consumer_ || consumer_->Paused()) {
			break;
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
	stop_.store(true);
	budget_.Interrupt();
	control_.join();
}

void SyncGroup::Post(Event event) {
	std::lock_guard guard(events_mutex_);
	events_.push_back(std::move(event));
}

bool SyncGroup::Prepare(PgConnection &source) {
	auto level = source.Exec("SHOW wal_level");
	if (level.Get(0, 0) != "logical") {
		throw Error(ErrorKind::Source,
		            "wal_level is '" + std::string(level.Get(0, 0)) + "' on the source of group " + group_.name,
		            {.hint = "set wal_level = logical in postgresql.conf and restart the server"});
	}
	auto pub = source.Exec("SELECT 1 FROM pg_publication WHERE pubname = $1", {group_.publication});
	if (pub.Rows() == 0) {
		// Partitions publish as their root, so a partitioned table lands in one lake table.
		source.Exec("CREATE PUBLICATION " + source.QuoteIdent(group_.publication) +
		            " WITH (publish_via_partition_root = true)");
		log::Info("publication.created", "group", group_.name, "publication", group_.publication);
	}
	auto slot = source.Exec("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", {group_.slot_name});
	if (slot.Rows() > 0) {
		return false;
	}
	ReplicationConnection repl(SourceConninfo());
	auto created = repl.CreateSlot(group_.slot_name, false, SlotSnapshot::Nothing);
	log::Info("slot.created", "group", group_.name, "slot", group_.slot_name, "lsn",
	          created.consistent_point.ToString());
	return true;
}

void SyncGroup::ControlLoop() {
	int failures = 0;
	std::unique_ptr<PgConnection> meta;
	std::unique_ptr<meta::MetadataStore> store;
	std::unique_ptr<PgConnection> source;
	while (!stop_.load()) {
		try {
			meta = std::make_unique<PgConnection>(config_.source_conninfo,
			                                      PgConnection::Options{.application_name = "pg_duckpipe control"});
			store = std::make_unique<meta::MetadataStore>(*meta);
			meta->Exec("LISTEN duckpipe_changed");
			source = group_.conninfo ? std::make_unique<PgConnection>(*group_.conninfo) : nullptr;
			PgConnection &src = source ? *source : *meta;
			bool lost = Prepare(src);
			auto tables = store->ListTables(group_.name);
			if (lost) {
				for (const auto &t : tables) {
					if (t.state != TableState::Pending) {
						log::Warn("table.resync_after_slot_loss", "table", t.SourceName(), "slot", group_.slot_name);
						store->ResyncTable(t.id);
					}
				}
			}
			auto last_report = Clock::now();
			auto last_reconcile = Clock::time_point{};
			bool notified = true;
			while (!stop_.load()) {
				HandleEvents(*store, src);
				if (slot_recreated_.exchange(false)) {
					for (const auto &t : store->ListTables(group_.name)) {
						store->ResyncTable(t.id);
					}
				}
				// On a metadata notification at once; otherwise every second for retries and state
				// transitions that depend on time or on the workers.
				if (notified || Clock::now() - last_reconcile >= std::chrono::seconds(1)) {
					Reconcile(*store, src);
					last_reconcile = Clock::now();
				}
				if (stopped_.load()) {
					break;
				}
				// Only once the tables are routed: a consumer that streamed before would drop (and then
				// confirm) the backlog of every table, as if no table were synced.
				if (!consumer_thread_.joinable()) {
					consumer_thread_ = std::thread([this] { ConsumerLoop(); });
				}
				if (Clock::now() - last_report >= std::chrono::seconds(2)) {
					ReportRuntime(*meta);
					if (confirmed_.load()) {
						store->SetGroupConfirmedLsn(group_.name, Lsn(confirmed_.load()));
					}
					last_report = Clock::now();
				}
				if (!wake_.exchange(false)) {
					meta->WaitReadable(250);
				}
				notified = !meta->DrainNotifications().empty();
			}
			failures = 0;
			break;
		} catch (const std::exception &e) {
			failures++;
			int backoff_s = std::min(1 << std::min(failures, 6), 60);
			log::Error("group.error", "group", group_.name, "error", e.what(), "retry_in_s", backoff_s);
			for (int i = 0; i < backoff_s * 10 && !stop_.load(); i++) {
				std::this_thread::sleep_for(std::chrono::milliseconds(100));
			}
		}
	}

	// Shutdown: copies are cancelled, workers flush what ends at a transaction boundary, then the
	// consumer confirms the final position and stops.
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
	stopped_.store(true);
	log::Info("group.stopped", "group", group_.name, "confirmed_lsn", Lsn(confirmed_.load()).ToString());
}

void SyncGroup::ConsumerLoop() {
	int failures = 0;
	while (!stop_consumer_.load()) {
		SlotConsumerOptions options;
		options.conninfo = SourceConninfo();
		options.slot_name = group_.slot_name;
		options.publication = group_.publication;
		options.proto_version = config_.proto_version;
		options.status_interval_ms = static_cast<int>(config_.status_interval_ms);
		options.application_name = "pg_duckpipe " + group_.name;
		SlotConsumer *consumer = nullptr;
		{
			std::lock_guard guard(consumer_mutex_);
			consumer_ = std::make_unique<SlotConsumer>(options, budget_);
			consumer = consumer_.get();
			for (const auto &[oid, route] : routes_) {
				consumer_->SetRoute(route);
			}
		}
		std::atomic<bool> done{false};
		std::thread watcher([&] {
			while (!done.load()) {
				confirmed_.store(std::max(confirmed_.load(), consumer->Confirmed().value));
				std::this_thread::sleep_for(std::chrono::milliseconds(100));
			}
		});
		try {
			consumer->Run(stop_consumer_);
			failures = 0;
		} catch (const std::exception &e) {
			failures++;
			log::Error("slot.error", "group", group_.name, "slot", group_.slot_name, "error", e.what());
			const auto *err = dynamic_cast<const Error *>(&e);
			if (err && err->Context().sqlstate == "42704" &&
			    std::string(err->what()).find("replication slot") != std::string::npos) {
				slot_recreated_.store(true);
			}
		}
		done.store(true);
		watcher.join();
		confirmed_.store(std::max(confirmed_.load(), consumer->Confirmed().value));
		if (stop_consumer_.load()) {
			break;
		}
		// The stream restarts from the slot's confirmed position and sends again everything that is
		// not durable yet: drop what the workers hold of it.
		ResetAfterStreamLoss();
		int backoff_ms = std::min(250 << std::min(failures, 8), 30000);
		for (int i = 0; i < backoff_ms / 50 && !stop_consumer_.load(); i++) {
			std::this_thread::sleep_for(std::chrono::milliseconds(50));
		}
	}
}

void SyncGroup::ResetAfterStreamLoss() {
	std::lock_guard guard(consumer_mutex_);
	for (auto &[id, worker] : workers_) {
		worker->Reset();
		worker->Route()->pending.Clear();
	}
}

Lsn SyncGroup::LoadAppliedLsn(const meta::TableMapping &mapping, std::optional<SourceLayout> *layout) {
	PgConnection catalog(config_.LakeCatalogConninfo(), {.application_name = "pg_duckpipe control"});
	auto progress = meta::ProgressStore(catalog).Load(mapping);
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
	PgConnection catalog(config_.LakeCatalogConninfo(), {.application_name = "pg_duckpipe control"});
	auto state = lake::LoadCatalog(catalog, config_.lake_schema);
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
