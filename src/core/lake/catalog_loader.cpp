#include "core/lake/catalog_loader.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/lake/inlined_data_loader.hpp"
#include "core/lake/lake_type.hpp"
#include "core/pg/pg_connection.hpp"

#include <libpq-fe.h>

#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

namespace duckpipe::lake {

namespace {

// Half-open [begin, end) visibility of a versioned catalog row at snapshot $1.
constexpr const char *kVisible = "begin_snapshot <= $1 AND (end_snapshot IS NULL OR end_snapshot > $1)";

std::string WithSlash(std::string path) {
	if (!path.empty() && path.back() != '/') {
		path += '/';
	}
	return path;
}

std::string Resolve(const std::string &base, const std::string &path, bool relative) {
	return relative ? base + path : path;
}

std::optional<int64_t> OptInt(const PgResult &r, int row, int col) {
	if (r.IsNull(row, col)) {
		return std::nullopt;
	}
	return r.GetInt(row, col);
}

class Loader {
public:
	Loader(PgConnection &conn, const std::string &schema)
	    : conn_(conn), schema_(schema), qschema_(conn.QuoteIdent(schema)) {}

	std::string Table(const char *name) const { return qschema_ + "." + name; }

	std::string Where() const {
		return "the DuckLake catalog in schema " + qschema_ + " of " + conn_.RedactedConninfo();
	}

	void CheckExists() {
		auto r = conn_.Exec("SELECT to_regclass($1) IS NOT NULL", {Table("ducklake_metadata")});
		if (!r.GetBool(0, 0)) {
			throw Error(ErrorKind::Lake,
			            "no DuckLake catalog in schema " + qschema_ + " of " + conn_.RedactedConninfo(),
			            {.hint = "run pg_duckpipe against this catalog first so it creates the lake, or check "
			                     "--lake-catalog / DUCKPIPE_LAKE_CATALOG and --lake-schema / DUCKPIPE_LAKE_SCHEMA"});
		}
	}

	void LoadMetadata(CatalogState &state) {
		auto r =
		    conn_.Exec("SELECT key, value FROM " + Table("ducklake_metadata") + " WHERE scope IS NULL OR scope = ''");
		for (int i = 0; i < r.Rows(); i++) {
			auto key = r.Get(i, 0);
			if (key == "version") {
				state.version = std::string(r.Get(i, 1));
			} else if (key == "data_path") {
				state.data_path = WithSlash(std::string(r.Get(i, 1)));
			}
		}
		if (state.version != "1.0") {
			throw Error(ErrorKind::Lake,
			            Where() + " has format version '" + state.version +
			                "', but pg_duckpipe reads version '1.0' only",
			            {.hint = "migrate the lake to format 1.0 with DuckDB's ducklake extension, or point "
			                     "--lake-schema at a DuckLake 1.0 catalog"});
		}
		if (state.data_path.empty()) {
			throw Error(ErrorKind::Lake, Where() + " has no data_path in ducklake_metadata",
			            {.hint = "the catalog is incomplete; recreate the lake"});
		}
	}

	void LoadSnapshot(CatalogState &state, const SnapshotSelector &sel) {
		const std::string cols = "SELECT snapshot_id, snapshot_time::text, schema_version, next_catalog_id, "
		                         "next_file_id FROM " +
		                         Table("ducklake_snapshot");
		PgResult r;
		switch (sel.kind) {
		case SnapshotSelector::Kind::Latest:
			r = conn_.Exec(cols + " ORDER BY snapshot_id DESC LIMIT 1");
			break;
		case SnapshotSelector::Kind::Id:
			r = conn_.Exec(cols + " WHERE snapshot_id = $1", {std::to_string(sel.snapshot_id)});
			break;
		case SnapshotSelector::Kind::AsOf:
			try {
				r = conn_.Exec(cols + " WHERE snapshot_time <= $1::timestamptz ORDER BY snapshot_id DESC LIMIT 1",
				               {sel.timestamp});
			} catch (const Error &e) {
				if (e.Context().sqlstate.starts_with("22")) {
					throw Error(ErrorKind::Config,
					            "cannot read '" + sel.timestamp + "'" +
					                (sel.origin.empty() ? "" : " (" + sel.origin + ")") + " as a timestamp",
					            {.hint = "use e.g. '2024-05-01 12:00:00+00' (UTC when no zone is given)"});
				}
				throw;
			}
			break;
		}
		if (r.Rows() == 0) {
			auto range = conn_.Exec("SELECT min(snapshot_id), max(snapshot_id), min(snapshot_time)::text FROM " +
			                        Table("ducklake_snapshot"));
			if (range.IsNull(0, 0)) {
				throw Error(ErrorKind::Lake, Where() + " has no snapshot",
				            {.hint = "the catalog is incomplete; recreate the lake"});
			}
			std::string known = "snapshots " + std::string(range.Get(0, 0)) + ".." + std::string(range.Get(0, 1)) +
			                    ", the first taken at " + std::string(range.Get(0, 2));
			std::string origin = sel.origin.empty() ? "" : " (" + sel.origin + ")";
			if (sel.kind == SnapshotSelector::Kind::Id) {
				throw Error(ErrorKind::Config,
				            "snapshot " + std::to_string(sel.snapshot_id) + origin + " does not exist in " + Where() +
				                " (it has " + known + ")",
				            {.hint = sel.hint.empty()
				                         ? "pick an existing snapshot id; old snapshots may have been expired"
				                         : sel.hint});
			}
			throw Error(ErrorKind::Config,
			            "no snapshot at or before " + sel.timestamp + origin + " in " + Where() + " (it has " + known +
			                ")",
			            {.hint = sel.hint.empty() ? "pick a later --as-of time" : sel.hint});
		}
		state.snapshot.snapshot_id = r.GetInt(0, 0);
		state.snapshot.snapshot_time = std::string(r.Get(0, 1));
		state.snapshot.schema_version = r.GetInt(0, 2);
		state.snapshot.next_catalog_id = r.GetInt(0, 3);
		state.snapshot.next_file_id = r.GetInt(0, 4);
		snapshot_param_ = std::to_string(state.snapshot.snapshot_id);
	}

