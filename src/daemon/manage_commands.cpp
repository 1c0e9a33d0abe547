#include "daemon/manage_commands.hpp"

#include "core/common/error.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/meta/metadata_store.hpp"
#include "core/pg/conninfo.hpp"
#include "core/pg/pg_connection.hpp"
#include "core/pg/wal_level.hpp"
#include "core/pipeline/row_match_apply.hpp"
#include "core/pipeline/table_schema.hpp"

#include <CLI/CLI.hpp>

#include <chrono>
#include <memory>
#include <ostream>
#include <thread>

namespace duckpipe::daemon {

using meta::MetadataStore;

ManageCommands::ManageCommands(CLI::App &app, const GlobalOptions &global) : global_(global) {
	add_table_ = app.add_subcommand("add-table", "Start syncing a source table into a lake table");
	add_table_->add_option("source", table_, "Source table (schema.table)")->required();
	add_table_->add_option("target", target_, "Lake table (schema.table; default <table>_ducklake, same schema)");
	add_table_->add_option("--group", group_, "Sync group")->capture_default_str();
	add_table_->add_flag("--no-copy", no_copy_, "Skip the initial copy: stream changes from now on");
	add_table_->add_flag("--append", append_, "Append mode: every change becomes a row (changelog)");

	remove_table_ = app.add_subcommand("remove-table", "Stop syncing a table");
	remove_table_->add_option("table", table_, "Source or lake table")->required();
	remove_table_->add_flag("--drop-target", drop_target_, "Also drop the lake table");

	resync_table_ = app.add_subcommand("resync-table", "Copy a table again from scratch while the others stream");
	resync_table_->add_option("table", table_, "Source or lake table")->required();

	create_group_ = app.add_subcommand("create-group", "Create a sync group (one publication and one slot)");
	create_group_->add_option("name", group_name_, "Group name")->required();
	create_group_->add_option("--publication", publication_, "Publication (default duckpipe_pub_<name>)");
	create_group_->add_option("--slot", slot_, "Replication slot (default duckpipe_slot_<name>)");
	create_group_
	    ->add_option("--mode", mode_,
	                 "Which process runs the group: daemon (`duckpipe run`) or bgworker (the pg_duckpipe extension's "
	                 "background worker)")
	    ->check(CLI::IsMember({"daemon", "bgworker"}))
	    ->capture_default_str();
	auto *conninfo = create_group_->add_option(
	    "--conninfo", conninfo_, "Source database of the group, if not --source (a password here shows in ps)");
	auto *conninfo_file = create_group_->add_option(
	    "--conninfo-file", conninfo_file_,
	    "File holding the group's conninfo (keeps a password out of argv; or use ~/.pgpass / a pg_service.conf)");
	conninfo->excludes(conninfo_file);
	conninfo_file->excludes(conninfo);

	drop_group_ = app.add_subcommand("drop-group", "Drop a sync group");
	drop_group_->add_option("name", group_name_, "Group name")->required();
	drop_group_->add_flag("--force", force_, "Also remove the group's tables from syncing");

	enable_group_ = app.add_subcommand("enable-group", "Resume a sync group");
	enable_group_->add_option("name", group_name_, "Group name")->required();
	disable_group_ = app.add_subcommand("disable-group", "Pause a sync group (its slot keeps WAL)");
	disable_group_->add_option("name", group_name_, "Group name")->required();
}

bool ManageCommands::Selected() const {
	for (auto *sub :
	     {add_table_, remove_table_, resync_table_, create_group_, drop_group_, enable_group_, disable_group_}) {
		if (sub->parsed()) {
			return true;
		}
	}
	return false;
}

int ManageCommands::Run(std::ostream &out) const {
	if (add_table_->parsed()) {
		return AddTable(out);
	}
	if (remove_table_->parsed()) {
		return RemoveTable(out);
	}
	if (resync_table_->parsed()) {
		return ResyncTable(out);
	}
	if (create_group_->parsed()) {
		return CreateGroup(out);
	}
	if (drop_group_->parsed()) {
		return DropGroup(out);
	}
	if (enable_group_->parsed()) {
		return SetGroupEnabled(out, true);
	}
	return SetGroupEnabled(out, false);
}

int ManageCommands::AddTable(std::ostream &out) const {
	PgConnection conn(global_.SourceConninfo());
	MetadataStore store(conn);
	MetadataStore::AddTableRequest request;
	request.source = table_;
	if (!target_.empty()) {
		request.target = target_;
	}
	request.group = group_;
	request.copy_data = !no_copy_;
	request.sync_mode = append_ ? meta::SyncMode::Append : meta::SyncMode::Upsert;
	meta::TableMapping mapping;
	auto group = group_ == MetadataStore::kDefaultGroup ? store.EnsureDefaultGroup() : store.GetGroup(group_);
	// Refuse now what the pipeline could not sync (no key in upsert mode, no columns), with the
	// same message the pipeline would give.
	bool row_match = false;
	auto validate = [&](PgConnection &source, uint32_t oid) {
		row_match = pipeline::RowMatchApply::Applies(pipeline::TableSchema::Describe(source, oid, request.sync_mode));
	};
	// What the table is comes first (a view must not get the primary-key hint), then whether the
	// pipeline could sync it.
	auto add = [&](PgConnection &source, const std::string &where) {
		auto resolved = MetadataStore::ResolveSource(source, table_, where);
		validate(source, resolved.oid);
		return store.AddResolvedTable(request, resolved.oid, resolved.schema, resolved.table);
	};
	if (group.conninfo) {
		// The table lives on the group's own source: resolve it there.
		PgConnection remote(*group.conninfo);
		mapping = add(remote, "the source of group " + group.name + " (" + remote.RedactedConninfo() + ")");
	} else {
		mapping = add(conn, "");
	}
	out << "added " << mapping.SourceName() << " -> " << mapping.TargetName() << " (group " << mapping.group_name
	    << (mapping.copy_data ? ", initial copy" : ", no initial copy")
	    << (mapping.sync_mode == meta::SyncMode::Append ? ", append mode" : "")
	    << (row_match ? ", no key: rows matched by full value (REPLICA IDENTITY FULL)" : "") << ")\n";
	return 0;
}

// Drops the lake table of a mapping, if the lake and the table exist.
static bool DropLakeTable(const GlobalOptions &global, const meta::TableMapping &mapping) {
	lake::LakeConfig config;
	config.catalog_conninfo = global.LakeCatalogConninfo();
	config.catalog_schema = global.lake_schema;
	config.data_path = global.data_path;
	lake::LakeWriter writer(config);
	auto commit = writer.Begin();
	auto table = commit.FindTable(mapping.target_schema, mapping.target_table);
	if (!table) {
		return false;
	}
	commit.DropTable(*table);
	commit.Commit({.author = std::string("duckpipe"), .message = "remove-table --drop-target " + mapping.SourceName()});
	return true;
}

static meta::TableMapping RequireTable(MetadataStore &store, const std::string &name) {
	auto mapping = store.FindTable(name);
	if (!mapping) {
		throw Error(ErrorKind::Config, "'" + name + "' is not a synced table",
		            {.hint = "duckpipe status lists the synced tables"});
	}
	return *mapping;
}

int ManageCommands::RemoveTable(std::ostream &out) const {
	PgConnection conn(global_.SourceConninfo());
	MetadataStore store(conn);
	auto mapping = RequireTable(store, table_);
	store.RemoveTable(mapping.id);
	out << "removed " << mapping.SourceName() << " from group " << mapping.group_name;
	if (drop_target_) {
		if (DropLakeTable(global_, mapping)) {
			out << "; dropped lake table " << mapping.TargetName();
		} else {
			out << "; lake table " << mapping.TargetName() << " did not exist";
		}
	}
	out << "\n";
	return 0;
}

int ManageCommands::ResyncTable(std::ostream &out) const {
	PgConnection conn(global_.SourceConninfo());
	MetadataStore store(conn);
	auto mapping = RequireTable(store, table_);
	store.ResyncTable(mapping.id);
	out << "resync of " << mapping.SourceName() << " scheduled (a running daemon starts it within a second)\n";
	return 0;
}

int ManageCommands::CreateGroup(std::ostream &out) const {
	PgConnection conn(global_.SourceConninfo());
	MetadataStore store(conn);
	std::optional<std::string> remote;
	std::string conninfo = conninfo_file_.empty() ? conninfo_ : Conninfo::ReadFile(conninfo_file_);
	std::unique_ptr<PgConnection> check;
	if (!conninfo.empty()) {
		// Fail now, not in the daemon, when the remote source is unreachable or not logical.
		check = std::make_unique<PgConnection>(conninfo);
		RequireLogicalWalLevel(*check, check->RedactedConninfo());
		remote = conninfo;
	}
	auto group =
	    store.CreateGroup(group_name_, publication_.empty() ? std::nullopt : std::optional(publication_),
	                      slot_.empty() ? std::nullopt : std::optional(slot_), remote, meta::ParseGroupMode(mode_));
	// Only the metadata is written here: the publication and the slot are the daemon's to create,
	// so say which exist and which it will create.
	PgConnection &source = check ? *check : conn;
	bool pub = source.Exec("SELECT 1 FROM pg_publication WHERE pubname = $1", {group.publication}).Rows() > 0;
	bool slot = source.Exec("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", {group.slot_name}).Rows() > 0;
	std::string create;
	if (!pub) {
		create += "publication " + group.publication;
	}
	if (!slot) {
		create += (create.empty() ? "" : " and ") + std::string("replication slot ") + group.slot_name;
	}
	out << "created group " << group.name
	    << (group.conninfo ? " (source " + Conninfo::Redact(*group.conninfo) + ")" : std::string());
	if (group.mode == meta::GroupMode::Bgworker) {
		out << "; mode bgworker: the pg_duckpipe extension's background worker runs it, not `duckpipe run`\n";
		return 0;
	}
	if (pub || slot) {
		out << "; uses the existing " << (pub ? "publication " + group.publication : std::string())
		    << (pub && slot ? " and " : "") << (slot ? "replication slot " + group.slot_name : std::string());
	}
	if (!create.empty()) {
		out << "; `duckpipe run` creates its " << create << " when it starts the group";
	}
	out << "\n";
	return 0;
}

int ManageCommands::DropGroup(std::ostream &out) const {
	PgConnection conn(global_.SourceConninfo());
	MetadataStore store(conn);
	auto group = store.GetGroup(group_name_);
	store.DropGroup(group_name_, force_);
	// A running daemon stops streaming the group within a second of the change; then its slot is
	// free to drop. The slot and publication live on the group's source.
	PgConnection source(group.conninfo ? *group.conninfo : global_.SourceConninfo());
	bool dropped_slot = false;
	for (int attempt = 0; attempt < 100 && !dropped_slot; attempt++) {
		auto r = source.Exec("SELECT active FROM pg_replication_slots WHERE slot_name = $1", {group.slot_name});
		if (r.Rows() == 0) {
			break;
		}
		if (!r.GetBool(0, 0)) {
			source.Exec("SELECT pg_drop_replication_slot($1)", {group.slot_name});
			dropped_slot = true;
		} else {
			std::this_thread::sleep_for(std::chrono::milliseconds(100));
		}
	}
	source.Exec("DROP PUBLICATION IF EXISTS " + source.QuoteIdent(group.publication));
	out << "dropped group " << group_name_ << " with its publication " << group.publication;
	if (dropped_slot) {
		out << " and slot " << group.slot_name;
	} else if (source.Exec("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", {group.slot_name}).Rows()) {
		out << "; slot " << group.slot_name << " is still in use: drop it with "
		    << "SELECT pg_drop_replication_slot('" << group.slot_name << "') once no process streams from it";
	}
	out << "\n";
	return 0;
}

int ManageCommands::SetGroupEnabled(std::ostream &out, bool enabled) const {
	PgConnection conn(global_.SourceConninfo());
	MetadataStore store(conn);
	store.SetGroupEnabled(group_name_, enabled);
	out << (enabled ? "enabled" : "disabled") << " group " << group_name_ << "\n";
	return 0;
}

} // namespace duckpipe::daemon
