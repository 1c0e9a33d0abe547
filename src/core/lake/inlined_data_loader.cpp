#include "core/lake/inlined_data_loader.hpp"

#include "core/common/log.hpp"
#include "core/pg/pg_connection.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

namespace duckpipe::lake {

namespace {

const LakeColumn *FindColumn(const LakeTable &table, int64_t column_id) {
	for (const auto &c : table.columns) {
		if (c.column_id == column_id) {
			return &c;
		}
	}
	return nullptr;
}

// A PostgreSQL expression giving the column's value as text DuckDB casts back to the lake type:
// the reference stores strings as BYTEA and some temporal types as text (digest section 7), we
// store them natively; both read the same.
std::string TextOf(const std::string &ident, const std::string &pg_type, const std::string &lake_type) {
	if (pg_type == "bytea") {
		if (lake_type == "blob") {
			// DuckDB's BLOB text form: \xAB per byte.
			return "regexp_replace(encode(" + ident + ", 'hex'), '(..)', '\\\\x\\1', 'g')";
		}
		return "convert_from(" + ident + ", 'UTF8')";
	}
	if (pg_type == "timestamp with time zone") {
		return "CASE WHEN isfinite(" + ident + ") THEN to_char(" + ident +
		       " AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' ELSE " + ident + "::text END";
	}
	if (pg_type == "interval") {
		// Months, days and microseconds spelt out: DuckDB reads them whatever the IntervalStyle.
		return "((extract(year FROM " + ident + ") * 12 + extract(month FROM " + ident +
		       "))::bigint || ' months ' || " + "extract(day FROM " + ident +
		       ")::bigint || ' days ' || (extract(hour FROM " + ident + ") * 3600000000 + extract(minute FROM " +
		       ident + ") * 60000000 + extract(microseconds FROM " + ident + "))::bigint || ' microseconds')";
	}
	return ident + "::text";
}

class InlinedLoader {
public:
	InlinedLoader(PgConnection &conn, const std::string &schema, CatalogState &state)
	    : conn_(conn), schema_(schema), qschema_(conn.QuoteIdent(schema)), state_(state),
	      snapshot_(std::to_string(state.snapshot.snapshot_id)) {}

	void Run() {
		auto r = conn_.Exec("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
		                    "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname LIKE "
		                    "'ducklake\\_inlined\\_%'",
		                    {schema_});
		for (int i = 0; i < r.Rows(); i++) {
			existing_.insert(std::string(r.Get(i, 0)));
		}
		if (existing_.empty()) {
			return;
		}
		for (size_t i = 0; i < state_.tables.size(); i++) {
			index_[state_.tables[i].table_id] = i;
		}
		if (existing_.contains("ducklake_inlined_data_tables")) {
			LoadRows();
		}
		LoadDeletes();
	}

private:
	void LoadRows() {
		auto r = conn_.Exec("SELECT table_id, table_name, schema_version FROM " + qschema_ +
		                    ".ducklake_inlined_data_tables ORDER BY table_id, schema_version");
		for (int i = 0; i < r.Rows(); i++) {
			auto it = index_.find(r.GetInt(i, 0));
			std::string name(r.Get(i, 1));
			if (it == index_.end() || !existing_.contains(name)) {
				continue; // a dropped table's, or registered but never created (the reference tolerates it)
			}
			LoadTable(state_.tables[it->second], name, r.GetInt(i, 2));
		}
	}

