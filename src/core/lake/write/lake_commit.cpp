#include "core/lake/write/lake_commit.hpp"

#include "core/common/ascii.hpp"
#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/lake/lake_type.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/lake/write/commit_applier.hpp"
#include "core/lake/write/commit_state.hpp"
#include "core/lake/write/table_stats_merger.hpp"
#include "core/pg/pg_connection.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>
#include <regex>

namespace duckpipe::lake {

namespace {

// Digest §3.1: the name plus '/' when it is a plain name, else the uuid.
std::string PathFor(const std::string &name, const std::string &uuid) {
	static const std::regex plain("[A-Za-z0-9_-]+");
	return (std::regex_match(name, plain) ? name : uuid) + "/";
}

std::string NewUuid(DuckConnection &duck) {
	return *duck.Query("SELECT CAST(uuidv7() AS VARCHAR)").GetString(0, 0);
}

} // namespace

LakeCommit::LakeCommit(LakeWriter &writer, const SnapshotInfo &base)
    : writer_(&writer), state_(std::make_unique<CommitState>()) {
	state_->base = base;
}

LakeCommit::LakeCommit(LakeCommit &&other) noexcept
    : writer_(other.writer_), state_(std::move(other.state_)), done_(other.done_),
      outcome_unknown_(other.outcome_unknown_) {
	other.done_ = true;
}

void LakeCommit::SetToken(std::string token) {
	state_->token = std::move(token);
}

const std::string &LakeCommit::Token() const {
	return state_->token;
}

void LakeCommit::OnCommitSent(std::function<void()> fn) {
	state_->on_commit_sent = std::move(fn);
}

void LakeCommit::RegisterFile(const std::string &path, bool locked, int64_t stats_of_table) {
	std::unique_lock guard(writer_->mutex_, std::defer_lock);
	if (!locked) {
		guard.lock();
	}
	auto &conn = writer_->Conn();
	const auto &schema = writer_->config_.catalog_schema;
	PendingFiles pending(conn, schema);
	if (stats_of_table < 0 || state_->staged_stats_tables.count(stats_of_table)) {
		pending.RegisterFile(state_->token, writer_->writer_id_, path);
		return;
	}
	// Read after Begin read the base: equal to the stats at the base as long as the head is the base,
	// which the single-round-trip commit checks.
	state_->staged_stats.push_back(conn.Exec(pending.RegisterFileSql(state_->token, writer_->writer_id_, path) +
	                                         TableStatsMerger::OldStatsSelectFor(conn, schema, {stats_of_table})));
	state_->staged_stats_tables.insert(stats_of_table);
}

LakeCommit::~LakeCommit() {
	if (!done_ && state_) {
		RemoveFiles();
	}
}

int64_t LakeCommit::BaseSnapshot() const {
	return state_->base.snapshot_id;
}

void LakeCommit::Abort() {
	if (!done_) {
		RemoveFiles();
		done_ = true;
	}
}

void LakeCommit::RemoveFiles() {
	std::vector<std::string> paths;
	for (const auto &f : state_->data_files) {
		paths.push_back(f.file.full_path);
	}
	for (const auto &d : state_->delete_files) {
		if (!d.whole_file) {
			paths.push_back(d.file.full_path);
		}
	}
	for (const auto &p : paths) {
		std::error_code ec;
		std::filesystem::remove(p, ec);
		if (ec) {
			// Not referenced by the catalog: ducklake_delete_orphaned_files can remove it later.
			log::Warn("lake.orphan_file", "path", p, "error", ec.message());
		}
	}
	state_->data_files.clear();
	state_->delete_files.clear();
	// The registrations go with the next Begin's round trip (the files are gone already).
	std::lock_guard guard(writer_->mutex_);
	writer_->ForgetLater(state_->token);
}

std::optional<int64_t> LakeCommit::FindTable(const std::string &schema, const std::string &name) {
	for (const auto &t : state_->tables) {
		if (t.schema_name == schema && t.name == name) {
			return t.handle;
		}
	}
	std::lock_guard guard(writer_->mutex_);
	CatalogReads reads(writer_->Conn(), writer_->config_.catalog_schema, writer_->DataPath());
	return reads.FindTableId(schema, name, state_->base.snapshot_id);
}

TableBase &LakeCommit::Working(int64_t table) {
	auto it = state_->working.find(table);
	if (it != state_->working.end()) {
		return it->second;
	}
	if (table < 0) {
		throw Error(ErrorKind::Internal, "unknown table handle " + std::to_string(table));
	}
	if (state_->dropped_tables.count(table)) {
		throw Error(ErrorKind::Internal, "table " + std::to_string(table) + " was dropped in this commit");
	}
	std::lock_guard guard(writer_->mutex_);
	CatalogReads reads(writer_->Conn(), writer_->config_.catalog_schema, writer_->DataPath());
	return state_->working.emplace(table, reads.LoadTable(table, state_->base.snapshot_id)).first->second;
}

const LakeTable &LakeCommit::Table(int64_t table) {
	return Working(table).table;
}

LakeColumn *LakeCommit::FindColumn(TableBase &table, const std::string &name) {
	for (auto &c : table.table.columns) {
		if (AsciiLower(c.name) == AsciiLower(name)) {
			return &c;
		}
	}
	return nullptr;
}

void LakeCommit::RequireExisting(int64_t table, const char *op) {
	if (table < 0) {
		throw Error(ErrorKind::Unsupported, std::string(op) + " on a table created in the same commit",
		            {.hint = "create the table with its final columns, or commit the CREATE first"});
	}
}

void LakeCommit::AssignIds(LakeColumn &column, int64_t &next_id) {
	if (!IsValidTypeName(column.type)) {
		throw Error(ErrorKind::Internal, "invalid DuckLake type '" + column.type + "' for column " + column.name);
	}
	column.column_id = next_id++;
	column.column_order = column.column_id;
	for (auto &child : column.children) {
		AssignIds(child, next_id);
	}
	if (!column.children.empty()) {
		column.default_value_type = "";
	}
}

void LakeCommit::StageColumnRows(int64_t table, const LakeColumn &column, std::optional<int64_t> parent) {
	StagedColumnRow row;
	row.table_ref = table;
	row.column = column;
	row.column.children.clear();
	row.parent = parent;
	state_->column_rows.push_back(std::move(row));
	for (const auto &child : column.children) {
		StageColumnRows(table, child, column.column_id);
	}
}

// End the column's live row and insert a copy (same id) at S; replaces a copy staged earlier.
void LakeCommit::StageReplace(int64_t table, const LakeColumn &column) {
	for (auto &row : state_->column_rows) {
		if (row.table_ref == table && row.column.column_id == column.column_id) {
			row.column = column;
			row.column.children.clear();
			return;
		}
	}
	state_->ended_columns.insert({table, column.column_id});
	StagedColumnRow row;
	row.table_ref = table;
	row.column = column;
	row.column.children.clear();
	state_->column_rows.push_back(std::move(row));
}

int64_t LakeCommit::CreateSchema(const std::string &name) {
	StagedSchema s;
	s.handle = state_->next_handle--;
	s.name = name;
	{
		std::lock_guard guard(writer_->mutex_);
		s.uuid = NewUuid(*writer_->duck_);
	}
	s.path = PathFor(name, s.uuid);
	state_->schemas.push_back(s);
	return s.handle;
}

int64_t LakeCommit::CreateTable(const std::string &schema, const std::string &name, std::vector<LakeColumn> columns) {
	if (columns.empty()) {
		throw Error(ErrorKind::Config, "lake table " + schema + "." + name + " needs at least one column");
	}
	StagedTable t;
	t.handle = state_->next_handle--;
	t.schema_name = schema;
	t.name = name;
	std::string schema_full;
	for (const auto &s : state_->schemas) {
		if (s.name == schema) {
			t.schema_ref = s.handle;
			schema_full = writer_->DataPath() + s.path;
		}
	}
	std::lock_guard guard(writer_->mutex_);
	if (t.schema_ref == 0) {
		CatalogReads reads(writer_->Conn(), writer_->config_.catalog_schema, writer_->DataPath());
		auto found = reads.FindSchema(schema, state_->base.snapshot_id);
		if (!found) {
			throw Error(ErrorKind::Lake, "lake schema '" + schema + "' does not exist",
			            {.hint = "create the schema first (LakeCommit::CreateSchema)"});
		}
		t.schema_ref = found->schema_id;
		schema_full = found->full_path;
	}
	t.uuid = NewUuid(*writer_->duck_);
	t.path = PathFor(name, t.uuid);
	int64_t next_id = 1;
	for (auto &c : columns) {
		AssignIds(c, next_id);
	}
	TableBase base;
	base.table.table_id = t.handle;
	base.table.table_uuid = t.uuid;
	base.table.schema_name = schema;
	base.table.name = name;
	base.table.path = t.path;
	base.table.full_path = schema_full + t.path;
	base.table.columns = columns;
	base.max_column_id = next_id - 1;
	base.schema_full_path = schema_full;
	state_->working[t.handle] = std::move(base);
	for (const auto &c : columns) {
		StageColumnRows(t.handle, c, std::nullopt);
	}
	state_->tables.push_back(std::move(t));
	return state_->tables.back().handle;
}

// Files this commit already wrote for a table that is dropped or truncated in it are pointless.
void LakeCommit::DiscardStaged(int64_t table) {
	std::erase_if(state_->data_files, [&](const StagedDataFile &f) {
		if (f.table_ref == table) {
			std::error_code ec;
			std::filesystem::remove(f.file.full_path, ec);
			return true;
		}
		return false;
	});
	std::erase_if(state_->deletes, [&](const auto &kv) { return kv.second.table_id == table; });
}

void LakeCommit::DropTable(int64_t table) {
	RequireExisting(table, "DropTable");
	Working(table);
	state_->dropped_tables.insert(table);
	state_->working.erase(table);
	DiscardStaged(table);
}

void LakeCommit::RenameTable(int64_t table, const std::string &new_name) {
	RequireExisting(table, "RenameTable");
	Working(table).table.name = new_name;
	state_->renamed_tables[table] = new_name;
}

int64_t LakeCommit::AddColumn(int64_t table, LakeColumn column) {
	RequireExisting(table, "AddColumn");
	auto &w = Working(table);
	if (FindColumn(w, column.name)) {
		throw Error(ErrorKind::Config, "column " + column.name + " already exists in lake table " + w.table.name);
	}
	int64_t next_id = w.max_column_id + 1;
	AssignIds(column, next_id);
	w.max_column_id = next_id - 1;
	w.table.columns.push_back(column);
	StageColumnRows(table, column, std::nullopt);
	state_->altered_tables.insert(table);
	return column.column_id;
}

void LakeCommit::DropColumn(int64_t table, const std::string &name) {
	RequireExisting(table, "DropColumn");
	auto &w = Working(table);
	auto *col = FindColumn(w, name);
	if (!col) {
		throw Error(ErrorKind::Config, "column " + name + " does not exist in lake table " + w.table.name);
	}
	if (w.table.columns.size() == 1) {
		throw Error(ErrorKind::Unsupported, "cannot drop the last column of lake table " + w.table.name);
	}
	std::function<void(const LakeColumn &)> end = [&](const LakeColumn &c) {
		state_->ended_columns.insert({table, c.column_id});
		std::erase_if(state_->column_rows, [&](const StagedColumnRow &r) {
			return r.table_ref == table && r.column.column_id == c.column_id;
		});
		for (const auto &child : c.children) {
			end(child);
		}
	};
	end(*col);
	auto id = col->column_id;
	std::erase_if(w.table.columns, [&](const LakeColumn &c) { return c.column_id == id; });
	state_->altered_tables.insert(table);
}

void LakeCommit::RenameColumn(int64_t table, const std::string &old_name, const std::string &new_name) {
	RequireExisting(table, "RenameColumn");
	auto &w = Working(table);
	auto *col = FindColumn(w, old_name);
	if (!col) {
		throw Error(ErrorKind::Config, "column " + old_name + " does not exist in lake table " + w.table.name);
	}
	col->name = new_name;
	StageReplace(table, *col);
	state_->altered_tables.insert(table);
}

void LakeCommit::WidenColumnType(int64_t table, const std::string &name, const std::string &new_type) {
	RequireExisting(table, "WidenColumnType");
	auto &w = Working(table);
	auto *col = FindColumn(w, name);
	if (!col) {
		throw Error(ErrorKind::Config, "column " + name + " does not exist in lake table " + w.table.name);
	}
	if (!IsSafeWidening(col->type, new_type)) {
		throw Error(ErrorKind::Unsupported,
		            "cannot change column " + name + " of lake table " + w.table.name + " from " + col->type + " to " +
		                new_type + " in place",
		            {.hint = "only widenings such as int32 -> int64 are in-place; resync the table instead"});
	}
	col->type = new_type;
	StageReplace(table, *col);
	state_->altered_tables.insert(table);
}

void LakeCommit::Truncate(int64_t table) {
	RequireExisting(table, "Truncate");
	auto &w = Working(table);
	DiscardStaged(table);
	state_->truncated_tables.insert(table);
	w.table.files.clear();
}

int64_t LakeCommit::ResolveId(int64_t id_or_handle) const {
	if (id_or_handle >= 0) {
		return id_or_handle;
	}
	auto it = state_->resolved.find(id_or_handle);
	if (it == state_->resolved.end()) {
		throw Error(ErrorKind::Internal, "handle " + std::to_string(id_or_handle) + " is not resolved yet",
		            {.hint = "ResolveId works inside AddSql callbacks and after Commit"});
	}
	return it->second;
}

void LakeCommit::AddSql(std::function<void(PgConnection &)> fn) {
	state_->callbacks.push_back(std::move(fn));
}

void LakeCommit::AddStatement(std::function<std::string(PgConnection &)> fn) {
	state_->statements.push_back(std::move(fn));
}

} // namespace duckpipe::lake