	void LoadSchemasAndTables(CatalogState &state) {
		auto r = conn_.Exec("SELECT schema_id, schema_uuid::text, schema_name, path, path_is_relative FROM " +
		                        Table("ducklake_schema") + " WHERE " + kVisible + " ORDER BY schema_id",
		                    {snapshot_param_});
		std::unordered_map<int64_t, size_t> schema_index;
		for (int i = 0; i < r.Rows(); i++) {
			LakeSchema s;
			s.schema_id = r.GetInt(i, 0);
			s.schema_uuid = std::string(r.Get(i, 1));
			s.name = std::string(r.Get(i, 2));
			s.path = std::string(r.Get(i, 3));
			s.path_is_relative = r.IsNull(i, 4) || r.GetBool(i, 4);
			s.full_path = WithSlash(Resolve(state.data_path, s.path, s.path_is_relative));
			schema_index[s.schema_id] = state.schemas.size();
			state.schemas.push_back(std::move(s));
		}
		auto t = conn_.Exec("SELECT table_id, table_uuid::text, schema_id, table_name, path, path_is_relative, "
		                    "begin_snapshot FROM " +
		                        Table("ducklake_table") + " WHERE " + kVisible + " ORDER BY table_id",
		                    {snapshot_param_});
		for (int i = 0; i < t.Rows(); i++) {
			LakeTable table;
			table.table_id = t.GetInt(i, 0);
			table.table_uuid = std::string(t.Get(i, 1));
			table.schema_id = t.GetInt(i, 2);
			auto it = schema_index.find(table.schema_id);
			if (it == schema_index.end()) {
				continue; // its schema is not visible: the table is not either
			}
			const auto &schema = state.schemas[it->second];
			table.schema_name = schema.name;
			table.name = std::string(t.Get(i, 3));
			table.path = std::string(t.Get(i, 4));
			table.path_is_relative = t.IsNull(i, 5) || t.GetBool(i, 5);
			table.full_path = WithSlash(Resolve(schema.full_path, table.path, table.path_is_relative));
			table.begin_snapshot = t.GetInt(i, 6);
			table_index_[table.table_id] = state.tables.size();
			state.tables.push_back(std::move(table));
		}
	}