	// Column ids by name of the table's top-level columns at schema version `version`: at the
	// begin_snapshot of the table's schema_versions row of that version (as the reference reads
	// it; expiry keeps those columns while the inlined table holds rows), else at the first
	// snapshot of that version (or the last before it), else at the loaded one.
	std::map<std::string, int64_t> ColumnsAt(const LakeTable &table, int64_t version) {
		auto s =
		    conn_.Exec("SELECT coalesce((SELECT min(begin_snapshot) FROM " + qschema_ +
		                   ".ducklake_schema_versions WHERE table_id = $2 AND schema_version = $1), (SELECT "
		                   "min(snapshot_id) FROM " +
		                   qschema_ + ".ducklake_snapshot WHERE schema_version = $1), (SELECT max(snapshot_id) FROM " +
		                   qschema_ + ".ducklake_snapshot WHERE schema_version <= $1))",
		               {std::to_string(version), std::to_string(table.table_id)});
		std::map<std::string, int64_t> out;
		if (!s.IsNull(0, 0)) {
			auto c = conn_.Exec("SELECT column_name, column_id FROM " + qschema_ +
			                        ".ducklake_column WHERE table_id = $1 AND parent_column IS NULL AND "
			                        "begin_snapshot <= $2 AND (end_snapshot IS NULL OR end_snapshot > $2)",
			                    {std::to_string(table.table_id), std::string(s.Get(0, 0))});
			for (int i = 0; i < c.Rows(); i++) {
				out[std::string(c.Get(i, 0))] = c.GetInt(i, 1);
			}
		}
		if (out.empty()) {
			for (const auto &col : table.columns) {
				out[col.name] = col.column_id;
			}
		}
		return out;
	}

	void LoadTable(LakeTable &table, const std::string &name, int64_t version) {
		auto by_name = ColumnsAt(table, version);
		auto qtable = qschema_ + "." + conn_.QuoteIdent(name);
		auto attrs = conn_.Exec("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
		                        "attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
		                        {qtable});
		LakeInlinedRows rows;
		rows.table_name = name;
		rows.schema_version = version;
		std::string select = "row_id";
		for (int i = 0; i < attrs.Rows(); i++) {
			std::string column(attrs.Get(i, 0));
			if (column == "row_id" || column == "begin_snapshot" || column == "end_snapshot") {
				continue;
			}
			auto it = by_name.find(column);
			std::optional<int64_t> id;
			const LakeColumn *lake_column = nullptr;
			if (it != by_name.end()) {
				id = it->second;
				lake_column = FindColumn(table, it->second);
			}
			rows.column_ids.push_back(lake_column ? id : std::nullopt);
			select +=
			    ", " + (lake_column ? TextOf(conn_.QuoteIdent(column), std::string(attrs.Get(i, 1)), lake_column->type)
			                        : std::string("NULL::text"));
		}
		auto data = conn_.Exec("SELECT " + select + " FROM " + qtable +
		                           " WHERE begin_snapshot <= $1 AND (end_snapshot IS NULL OR end_snapshot > $1) "
		                           "ORDER BY row_id",
		                       {snapshot_});
		if (data.Rows() == 0) {
			return;
		}
		for (int i = 0; i < data.Rows(); i++) {
			rows.row_ids.push_back(data.GetInt(i, 0));
			std::vector<std::optional<std::string>> values;
			for (size_t c = 0; c < rows.column_ids.size(); c++) {
				values.push_back(data.GetOptional(i, static_cast<int>(c) + 1));
			}
			rows.values.push_back(std::move(values));
		}
		log::Debug("lake.inlined_rows_loaded", "table", table.schema_name + "." + table.name, "inlined_table", name,
		           "rows", rows.row_ids.size());
		table.inlined.push_back(std::move(rows));
	}

	void LoadDeletes() {
		for (auto &table : state_.tables) {
			auto name = "ducklake_inlined_delete_" + std::to_string(table.table_id);
			if (!existing_.contains(name) || table.files.empty()) {
				continue;
			}
			std::unordered_map<int64_t, LakeDataFile *> files;
			for (auto &f : table.files) {
				files[f.data_file_id] = &f;
			}
			auto r = conn_.Exec("SELECT file_id, row_id FROM " + qschema_ + "." + conn_.QuoteIdent(name) +
			                        " WHERE begin_snapshot <= $1 ORDER BY file_id, row_id",
			                    {snapshot_});
			for (int i = 0; i < r.Rows(); i++) {
				auto it = files.find(r.GetInt(i, 0));
				if (it != files.end()) {
					it->second->inlined_deleted_positions.push_back(r.GetInt(i, 1));
				}
			}
		}
	}

	PgConnection &conn_;
	std::string schema_;
	std::string qschema_;
	CatalogState &state_;
	std::string snapshot_;
	std::set<std::string> existing_;
	std::unordered_map<int64_t, size_t> index_;
};

} // namespace

void LoadInlinedData(PgConnection &conn, const std::string &schema, CatalogState &state) {
	InlinedLoader(conn, schema, state).Run();
}

} // namespace duckpipe::lake
