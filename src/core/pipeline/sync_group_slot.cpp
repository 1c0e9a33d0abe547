// SyncGroup: the group's replication slot (created, found lost, recreated) and the group's health
// as `status` shows it.
#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/meta/metadata_store.hpp"
#include "core/pg/pg_connection.hpp"
#include "core/pg/replication_connection.hpp"
#include "core/pipeline/sync_group.hpp"

namespace duckpipe::pipeline {

using meta::TableState;

std::optional<SyncGroup::SlotProblem> SyncGroup::FindSlotProblem(PgConnection &source) {
	auto r = source.Exec("SELECT coalesce(wal_status, '') FROM pg_replication_slots WHERE slot_name = $1",
	                     {group_.slot_name});
	if (r.Rows() == 0) {
		return SlotProblem::Missing;
	}
	// max_slot_wal_keep_size removed WAL the slot still needed: it can never stream again.
	if (r.Get(0, 0) == "lost") {
		return SlotProblem::Invalidated;
	}
	return std::nullopt;
}

void SyncGroup::ClaimSlotName(meta::MetadataStore &store, PgConnection &source) {
	auto r = source.Exec("SELECT s.database, current_database(), (SELECT oid FROM pg_database WHERE datname = "
	                     "current_database())::text FROM pg_replication_slots s WHERE s.slot_name = $1 AND "
	                     "s.database IS DISTINCT FROM current_database()",
	                     {group_.slot_name});
	if (r.Rows() == 0) {
		return;
	}
	std::string other = r.IsNull(0, 0) ? std::string("(a physical slot)") : std::string(r.Get(0, 0));
	// The documented default name (two databases' `default` groups both want duckpipe_slot_default):
	// the later one takes duckpipe_slot_<group>_<database oid>, as create_group picks it. Only before
	// this group streamed: a slot it streamed from is never renamed.
	std::string default_name = "duckpipe_slot_" + group_.name;
	if (group_.slot_name == default_name && !consumer_thread_.joinable()) {
		std::string claimed = "duckpipe_slot_" + group_.name.substr(0, 38) + "_" + std::string(r.Get(0, 2));
		log::Info("slot.renamed", "group", group_.name, "slot", group_.slot_name, "owner_database", other, "new_slot",
		          claimed);
		store.SetGroupSlot(group_.name, claimed);
		group_.slot_name = claimed;
		return;
	}
	throw Error(ErrorKind::Config,
	            "replication slot " + group_.slot_name + " of sync group " + group_.name + " belongs to database " +
	                other + ", not to " + std::string(r.Get(0, 1)),
	            {.hint = "replication slot names are shared by every database of a server: give the group a slot name "
	                     "of its own (UPDATE duckpipe.sync_groups SET slot_name = '...' WHERE name = '" +
	                     group_.name + "')"});
}

void SyncGroup::EnsureSlot(meta::MetadataStore &store, PgConnection &source) {
	ClaimSlotName(store, source);
	auto problem = FindSlotProblem(source);
	if (!problem) {
		return;
	}
	// A slot missing although tables were synced was dropped behind our back: the changes since its
	// confirmed position are gone from the WAL, so every table is copied again, once.
	std::vector<int64_t> synced;
	for (const auto &t : store.ListTables(group_.name)) {
		if (t.state != TableState::Pending || tables_.count(t.id)) {
			synced.push_back(t.id);
		}
	}
	bool lost = *problem == SlotProblem::Invalidated || !synced.empty();
	std::string why;
	if (lost) {
		why = *problem == SlotProblem::Invalidated
		          ? "replication slot " + group_.slot_name +
		                " was invalidated (wal_status 'lost': the WAL it needed exceeded max_slot_wal_keep_size)"
		          : "replication slot " + group_.slot_name + " was dropped while the group still synced tables";
		log::Error("slot.lost", "group", group_.name, "slot", group_.slot_name, "error", why, "tables_to_copy_again",
		           synced.size());
		// Resync first and stop the old generations, so nothing streamed from the new slot reaches
		// them and every copy takes its snapshot after the new slot exists.
		for (auto id : synced) {
			store.ResyncTable(id, meta::TableMapping::kSlotLost);
		}
		std::vector<int64_t> running;
		for (const auto &[id, entry] : tables_) {
			running.push_back(id);
		}
		for (auto id : running) {
			StopTable(id, false, nullptr);
		}
	}
	if (lost) {
		store.SetGroupNotice(group_.name, why + "; recreated and " + std::to_string(synced.size()) +
		                                      " table(s) copied again (append-mode changelogs miss the changes "
		                                      "made meanwhile; their re-copied rows have duckpipe_op 'R')");
	}
	if (*problem == SlotProblem::Invalidated) {
		source.Exec("SELECT pg_drop_replication_slot($1)", {group_.slot_name});
	}
	ReplicationConnection repl(SourceConninfo());
	auto created = repl.CreateSlot(group_.slot_name, false, SlotSnapshot::Nothing);
	if (lost) {
		log::Error("slot.recreated", "group", group_.name, "slot", group_.slot_name, "lsn",
		           created.consistent_point.ToString(), "error", why);
	} else {
		log::Info("slot.created", "group", group_.name, "slot", group_.slot_name, "lsn",
		          created.consistent_point.ToString());
	}
}

void SyncGroup::RecordGroupError(meta::MetadataStore *store, PgConnection *meta, const std::string &message) {
	if (!store || !meta || !meta->IsHealthy()) {
		return;
	}
	try {
		store->SetGroupError(group_.name, message);
	} catch (const std::exception &e) {
		log::Debug("group.error_not_recorded", "group", group_.name, "error", e.what());
	}
}

void SyncGroup::RecordStreamError(meta::MetadataStore &store) {
	std::optional<std::string> current;
	{
		std::lock_guard guard(stream_error_mutex_);
		if (stream_error_) {
			// A stream that has run for a while since its last failure is healthy again (a publication
			// error, by contrast, ends each stream within a moment of its start).
			auto started = std::chrono::steady_clock::time_point(std::chrono::milliseconds(stream_started_ms_.load()));
			std::lock_guard consumer_guard(consumer_mutex_);
			if (consumer_ && consumer_->Streaming() &&
			    std::chrono::steady_clock::now() - started >= std::chrono::seconds(10)) {
				stream_error_.reset();
			}
		}
		current = stream_error_;
	}
	if (current == recorded_stream_error_) {
		return;
	}
	store.SetGroupError(group_.name, current);
	recorded_stream_error_ = current;
}

} // namespace duckpipe::pipeline