	void LoadColumns(CatalogState &state) {
		auto r = conn_.Exec("SELECT table_id, column_id, column_order, column_name, column_type, initial_default, "
		                    "default_value, default_value_type, nulls_allowed, parent_column FROM " +
		                        Table("ducklake_column") + " WHERE " + kVisible +
		                        " ORDER BY table_id, column_order, column_id",
		                    {snapshot_param_});
		struct Node {
			LakeColumn column;
			std::optional<int64_t> parent;
		};
		// Per table: nodes in column_order, and children ids per parent id.
		std::map<int64_t, std::vector<Node>> nodes;
		for (int i = 0; i < r.Rows(); i++) {
			int64_t table_id = r.GetInt(i, 0);
			if (!table_index_.contains(table_id)) {
				continue;
			}
			Node n;
			n.column.column_id = r.GetInt(i, 1);
			n.column.column_order = r.IsNull(i, 2) ? n.column.column_id : r.GetInt(i, 2);
			n.column.name = std::string(r.Get(i, 3));
			n.column.type = std::string(r.Get(i, 4));
			n.column.initial_default = r.GetOptional(i, 5);
			n.column.default_value = r.GetOptional(i, 6);
			n.column.default_value_type = std::string(r.Get(i, 7));
			n.column.nulls_allowed = r.IsNull(i, 8) || r.GetBool(i, 8);
			n.parent = OptInt(r, i, 9);
			auto &table = state.tables[table_index_[table_id]];
			if (!IsValidTypeName(n.column.type)) {
				throw Error(ErrorKind::Lake,
				            "column " + n.column.name + " of " + table.schema_name + "." + table.name + " in " +
				                Where() + " has the invalid type '" + n.column.type + "'",
				            {.table = table.schema_name + "." + table.name,
				             .hint = "DuckLake type names are lowercase spec names such as int64 or decimal(18,3)"});
			}
			nodes[table_id].push_back(std::move(n));
		}
		for (auto &[table_id, list] : nodes) {
			std::unordered_map<int64_t, std::vector<size_t>> children;
			std::vector<size_t> roots;
			for (size_t i = 0; i < list.size(); i++) {
				if (list[i].parent) {
					children[*list[i].parent].push_back(i);
				} else {
					roots.push_back(i);
				}
			}
			// Ids are unique per table, so recursion depth is bounded by the nesting depth.
			auto build = [&](auto &self, size_t index) -> LakeColumn {
				LakeColumn column = list[index].column;
				auto it = children.find(column.column_id);
				if (it != children.end()) {
					for (auto child : it->second) {
						column.children.push_back(self(self, child));
					}
				}
				return column;
			};
			auto &table = state.tables[table_index_[table_id]];
			for (auto root : roots) {
				table.columns.push_back(build(build, root));
			}
		}
	}

	void LoadFiles(CatalogState &state) {
		// DISTINCT ON guards against two visible delete files for one data file (a corrupt catalog):
		// the newest one wins instead of duplicating rows.
		auto r = conn_.Exec(
		    "SELECT DISTINCT ON (f.data_file_id) f.data_file_id, f.table_id, f.path, f.path_is_relative, "
		    "f.record_count, f.file_size_bytes, f.footer_size, f.row_id_start, f.begin_snapshot, f.mapping_id, "
		    "f.partial_max, d.delete_file_id, d.path, d.path_is_relative, d.delete_count, d.partial_max FROM " +
		        Table("ducklake_data_file") + " f LEFT JOIN " + Table("ducklake_delete_file") +
		        " d ON d.data_file_id = f.data_file_id AND d.begin_snapshot <= $1 AND "
		        "(d.end_snapshot IS NULL OR d.end_snapshot > $1) "
		        "WHERE f.begin_snapshot <= $1 AND (f.end_snapshot IS NULL OR f.end_snapshot > $1) "
		        "ORDER BY f.data_file_id, d.begin_snapshot DESC NULLS LAST, d.delete_file_id DESC",
		    {snapshot_param_});
		for (int i = 0; i < r.Rows(); i++) {
			auto it = table_index_.find(r.GetInt(i, 1));
			if (it == table_index_.end()) {
				continue;
			}
			auto &table = state.tables[it->second];
			LakeDataFile f;
			f.data_file_id = r.GetInt(i, 0);
			f.path = std::string(r.Get(i, 2));
			f.path_is_relative = r.IsNull(i, 3) || r.GetBool(i, 3);
			f.full_path = Resolve(table.full_path, f.path, f.path_is_relative);
			f.record_count = r.GetInt(i, 4);
			f.file_size_bytes = r.GetInt(i, 5);
			f.footer_size = OptInt(r, i, 6);
			f.row_id_start = r.IsNull(i, 7) ? 0 : r.GetInt(i, 7);
			f.begin_snapshot = r.GetInt(i, 8);
			f.mapping_id = OptInt(r, i, 9);
			f.partial_max = OptInt(r, i, 10);
			f.delete_file_id = OptInt(r, i, 11);
			if (f.delete_file_id) {
				bool relative = r.IsNull(i, 13) || r.GetBool(i, 13);
				f.delete_full_path = Resolve(table.full_path, std::string(r.Get(i, 12)), relative);
				f.delete_count = r.IsNull(i, 14) ? 0 : r.GetInt(i, 14);
				f.delete_partial_max = OptInt(r, i, 15);
			}
			table.files.push_back(std::move(f));
		}
	}

