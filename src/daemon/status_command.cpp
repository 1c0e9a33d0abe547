#include "daemon/status_command.hpp"

#include "core/common/lsn.hpp"
#include "core/meta/metadata_store.hpp"
#include "core/pg/pg_connection.hpp"
#include "daemon/result_printer.hpp"

#include <CLI/CLI.hpp>

#include <map>

namespace duckpipe::daemon {

StatusCommand::StatusCommand(CLI::App &app, const GlobalOptions &global) : global_(global) {
	sub_ = app.add_subcommand("status", "Show every synced table: state, progress, lag and errors");
	sub_->add_option("--group", group_, "Only this sync group");
	sub_->add_option("--format", format_, "table, csv or json")->capture_default_str();
}

bool StatusCommand::Selected() const {
	return sub_->parsed();
}

int StatusCommand::Run(std::ostream &out) const {
	auto format = ParseOutputFormat(format_);
	PgConnection conn(global_.SourceConninfo());
	meta::MetadataStore store(conn);

	// Per group, from its own source: where WAL is now and where the slot has confirmed.
	struct GroupPosition {
		std::optional<Lsn> current;
		std::optional<Lsn> confirmed;
		bool slot_active = false;
	};
	std::map<std::string, GroupPosition> positions;
	auto groups = store.ListGroups();
	for (const auto &g : groups) {
		if (!group_.empty() && g.name != group_) {
			continue;
		}
		GroupPosition pos;
		std::unique_ptr<PgConnection> remote;
		if (g.conninfo) {
			remote = std::make_unique<PgConnection>(*g.conninfo);
		}
		PgConnection &src = remote ? *remote : conn;
		pos.current = Lsn::Parse(src.Exec("SELECT pg_current_wal_lsn()").Get(0, 0));
		auto slot = src.Exec("SELECT confirmed_flush_lsn, active FROM pg_replication_slots WHERE slot_name = $1",
		                     {g.slot_name});
		if (slot.Rows() > 0 && !slot.IsNull(0, 0)) {
			pos.confirmed = Lsn::Parse(slot.Get(0, 0));
			pos.slot_active = slot.GetBool(0, 1);
		}
		positions[g.name] = pos;
	}

	// Written by the process running each group, every 2 s.
	struct Runtime {
		std::optional<std::string> pending_age;
		int64_t queued = 0;
		std::optional<std::string> compactions, files_merged, last_compaction, data_files;
	};
	auto r = conn.Exec("SELECT id, round(extract(epoch FROM now() - oldest_pending_at)::numeric, 1)::text, "
	                   "queued_changes + buffered_rows, compaction_count, compaction_files_merged, "
	                   "to_char(last_compaction_at, 'YYYY-MM-DD HH24:MI:SSOF'), data_files "
	                   "FROM duckpipe.table_mappings");
	std::map<int64_t, Runtime> runtime;
	for (int i = 0; i < r.Rows(); i++) {
		runtime[r.GetInt(i, 0)] = {.pending_age = r.GetOptional(i, 1),
		                           .queued = r.GetInt(i, 2),
		                           .compactions = r.GetOptional(i, 3),
		                           .files_merged = r.GetOptional(i, 4),
		                           .last_compaction = r.GetOptional(i, 5),
		                           .data_files = r.GetOptional(i, 6)};
	}

	using K = ResultTable::Kind;
	ResultTable result;
	result.names = {"group",
	                "table",
	                "target",
	                "state",
	                "mode",
	                "rows_synced",
	                "applied_lsn",
	                "lag_bytes",
	                "lag_seconds",
	                "queued",
	                "data_files",
	                "compaction_count",
	                "compaction_files_merged",
	                "last_compaction_at",
	                "error"};
	result.kinds = {K::Text,   K::Text,   K::Text,   K::Text,   K::Text,   K::Number, K::Text, K::Number,
	                K::Number, K::Number, K::Number, K::Number, K::Number, K::Text,   K::Text};
	// A group that fails (no free replication slot, publication refused) or lost its slot gets a
	// row of its own, ahead of its tables: table NULL, state ERRORED while it fails.
	for (const auto &g : groups) {
		if ((!group_.empty() && g.name != group_) || (!g.last_error && !g.notice)) {
			continue;
		}
		std::optional<std::string> message;
		if (g.last_error) {
			message = "group: " + *g.last_error + (g.last_error_at ? " (since " + *g.last_error_at + ")" : "");
		}
		if (g.notice) {
			message = (message ? *message + "; " : std::string()) + "group notice: " + *g.notice;
		}
		result.rows.push_back({g.name, std::nullopt, std::nullopt,
		                       std::string(g.last_error ? "ERRORED" : (g.enabled ? "OK" : "DISABLED")), std::nullopt,
		                       std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
		                       std::nullopt, std::nullopt, std::nullopt, message});
	}
	for (const auto &m : store.ListTables(group_.empty() ? std::nullopt : std::optional(group_))) {
		const auto &pos = positions[m.group_name];
		bool live = m.state == meta::TableState::Streaming || m.state == meta::TableState::Catchup;
		std::optional<std::string> lag_bytes;
		std::optional<std::string> lag_seconds;
		const auto &rt = runtime[m.id];
		const auto &pending_age = rt.pending_age;
		if (live && pos.current) {
			// Up to date as far as the slot confirmed: an idle table is not behind.
			Lsn done = std::max(m.applied_lsn.value_or(Lsn()), pos.confirmed.value_or(Lsn()));
			lag_bytes = std::to_string(pos.current->value > done.value ? pos.current->value - done.value : 0);
			lag_seconds = pending_age.value_or("0");
		}
		std::optional<std::string> error = m.error_message;
		if (m.state == meta::TableState::Errored && m.retry_at) {
			error = *error + " (retry at " + *m.retry_at + ")";
		}
		if (!error && m.resync_reason == meta::TableMapping::kSlotLost) {
			error = m.sync_mode == meta::SyncMode::Append
			            ? "copied again after the replication slot was lost: changes made meanwhile are missing "
			              "from the changelog; the re-copied rows have duckpipe_op 'R'"
			            : "copied again after the replication slot was lost";
		}
		result.rows.push_back({m.group_name, m.SourceName(), m.TargetName(), std::string(TableStateName(m.state)),
		                       std::string(SyncModeName(m.sync_mode)), std::to_string(m.rows_synced),
		                       m.applied_lsn ? std::optional(m.applied_lsn->ToString()) : std::nullopt, lag_bytes,
		                       lag_seconds, std::to_string(rt.queued), rt.data_files, rt.compactions, rt.files_merged,
		                       rt.last_compaction, error});
	}
	PrintResult(result, format, out);
	return 0;
}

} // namespace duckpipe::daemon
