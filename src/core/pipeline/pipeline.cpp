#include "core/pipeline/pipeline.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/meta/metadata_store.hpp"
#include "core/meta/migrations.hpp"
#include "core/meta/progress_store.hpp"
#include "core/pg/pg_connection.hpp"
#include "core/pipeline/sync_group.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

namespace duckpipe::pipeline {

Pipeline::Pipeline(PipelineConfig config) : config_(std::move(config)) {}

Pipeline::~Pipeline() {
	for (auto &[name, group] : groups_) {
		group->Stop(false);
	}
}

void Pipeline::SyncGroups() {
	PgConnection conn(config_.source_conninfo, {.application_name = "pg_duckpipe"});
	meta::MetadataStore store(conn);
	auto wanted = [&](const meta::SyncGroup &g) {
		return g.enabled && (config_.groups.empty() ||
		                     std::find(config_.groups.begin(), config_.groups.end(), g.name) != config_.groups.end());
	};
	auto groups = store.ListGroups();
	for (const auto &g : groups) {
		if (wanted(g) && !groups_.count(g.name)) {
			log::Info("group.starting", "group", g.name, "publication", g.publication, "slot", g.slot_name);
			auto group = std::make_unique<SyncGroup>(config_, g, *writer_);
			group->Start();
			groups_[g.name] = std::move(group);
		}
	}
	// A group stops itself when disabled or dropped; forget it so enabling it again restarts it.
	for (auto it = groups_.begin(); it != groups_.end();) {
		if (it->second->Stopped()) {
			it->second->Stop(true);
			it = groups_.erase(it);
		} else {
			++it;
		}
	}
}

void Pipeline::AdoptLegacyProgress(PgConnection &catalog) {
	PgConnection source(config_.source_conninfo, {.application_name = "pg_duckpipe"});
	auto owner = meta::ProgressStore::LocalIdentity(source);
	int adopted = meta::ProgressStore(catalog).AdoptLegacyRows(owner);
	if (adopted > 0) {
		log::Info("progress.adopted", "rows", adopted, "source", owner.ToString());
	}
}

void Pipeline::Run(const std::atomic<bool> &stop) {
	{
		PgConnection source(config_.source_conninfo, {.application_name = "pg_duckpipe"});
		meta::Migrate(source);
		meta::MetadataStore store(source);
		if (store.ListGroups().empty()) {
			store.EnsureDefaultGroup();
		}
		// Groups streaming from this database cannot start without logical decoding: say so and stop
		// instead of retrying forever (a group with its own source was checked by create-group).
		bool local_group = false;
		for (const auto &g : store.ListGroups()) {
			local_group = local_group ||
			              (g.enabled && !g.conninfo &&
			               (config_.groups.empty() ||
			                std::find(config_.groups.begin(), config_.groups.end(), g.name) != config_.groups.end()));
		}
		auto level = source.Exec("SHOW wal_level");
		if (local_group && level.Get(0, 0) != "logical") {
			throw Error(ErrorKind::Source,
			            "wal_level is '" + std::string(level.Get(0, 0)) + "' on the source " +
			                source.RedactedConninfo() + "; logical replication needs 'logical'",
			            {.hint = "set wal_level = logical in postgresql.conf and restart the server"});
		}
	}
	// The lake catalog's database records each table's progress in the lake commit itself.
	if (config_.LakeCatalogConninfo() != config_.source_conninfo) {
		PgConnection catalog(config_.LakeCatalogConninfo(), {.application_name = "pg_duckpipe"});
		auto applied = meta::Migrate(catalog);
		if (std::find(applied.begin(), applied.end(), 3) != applied.end()) {
			AdoptLegacyProgress(catalog);
		}
	}
	lake::LakeConfig lake_config;
	lake_config.catalog_conninfo = config_.LakeCatalogConninfo();
	lake_config.catalog_schema = config_.lake_schema;
	lake_config.data_path = config_.data_path;
	writer_ = std::make_unique<lake::LakeWriter>(lake_config);
	log::Info("pipeline.started", "data_path", writer_->DataPath(), "lake_schema", config_.lake_schema,
	          "flush_interval_ms", config_.flush_interval_ms, "groups",
	          config_.groups.empty() ? std::string("all enabled") : std::to_string(config_.groups.size()));

	auto next_sync = std::chrono::steady_clock::now();
	while (!stop.load()) {
		if (std::chrono::steady_clock::now() >= next_sync) {
			try {
				SyncGroups();
			} catch (const Error &e) {
				log::Error("pipeline.metadata_error", "error", e.what());
			}
			next_sync = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
	log::Info("pipeline.stopping", "groups", groups_.size());
	for (auto &[name, group] : groups_) {
		group->Stop(true);
	}
	groups_.clear();
	log::Info("pipeline.stopped");
}

} // namespace duckpipe::pipeline