	// Statistics of the live files' top-level columns (nested leaves are not used for pruning).
	void LoadFileStats(CatalogState &state) {
		std::unordered_map<int64_t, LakeDataFile *> files;
		for (auto &t : state.tables) {
			for (auto &f : t.files) {
				files[f.data_file_id] = &f;
			}
		}
		if (files.empty()) {
			return;
		}
		auto r = conn_.Exec("SELECT s.data_file_id, s.column_id, s.value_count, s.null_count, s.min_value, "
		                    "s.max_value, s.contains_nan FROM " +
		                        Table("ducklake_file_column_stats") + " s JOIN " + Table("ducklake_data_file") +
		                        " f USING (data_file_id) WHERE f.begin_snapshot <= $1 AND (f.end_snapshot IS NULL OR "
		                        "f.end_snapshot > $1) ORDER BY s.data_file_id, s.column_id",
		                    {snapshot_param_});
		for (int i = 0; i < r.Rows(); i++) {
			auto it = files.find(r.GetInt(i, 0));
			if (it == files.end()) {
				continue;
			}
			LakeColumnStats s;
			s.column_id = r.GetInt(i, 1);
			s.value_count = OptInt(r, i, 2);
			s.null_count = OptInt(r, i, 3);
			s.min_value = r.GetOptional(i, 4);
			s.max_value = r.GetOptional(i, 5);
			if (!r.IsNull(i, 6)) {
				s.contains_nan = r.GetBool(i, 6);
			}
			it->second->column_stats.push_back(std::move(s));
		}
	}

private:
	PgConnection &conn_;
	std::string schema_;
	std::string qschema_;
	std::string snapshot_param_;
	std::unordered_map<int64_t, size_t> table_index_;
};

// A caller already inside a transaction (a writer about to commit on top of this state) keeps it:
// its snapshot is the one to read, and committing it here would end the caller's work.
std::unique_ptr<PgTransaction> OwnTransaction(PgConnection &conn) {
	if (PQtransactionStatus(conn.Raw()) != PQTRANS_IDLE) {
		return nullptr;
	}
	return std::make_unique<PgTransaction>(conn, "REPEATABLE READ READ ONLY");
}

} // namespace

CatalogState LoadCatalog(PgConnection &conn, const std::string &catalog_schema, const SnapshotSelector &selector) {
	Loader loader(conn, catalog_schema);
	CatalogState state;
	auto txn = OwnTransaction(conn);
	loader.CheckExists();
	loader.LoadMetadata(state);
	loader.LoadSnapshot(state, selector);
	loader.LoadSchemasAndTables(state);
	loader.LoadColumns(state);
	loader.LoadFiles(state);
	loader.LoadFileStats(state);
	LoadInlinedData(conn, catalog_schema, state);
	if (txn) {
		txn->Commit();
	}
	for (const auto &table : state.tables) {
		if (table.columns.empty()) {
			throw Error(ErrorKind::Lake,
			            "table " + table.schema_name + "." + table.name + " has no columns at snapshot " +
			                std::to_string(state.snapshot.snapshot_id) + " in " + loader.Where(),
			            {.table = table.schema_name + "." + table.name, .hint = "the catalog is malformed"});
		}
	}
	log::Debug("lake.catalog_loaded", "schema", catalog_schema, "snapshot", state.snapshot.snapshot_id, "tables",
	           state.tables.size());
	return state;
}

std::vector<SnapshotRecord> ListSnapshots(PgConnection &conn, const std::string &catalog_schema) {
	Loader loader(conn, catalog_schema);
	auto txn = OwnTransaction(conn);
	loader.CheckExists();
	auto r = conn.Exec("SELECT s.snapshot_id, s.snapshot_time::text, s.schema_version, "
	                   "coalesce(c.changes_made, '') FROM " +
	                   loader.Table("ducklake_snapshot") + " s LEFT JOIN " + loader.Table("ducklake_snapshot_changes") +
	                   " c USING (snapshot_id) ORDER BY s.snapshot_id");
	std::vector<SnapshotRecord> out;
	for (int i = 0; i < r.Rows(); i++) {
		out.push_back({r.GetInt(i, 0), std::string(r.Get(i, 1)), r.GetInt(i, 2), std::string(r.Get(i, 3))});
	}
	if (txn) {
		txn->Commit();
	}
	return out;
}

const LakeTable *CatalogState::FindTable(const std::string &schema, const std::string &name) const {
	for (const auto &t : tables) {
		if (t.schema_name == schema && t.name == name) {
			return &t;
		}
	}
	return nullptr;
}

const LakeTable *CatalogState::FindTable(int64_t table_id) const {
	for (const auto &t : tables) {
		if (t.table_id == table_id) {
			return &t;
		}
	}
	return nullptr;
}

} // namespace duckpipe::lake
