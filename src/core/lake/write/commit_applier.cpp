#include "core/lake/write/commit_applier.hpp"
#include "core/lake/write/data_file_rows.hpp"
#include "core/lake/write/inlined_data_writer.hpp"
#include "core/lake/write/pending_files.hpp"
#include "core/lake/write/table_stats_merger.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/lake/lake_type.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/pg/pg_connection.hpp"

#include <algorithm>
#include <cstdlib>
#include <functional>

namespace duckpipe::lake {

namespace {

std::string Opt(const std::optional<int64_t> &v) {
	return v ? std::to_string(*v) : "NULL";
}

} // namespace

CommitApplier::CommitApplier(PgConnection &conn, DuckConnection &duck, std::string catalog_schema,
                             std::string data_path, CommitState &state)
    : conn_(conn), duck_(duck), schema_(std::move(catalog_schema)), data_path_(std::move(data_path)), state_(state) {}

std::string CommitApplier::T(const char *table) const {
	return conn_.QuoteIdent(schema_) + "." + table;
}

std::string CommitApplier::Lit(const std::string &value) const {
	return conn_.QuoteLiteral(value);
}

std::string CommitApplier::Lit(const std::optional<std::string> &value) const {
	return value ? conn_.QuoteLiteral(*value) : "NULL";
}

int64_t CommitApplier::Resolve(int64_t id_or_handle) const {
	return id_or_handle < 0 ? state_.resolved.at(id_or_handle) : id_or_handle;
}

std::vector<std::pair<std::string, std::string>> CommitApplier::ParseChanges(const std::string &changes) {
	std::vector<std::pair<std::string, std::string>> out;
	std::string current;
	bool quoted = false;
	auto flush = [&] {
		auto colon = current.find(':');
		if (colon != std::string::npos) {
			out.emplace_back(current.substr(0, colon), current.substr(colon + 1));
		}
		current.clear();
	};
	for (char c : changes) {
		if (c == '"') {
			quoted = !quoted;
		}
		if (c == ',' && !quoted) {
			flush();
		} else {
			current += c;
		}
	}
	flush();
	return out;
}

std::string CommitApplier::ChangesMade() const {
	std::vector<std::string> entries;
	auto add = [&](const std::string &e) {
		if (std::find(entries.begin(), entries.end(), e) == entries.end()) {
			entries.push_back(e);
		}
	};
	for (const auto &s : state_.schemas) {
		add("created_schema:" + DuckConnection::QuoteIdent(s.name));
	}
	for (const auto &t : state_.tables) {
		add("created_table:" + DuckConnection::QuoteIdent(t.schema_name) + "." + DuckConnection::QuoteIdent(t.name));
	}
	for (const auto &[id, name] : state_.renamed_tables) {
		add("created_table:" + DuckConnection::QuoteIdent(state_.working.at(id).table.schema_name) + "." +
		    DuckConnection::QuoteIdent(name));
	}
	for (auto id : state_.dropped_tables) {
		add("dropped_table:" + std::to_string(id));
	}
	for (const auto &f : state_.data_files) {
		add((f.inlined ? "inlined_insert:" : "inserted_into_table:") + std::to_string(Resolve(f.table_ref)));
	}
	for (const auto &[name, d] : state_.inlined_deletes) {
		add("inlined_delete:" + std::to_string(d.table_id));
	}
	for (const auto &d : state_.delete_files) {
		add("deleted_from_table:" + std::to_string(d.table_id));
	}
	for (auto id : state_.truncated_tables) {
		add("deleted_from_table:" + std::to_string(id));
	}
	for (auto id : state_.altered_tables) {
		add("altered_table:" + std::to_string(id));
	}
	std::string out;
	for (const auto &e : entries) {
		out += (out.empty() ? "" : ",") + e;
	}
	return out;
}

void CommitApplier::CheckConflicts(int64_t head) {
	auto base = state_.base.snapshot_id;
	auto r = conn_.Exec("SELECT snapshot_id, changes_made FROM " + T("ducklake_snapshot_changes") +
	                    " WHERE snapshot_id > " + std::to_string(base) + " ORDER BY snapshot_id");
	std::set<int64_t> inserted, deleted, altered, dropped;
	std::set<std::pair<std::string, std::string>> created_tables;
	std::set<std::string> created_schemas;
	std::set<int64_t> created_in_schema;
	for (const auto &f : state_.data_files) {
		if (f.table_ref >= 0) {
			inserted.insert(f.table_ref);
		}
	}
	for (const auto &[fid, d] : state_.deletes) {
		deleted.insert(d.table_id);
	}
	deleted.insert(state_.truncated_tables.begin(), state_.truncated_tables.end());
	for (const auto &[name, d] : state_.inlined_deletes) {
		deleted.insert(d.table_id);
	}
	altered.insert(state_.altered_tables.begin(), state_.altered_tables.end());
	for (const auto &[id, name] : state_.renamed_tables) {
		altered.insert(id);
		created_tables.insert({state_.working.at(id).table.schema_name, name});
	}
	dropped = state_.dropped_tables;
	for (const auto &t : state_.tables) {
		created_tables.insert({t.schema_name, t.name});
		if (t.schema_ref >= 0) {
			created_in_schema.insert(t.schema_ref);
		}
	}
	for (const auto &s : state_.schemas) {
		created_schemas.insert(s.name);
	}
	bool check_delete_overlap = false;
	for (int i = 0; i < r.Rows(); i++) {
		auto theirs = r.GetInt(i, 0);
		for (const auto &[type, value] : ParseChanges(std::string(r.Get(i, 1)))) {
			auto conflict = [&](const std::string &mine) {
				throw Error(ErrorKind::Conflict,
				            "lake snapshot " + std::to_string(theirs) + " (" + type + ":" + value +
				                ") conflicts with this commit's " + mine,
				            {.hint = "another writer changed the same table; redo the operation from the new "
				                     "snapshot"});
			};
			int64_t id = -1;
			if (!value.empty() && std::isdigit(static_cast<unsigned char>(value[0]))) {
				id = std::stoll(value);
			}
			if (type == "dropped_table" || type == "altered_table") {
				if (inserted.count(id) || deleted.count(id) || altered.count(id) || dropped.count(id)) {
					conflict("change of table " + value);
				}
			} else if (type == "deleted_from_table" || type == "inlined_delete") {
				if (inserted.count(id)) {
					conflict("insert into table " + value);
				}
				if (deleted.count(id)) {
					check_delete_overlap = true;
				}
			} else if (type == "inserted_into_table" || type == "inlined_insert") {
				if (deleted.count(id)) {
					conflict("delete from table " + value);
				}
			} else if (type == "merge_adjacent" || type == "rewrite_delete") {
				if (deleted.count(id)) {
					conflict("delete from table " + value);
				}
			} else if (type == "created_table") {
				for (const auto &[s, t] : created_tables) {
					if (value == DuckConnection::QuoteIdent(s) + "." + DuckConnection::QuoteIdent(t)) {
						conflict("creation of table " + value);
					}
				}
			} else if (type == "created_schema") {
				for (const auto &s : created_schemas) {
					if (value == DuckConnection::QuoteIdent(s)) {
						conflict("creation of schema " + value);
					}
				}
			} else if (type == "dropped_schema") {
				if (created_in_schema.count(id)) {
					conflict("table created in schema " + value);
				}
			}
		}
	}
	if (check_delete_overlap) {
		std::string ids;
		for (const auto &[fid, d] : state_.deletes) {
			ids += (ids.empty() ? "" : ",") + std::to_string(fid);
		}
		if (!ids.empty()) {
			auto b = std::to_string(base);
			auto o = conn_.Exec("SELECT (SELECT count(*) FROM " + T("ducklake_delete_file") +
			                    " WHERE data_file_id IN (" + ids + ") AND begin_snapshot > " + b +
			                    ") + (SELECT count(*) FROM " + T("ducklake_data_file") + " WHERE data_file_id IN (" +
			                    ids + ") AND end_snapshot > " + b + ")");
			if (o.GetInt(0, 0) > 0) {
				throw Error(ErrorKind::Conflict,
				            "a concurrent lake commit deleted rows from the same data files as this commit",
				            {.hint = "redo the delete from the new snapshot"});
			}
		}
	}
	(void)head;
}

// Snapshots are numbered without gaps; one missing between the base and the head was expired while
// this commit staged, and with it the changes the conflict check must see.
void CommitApplier::CheckBaseSurvives(int64_t head) {
	auto base = state_.base.snapshot_id;
	auto r =
	    conn_.Exec("SELECT count(*) FROM " + T("ducklake_snapshot") + " WHERE snapshot_id >= " + std::to_string(base) +
	               " AND snapshot_id <= " + std::to_string(head));
	if (r.GetInt(0, 0) != head - base + 1) {
		throw Error(ErrorKind::Conflict,
		            "lake snapshots after " + std::to_string(base) +
		                ", the one this commit is based on, were expired while it was staged",
		            {.hint = "redo the operation from the new snapshot (expire-snapshots with a shorter age than "
		                     "the longest copy or flush forces this)"});
	}
}

std::string CommitApplier::EndRows(const char *table, const std::string &cond, int64_t snapshot) const {
	return "UPDATE " + T(table) + " SET end_snapshot = " + std::to_string(snapshot) + " WHERE " + cond +
	       " AND end_snapshot IS NULL;\n";
}

// Ids come from the head the transaction reads, so a retry after a serialization failure derives
// fresh ones; staged handles (negative) resolve to catalog ids here.
CommitApplier::Allocation CommitApplier::AllocateIds(const SnapshotInfo &head) {
	Allocation a;
	a.snapshot = head.snapshot_id + 1;
	a.next_catalog = head.next_catalog_id;
	a.next_file = head.next_file_id;
	a.schema_version = head.schema_version;
	state_.resolved.clear();
	for (const auto &s : state_.schemas) {
		state_.resolved[s.handle] = a.next_catalog++;
	}
	for (const auto &t : state_.tables) {
		state_.resolved[t.handle] = a.next_catalog++;
	}
	bool schema_change = !state_.schemas.empty() || !state_.tables.empty() || !state_.column_rows.empty() ||
	                     !state_.ended_columns.empty() || !state_.renamed_tables.empty() ||
	                     !state_.dropped_tables.empty();
	if (schema_change) {
		a.schema_version++;
	}
	for (size_t i = 0; i < state_.data_files.size(); i++) {
		a.data_file_ids.push_back(a.next_file++);
	}
	bool data_ended = !state_.truncated_tables.empty();
	for (const auto &d : state_.delete_files) {
		a.delete_file_ids.push_back(d.whole_file ? -1 : a.next_file++);
		data_ended = data_ended || d.whole_file;
	}
	if (data_ended && a.data_file_ids.empty() &&
	    std::count(a.delete_file_ids.begin(), a.delete_file_ids.end(), -1) ==
	        static_cast<long>(a.delete_file_ids.size())) {
		a.next_file++; // every data change advances next_file_id (reader caches are keyed by it)
	}
	if (!state_.inlined_deletes.empty() && a.next_file == head.next_file_id) {
		a.next_file++; // an inline-only change too (inlined inserts take an unused file id each)
	}
	return a;
}

std::string CommitApplier::SnapshotSql(const Allocation &a, const CommitInfo &info, const std::string &changes) const {
	const auto S = std::to_string(a.snapshot);
	std::string sql;
	sql += "INSERT INTO " + T("ducklake_snapshot") +
	       "(snapshot_id, snapshot_time, schema_version, next_catalog_id, next_file_id) VALUES (" + S + ", now(), " +
	       std::to_string(a.schema_version) + ", " + std::to_string(a.next_catalog) + ", " +
	       std::to_string(a.next_file) + ");\n";
	sql += "INSERT INTO " + T("ducklake_snapshot_changes") +
	       "(snapshot_id, changes_made, author, commit_message, commit_extra_info) VALUES (" + S + ", " +
	       (changes.empty() ? "NULL" : Lit(changes)) + ", " + Lit(info.author) + ", " + Lit(info.message) + ", " +
	       Lit(info.extra_info) + ");\n";
	return sql;
}

// Schemas, tables (created, renamed, dropped), columns and the schema versions of the tables they touch.
std::string CommitApplier::CatalogSql(const Allocation &a) const {
	const auto S = std::to_string(a.snapshot);
	std::string sql;
	for (const auto &s : state_.schemas) {
		sql += "INSERT INTO " + T("ducklake_schema") +
		       "(schema_id, schema_uuid, begin_snapshot, end_snapshot, schema_name, path, path_is_relative) VALUES (" +
		       std::to_string(Resolve(s.handle)) + ", " + Lit(s.uuid) + ", " + S + ", NULL, " + Lit(s.name) + ", " +
		       Lit(s.path) + ", true);\n";
	}
	for (auto id : state_.dropped_tables) {
		auto c = "table_id = " + std::to_string(id);
		for (auto *t : {"ducklake_table", "ducklake_partition_info", "ducklake_column", "ducklake_column_tag",
		                "ducklake_data_file", "ducklake_delete_file", "ducklake_sort_info"}) {
			sql += EndRows(t, c, a.snapshot);
		}
		sql += EndRows("ducklake_tag", "object_id = " + std::to_string(id), a.snapshot);
	}
	auto table_row = [&](int64_t id, const std::string &uuid, int64_t schema_id, const std::string &name,
	                     const std::string &path, bool relative) {
		sql += "INSERT INTO " + T("ducklake_table") +
		       "(table_id, table_uuid, begin_snapshot, end_snapshot, schema_id, table_name, path, path_is_relative) "
		       "VALUES (" +
		       std::to_string(id) + ", " + Lit(uuid) + ", " + S + ", NULL, " + std::to_string(schema_id) + ", " +
		       Lit(name) + ", " + Lit(path) + ", " + (relative ? "true" : "false") + ");\n";
	};
	for (const auto &[id, name] : state_.renamed_tables) {
		const auto &w = state_.working.at(id).table;
		sql += EndRows("ducklake_table", "table_id = " + std::to_string(id), a.snapshot);
		table_row(id, w.table_uuid, w.schema_id, name, w.path, w.path_is_relative);
	}
	for (const auto &t : state_.tables) {
		table_row(Resolve(t.handle), t.uuid, Resolve(t.schema_ref), t.name, t.path, true);
	}
	sql += ColumnSql(a);
	std::set<int64_t> versioned;
	for (const auto &t : state_.tables) {
		versioned.insert(Resolve(t.handle));
	}
	versioned.insert(state_.altered_tables.begin(), state_.altered_tables.end());
	for (const auto &[id, name] : state_.renamed_tables) {
		versioned.insert(id);
	}
	for (auto id : versioned) {
		sql += "INSERT INTO " + T("ducklake_schema_versions") + "(begin_snapshot, schema_version, table_id) VALUES (" +
		       S + ", " + std::to_string(a.schema_version) + ", " + std::to_string(id) + ");\n";
	}
	// A table with inlined tables whose columns change gets the inlined table of its new version.
	for (auto id : state_.altered_tables) {
		auto w = state_.working.find(id);
		if (w != state_.working.end()) {
			sql += InlinedDataWriter::NewVersionSql(conn_, schema_, w->second.table.columns, id, a.schema_version);
		}
	}
	return sql;
}

std::string CommitApplier::ColumnSql(const Allocation &a) const {
	const auto S = std::to_string(a.snapshot);
	std::string sql;
	std::map<int64_t, std::string> ended;
	for (const auto &[t, c] : state_.ended_columns) {
		ended[t] += (ended[t].empty() ? "" : ",") + std::to_string(c);
	}
	for (const auto &[t, cols] : ended) {
		sql += EndRows("ducklake_column", "table_id = " + std::to_string(t) + " AND column_id IN (" + cols + ")",
		               a.snapshot);
	}
	std::string col_values;
	for (const auto &r : state_.column_rows) {
		const auto &c = r.column;
		col_values += std::string(col_values.empty() ? "" : ", ") + "(" + std::to_string(c.column_id) + ", " + S +
		              ", NULL, " + std::to_string(Resolve(r.table_ref)) + ", " + std::to_string(c.column_order) + ", " +
		              Lit(c.name) + ", " + Lit(c.type) + ", " + Lit(c.initial_default) + ", " +
		              Lit(c.default_value.value_or("NULL")) + ", " + (c.nulls_allowed ? "true" : "false") + ", " +
		              Opt(r.parent) + ", " + Lit(c.default_value_type) + ", 'duckdb')";
	}
	if (!col_values.empty()) {
		sql += "INSERT INTO " + T("ducklake_column") +
		       "(column_id, begin_snapshot, end_snapshot, table_id, column_order, column_name, column_type, "
		       "initial_default, default_value, nulls_allowed, parent_column, default_value_type, "
		       "default_value_dialect) VALUES " +
		       col_values + ";\n";
	}
	return sql;
}

// Truncations, new data files with their column stats, and delete files (a whole-file delete ends the
// data file instead).
std::string CommitApplier::FileSql(const Allocation &a, const std::map<int64_t, int64_t> &row_id_start) const {
	std::string sql;
	for (auto id : state_.truncated_tables) {
		sql += EndRows("ducklake_data_file", "table_id = " + std::to_string(id), a.snapshot);
		sql += EndRows("ducklake_delete_file", "table_id = " + std::to_string(id), a.snapshot);
	}
	sql += InlinedDataWriter::TruncateSql(conn_, schema_, state_.truncated_tables, a.snapshot);
	DataFileRows rows(conn_);
	for (size_t i = 0; i < state_.data_files.size(); i++) {
		const auto &f = state_.data_files[i];
		if (f.inlined) {
			sql += InlinedDataWriter::InsertSql(conn_, schema_, *f.inlined, Resolve(f.table_ref), a.schema_version,
			                                    a.snapshot, row_id_start.at(static_cast<int64_t>(i)));
			continue;
		}
		rows.Add(a.data_file_ids[i], Resolve(f.table_ref), a.snapshot, f.file_name, f.file,
		         row_id_start.at(static_cast<int64_t>(i)));
	}
	sql += rows.Sql(conn_.QuoteIdent(schema_) + ".");
	sql += DeleteFileSql(a);
	sql += InlinedDataWriter::DeleteSql(conn_, schema_, state_.inlined_deletes, a.snapshot);
	return sql;
}

std::string CommitApplier::DeleteFileSql(const Allocation &a) const {
	const auto S = std::to_string(a.snapshot);
	std::string sql;
	for (size_t i = 0; i < state_.delete_files.size(); i++) {
		const auto &d = state_.delete_files[i];
		if (d.whole_file) {
			sql += EndRows("ducklake_data_file", "data_file_id = " + std::to_string(d.data_file_id), a.snapshot);
			continue;
		}
		if (d.old_delete_file_id) {
			sql += EndRows("ducklake_delete_file", "delete_file_id = " + std::to_string(*d.old_delete_file_id),
			               a.snapshot);
		}
		bool relative = d.file_name.find('/') == std::string::npos;
		sql += "INSERT INTO " + T("ducklake_delete_file") +
		       "(delete_file_id, table_id, begin_snapshot, end_snapshot, data_file_id, path, path_is_relative, "
		       "format, delete_count, file_size_bytes, footer_size, encryption_key, partial_max) VALUES (" +
		       std::to_string(a.delete_file_ids[i]) + ", " + std::to_string(d.table_id) + ", " + S + ", NULL, " +
		       std::to_string(d.data_file_id) + ", " + Lit(d.file_name) + ", " + (relative ? "true" : "false") +
		       ", 'parquet', " + std::to_string(d.file.record_count) + ", " + std::to_string(d.file.file_size_bytes) +
		       ", " + Opt(d.file.footer_size) + ", NULL, NULL);\n";
	}
	return sql;
}

// Once COMMIT is on its way, a failure leaves the outcome unknown (the caller must look before it
// deletes files or retries), unless the server refused a statement sent with it: then nothing committed.
void CommitApplier::CommitOrAmbiguous(PgTransaction &txn, const std::string &sql, int64_t snapshot) {
	LakeWriter::MaybeFail("before_catalog_commit");
	try {
		LakeWriter::AtConnectionPoint("before_commit_sent", conn_);
		txn.CommitWith(sql, [&] {
			LakeWriter::AtConnectionPoint("after_commit_sent", conn_);
			if (state_.on_commit_sent) {
				state_.on_commit_sent();
			}
		});
	} catch (const Error &e) {
		if (conn_.InFailedTransaction()) {
			throw;
		}
		throw AmbiguousCommitError(snapshot, e);
	}
}

// Every row of the commit in the order both paths send them: the snapshot, the catalog, the files
// and their stats, the PendingFiles marker, then the extra statements (AddStatement).
std::string CommitApplier::RowsSql(const Allocation &ids, const CommitInfo &info, TableStatsMerger &merger,
                                   std::string &changes) {
	std::map<int64_t, int64_t> row_id_start;
	auto stats_sql = merger.Sql(row_id_start, ids.data_file_ids.empty() ? ids.next_file : ids.data_file_ids.front());
	changes = ChangesMade();
	auto sql = SnapshotSql(ids, info, changes) + CatalogSql(ids) + FileSql(ids, row_id_start) + stats_sql;
	if (!state_.token.empty()) {
		sql += PendingFiles(conn_, schema_).CommittedSql(state_.token, ids.snapshot);
	}
	return sql + ExtraStatementsSql();
}

std::string CommitApplier::ExtraStatementsSql() const {
	std::string sql;
	for (const auto &st : state_.statements) {
		sql += st(conn_) + ";\n";
	}
	return sql;
}

// The single round trip applies when the stats of every existing table that gets files were read
// while staging, and no AddSql callback needs the open transaction.
bool CommitApplier::SingleTripApplies() const {
	// DUCKPIPE_COMMIT_SINGLE_TRIP=0: always read the head first (A/B measurements, bench/README.md).
	static const bool off = [] {
		const char *v = std::getenv("DUCKPIPE_COMMIT_SINGLE_TRIP");
		return v && std::string(v) == "0";
	}();
	if (off || state_.single_trip_tried || !state_.callbacks.empty()) {
		return false;
	}
	for (const auto &f : state_.data_files) {
		if (f.table_ref >= 0 && !state_.staged_stats_tables.count(f.table_ref)) {
			return false;
		}
	}
	return true;
}

// Fails (22P02, naming the head) unless the catalog's head is still the base: a cast of a text
// computed from the head, so that nothing is folded at plan time and no plpgsql is needed.
std::string CommitApplier::GuardSql() const {
	auto base = std::to_string(state_.base.snapshot_id);
	return "SELECT ('" + std::string(kHeadMoved) + " ' || coalesce(max(snapshot_id)::text, 'none') || ' is not " +
	       base + "')::integer FROM " + T("ducklake_snapshot") + " HAVING max(snapshot_id) IS DISTINCT FROM " + base +
	       ";\n";
}

bool CommitApplier::IsGuardFailure(const Error &e) {
	return e.Context().sqlstate == "22P02" && std::string(e.what()).find(kHeadMoved) != std::string::npos;
}

// BEGIN, the guard, every row and COMMIT as one message, from the base read when the commit began
// and the stats read while staging: valid while no snapshot was committed since the base, which the
// guard checks in the transaction's own snapshot (a commit after that snapshot collides on the
// snapshot id: 23505/40001, retried). nullopt: the head moved, nothing was written.
std::optional<int64_t> CommitApplier::AttemptSingleTrip(const CommitInfo &info) {
	state_.single_trip_tried = true;
	TableStatsMerger merger(conn_, duck_, schema_, state_);
	for (const auto &rows : state_.staged_stats) {
		merger.TakeOldStats(rows);
	}
	if (state_.staged_stats.empty()) {
		merger.TakeOldStats(PgResult()); // no existing table gets files: nothing to read
	}
	auto ids = AllocateIds(state_.base);
	std::string changes;
	auto sql = GuardSql() + RowsSql(ids, info, merger, changes);
	try {
		PgTransaction txn(conn_, "REPEATABLE READ", PgTransaction::DeferBegin{});
		CommitOrAmbiguous(txn, sql, ids.snapshot);
	} catch (const AmbiguousCommitError &) {
		throw;
	} catch (const Error &e) {
		if (!IsGuardFailure(e)) {
			throw;
		}
		log::Debug("lake.commit_head_moved", "base", state_.base.snapshot_id);
		return std::nullopt;
	}
	log::Debug("lake.commit", "snapshot", ids.snapshot, "changes", changes, "round_trips", 1);
	return ids.snapshot;
}

// Two round trips: BEGIN with the head and the old stats, then every row, the AddStatement SQL and
// COMMIT (AddSql callbacks need one more before COMMIT). Checks what was committed since the base.
int64_t CommitApplier::AttemptReadingHead(const CommitInfo &info) {
	TableStatsMerger merger(conn_, duck_, schema_, state_);
	auto head_sql = "SELECT 'h', snapshot_id, schema_version, next_catalog_id, next_file_id, NULL::boolean, "
	                "NULL::boolean, NULL::text, NULL::text FROM " +
	                T("ducklake_snapshot") + " WHERE snapshot_id = (SELECT max(snapshot_id) FROM " +
	                T("ducklake_snapshot") + ")";
	auto old_stats = merger.OldStatsSelect();
	PgResult first;
	PgTransaction txn(conn_, "REPEATABLE READ", head_sql + (old_stats.empty() ? "" : " UNION ALL " + old_stats), first);
	std::optional<SnapshotInfo> found;
	for (int i = 0; i < first.Rows(); i++) {
		if (first.Get(i, 0) == "h") {
			found = SnapshotInfo{.snapshot_id = first.GetInt(i, 1),
			                     .schema_version = first.GetInt(i, 2),
			                     .next_catalog_id = first.GetInt(i, 3),
			                     .next_file_id = first.GetInt(i, 4)};
		}
	}
	if (!found) {
		throw Error(ErrorKind::Lake, "the DuckLake catalog has no snapshot",
		            {.hint = "the catalog is damaged or was not bootstrapped; recreate the lake"});
	}
	const auto &head = *found;
	merger.TakeOldStats(first);
	if (head.snapshot_id != state_.base.snapshot_id) {
		CheckBaseSurvives(head.snapshot_id);
		CheckConflicts(head.snapshot_id);
	}
	auto ids = AllocateIds(head);
	std::string changes;
	auto sql = RowsSql(ids, info, merger, changes);
	if (!state_.callbacks.empty()) {
		conn_.Exec(sql);
		sql.clear();
		for (auto &cb : state_.callbacks) {
			cb(conn_);
		}
	}
	CommitOrAmbiguous(txn, sql, ids.snapshot);
	log::Debug("lake.commit", "snapshot", ids.snapshot, "changes", changes, "round_trips", "2+");
	return ids.snapshot;
}

int64_t CommitApplier::Attempt(const CommitInfo &info) {
	if (SingleTripApplies()) {
		if (auto snapshot = AttemptSingleTrip(info)) {
			return *snapshot;
		}
	}
	// Later attempts of this commit too: the head moved once, it likely moves again.
	state_.single_trip_tried = true;
	return AttemptReadingHead(info);
}

} // namespace duckpipe::lake
