#include "core/pipeline/pipeline.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/common/memory_release.hpp"
#include "core/common/private_dir.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/meta/metadata_store.hpp"
#include "core/meta/migrations.hpp"
#include "core/meta/progress_store.hpp"
#include "core/pg/pg_connection.hpp"
#include "core/pg/wal_level.hpp"
#include "core/pipeline/sync_group.hpp"

#include <algorithm>
#include <chrono>

namespace duckpipe::pipeline {

using Clock = std::chrono::steady_clock;

Pipeline::Pipeline(PipelineConfig config) : config_(std::move(config)) {
	LimitMallocArenas();
	live_ = std::make_shared<LiveConfig>(config_);
	config_.live = live_;
}

Pipeline::~Pipeline() {
	for (auto &[name, group] : groups_) {
		group->Stop(false);
	}
}

void Pipeline::RequestStop() {
	stop_.store(true);
	signal_.Notify();
}

void Pipeline::Wake() {
	wake_.store(true);
	signal_.Notify();
}

void Pipeline::Reload(const PipelineConfig &config) {
	auto current = live_->Get();
	auto restart_needed = [&](const char *name, bool changed) {
		if (changed) {
			log::Warn("pipeline.reload_ignored", "setting", name, "reason", "takes effect after a restart");
		}
	};
	restart_needed("source", config.source_conninfo != current->source_conninfo);
	restart_needed("lake-catalog", config.LakeCatalogConninfo() != current->LakeCatalogConninfo());
	restart_needed("lake-schema", config.lake_schema != current->lake_schema);
	restart_needed("data-path", config.data_path != current->data_path);
	restart_needed("temp-dir", config.temp_dir != current->temp_dir);
	restart_needed("group", config.groups != current->groups);
	restart_needed("max-parallel-snapshots", config.max_parallel_snapshots != current->max_parallel_snapshots);
	PipelineConfig next = *current;
	next.flush_interval_ms = config.flush_interval_ms;
	next.flush_batch_threshold = config.flush_batch_threshold;
	next.max_queued_bytes = config.max_queued_bytes;
	next.max_retry_backoff_s = config.max_retry_backoff_s;
	next.auto_compact = config.auto_compact;
	next.compact_min_files = config.compact_min_files;
	next.compact_target_file_size_mb = config.compact_target_file_size_mb;
	next.compact_interval_ms = config.compact_interval_ms;
	live_->Set(next);
	log::Info("pipeline.reloaded", "flush_interval_ms", next.flush_interval_ms, "flush_batch_threshold",
	          next.flush_batch_threshold, "max_queued_bytes", next.max_queued_bytes, "max_retry_backoff_s",
	          next.max_retry_backoff_s);
	Wake();
}

std::vector<GroupFigures> Pipeline::Figures() const {
	std::vector<GroupFigures> figures;
	std::lock_guard guard(groups_mutex_);
	for (const auto &[name, group] : groups_) {
		figures.push_back(group->Figures());
	}
	return figures;
}

void Pipeline::SyncGroups(PgConnection &conn) {
	meta::MetadataStore store(conn);
	auto wanted = [&](const meta::SyncGroup &g) {
		return g.enabled && g.mode == config_.mode &&
		       (config_.groups.empty() ||
		        std::find(config_.groups.begin(), config_.groups.end(), g.name) != config_.groups.end());
	};
	auto groups = store.ListGroups();
	for (const auto &g : groups) {
		if (wanted(g) && !groups_.count(g.name)) {
			log::Info("group.starting", "group", g.name, "publication", g.publication, "slot", g.slot_name);
			auto group = std::make_unique<SyncGroup>(config_, g, *writer_, &signal_);
			group->Start();
			std::lock_guard guard(groups_mutex_);
			groups_[g.name] = std::move(group);
		}
	}
	// A group stops itself when disabled or dropped; forget it so enabling it again restarts it.
	for (auto it = groups_.begin(); it != groups_.end();) {
		if (it->second->Stopped()) {
			it->second->Stop(true);
			std::lock_guard guard(groups_mutex_);
			it = groups_.erase(it);
		} else {
			++it;
		}
	}
}

void Pipeline::RequireOwnMode(meta::MetadataStore &store) const {
	for (const auto &name : config_.groups) {
		auto g = store.FindGroup(name);
		if (!g || g->mode == config_.mode) {
			continue;
		}
		std::string runner = g->mode == meta::GroupMode::Bgworker
		                         ? "the pg_duckpipe extension's background worker (mode bgworker)"
		                         : "the duckpipe daemon (mode daemon)";
		std::string mine = meta::GroupModeName(config_.mode);
		std::string message = "sync group '";
		message.append(name).append("' belongs to ").append(runner).append(", not to this ").append(mine);
		std::string hint = "run it there, create a group of mode ";
		hint.append(mine).append(" (duckpipe create-group NAME --mode ").append(mine);
		hint.append(", or SELECT duckpipe.create_group('NAME', mode => '").append(mine).append("'))");
		hint.append(", or hand this one over: UPDATE duckpipe.sync_groups SET mode = '").append(mine);
		hint.append("' WHERE name = '").append(name).append("'");
		throw Error(ErrorKind::Config, message, {.hint = hint});
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

bool Pipeline::AllStarted() const {
	return std::all_of(groups_.begin(), groups_.end(), [](const auto &g) { return g.second->Started(); });
}

void Pipeline::Start() {
	// A data path that cannot hold files fails before any catalog (or the source) records anything.
	if (!config_.data_path.empty()) {
		lake::LakeConfig{.data_path = config_.data_path}.PrepareDataPath();
	}
	// What a killed runner (kill -9, the OOM killer, a server crash) left in the temp directory: its
	// spilled rows would otherwise stay there until the disk fills.
	auto swept = SweepAbandonedDirectories(config_.temp_dir);
	if (swept.directories > 0) {
		log::Info("temp.swept", "temp_dir", config_.temp_dir.empty() ? std::string("(system)") : config_.temp_dir,
		          "directories", swept.directories, "bytes", swept.bytes);
	}
	{
		PgConnection source(config_.source_conninfo, {.application_name = "pg_duckpipe"});
		meta::Migrate(source);
		meta::MetadataStore store(source);
		if (store.ListGroups().empty()) {
			store.EnsureDefaultGroup(config_.mode);
		}
		RequireOwnMode(store);
		// Groups streaming from this database cannot start without logical decoding: say so and stop
		// instead of retrying forever (a group with its own source was checked by create-group).
		bool local_group = false;
		for (const auto &g : store.ListGroups()) {
			local_group = local_group ||
			              (g.enabled && !g.conninfo && g.mode == config_.mode &&
			               (config_.groups.empty() ||
			                std::find(config_.groups.begin(), config_.groups.end(), g.name) != config_.groups.end()));
		}
		if (local_group) {
			RequireLogicalWalLevel(source, "the source " + source.RedactedConninfo());
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
	lake_config.key_index_dir = config_.temp_dir;
	writer_ = std::make_unique<lake::LakeWriter>(lake_config);
	log::Info("pipeline.started", "data_path", writer_->DataPath(), "lake_schema", config_.lake_schema,
	          "flush_interval_ms", config_.flush_interval_ms, "groups",
	          config_.groups.empty() ? std::string("all enabled") : std::to_string(config_.groups.size()));
}

void Pipeline::Run() {
	Start();
	// One long-lived connection listens for metadata changes; groups are re-read on a notification,
	// a Wake(), a group starting or stopping, and otherwise only now and then.
	auto poll = std::chrono::milliseconds(std::max<int64_t>(config_.reconcile_interval_ms * 5, 1000));
	std::unique_ptr<PgConnection> conn;
	bool ready = false;
	bool sync = true;
	auto next_sync = Clock::now();
	while (!stop_.load()) {
		if (sync || Clock::now() >= next_sync) {
			try {
				if (!conn || !conn->IsHealthy()) {
					conn = std::make_unique<PgConnection>(config_.source_conninfo,
					                                      PgConnection::Options{.application_name = "pg_duckpipe"});
					conn->Exec("LISTEN duckpipe_changed");
				}
				conn->DrainNotifications();
				SyncGroups(*conn);
				next_sync = Clock::now() + poll;
			} catch (const Error &e) {
				log::Error("pipeline.metadata_error", "error", e.what());
				conn.reset();
				next_sync = Clock::now() + std::chrono::seconds(1);
			}
			sync = false;
		}
		if (!ready && AllStarted()) {
			ready = true;
			log::Info("pipeline.ready", "groups", groups_.size());
			if (on_ready_) {
				on_ready_();
			}
		}
		auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_sync - Clock::now()).count();
		bool woken = false;
		try {
			// A notification read along with a query's results is in libpq's buffer, not the socket.
			woken = conn && !conn->DrainNotifications().empty();
			woken = woken ||
			        signal_.Wait(conn ? conn->Socket() : -1, static_cast<int>(std::clamp<int64_t>(wait, 0, 60000)));
			sync = woken || (conn && !conn->DrainNotifications().empty());
		} catch (const Error &) {
			conn.reset();
			sync = true;
		}
		if (wake_.exchange(false)) {
			for (auto &[name, group] : groups_) {
				group->Wake();
			}
		}
	}
	log::Info("pipeline.stopping", "groups", groups_.size());
	for (auto &[name, group] : groups_) {
		group->Stop(true);
	}
	{
		std::lock_guard guard(groups_mutex_);
		groups_.clear();
	}
	log::Info("pipeline.stopped");
}

} // namespace duckpipe::pipeline
