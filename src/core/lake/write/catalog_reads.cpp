#include "core/lake/write/catalog_reads.hpp"

#include "core/common/error.hpp"
#include "core/pg/pg_connection.hpp"

#include <algorithm>
#include <functional>

namespace duckpipe::lake {

namespace {

std::string Live(const std::string &alias, int64_t snapshot) {
	auto s = std::to_string(snapshot);
	return alias + ".begin_snapshot <= " + s + " AND (" + alias + ".end_snapshot IS NULL OR " + alias +
	       ".end_snapshot > " + s + ")";
}

std::string Resolve(const std::string &base, const std::string &path, bool relative) {
	return relative ? base + path : path;
}

} // namespace

CatalogReads::CatalogReads(PgConnection &conn, std::string catalog_schema, std::string data_path)
    : conn_(conn), schema_(std::move(catalog_schema)), data_path_(std::move(data_path)) {}

std::string CatalogReads::T(const char *table) const {
	return conn_.QuoteIdent(schema_) + "." + table;
}

SnapshotInfo CatalogReads::Head() {
	auto r = conn_.Exec("SELECT snapshot_id, snapshot_time, schema_version, next_catalog_id, next_file_id FROM " +
	                    T("ducklake_snapshot") + " WHERE snapshot_id = (SELECT max(snapshot_id) FROM " +
	                    T("ducklake_snapshot") + ")");
	if (r.Rows() != 1) {
		throw Error(ErrorKind::Lake, "the DuckLake catalog has no snapshot",
		            {.hint = "the catalog is damaged or was not bootstrapped; recreate the lake"});
	}
	SnapshotInfo s;
	s.snapshot_id = r.GetInt(0, 0);
	s.snapshot_time = r.Get(0, 1);
	s.schema_version = r.GetInt(0, 2);
	s.next_catalog_id = r.GetInt(0, 3);
	s.next_file_id = r.GetInt(0, 4);
	return s;
}

std::optional<LakeSchema> CatalogReads::FindSchema(const std::string &name, int64_t snapshot) {
	auto r = conn_.Exec("SELECT schema_id, schema_uuid, path, path_is_relative FROM " + T("ducklake_schema") +
	                        " s WHERE schema_name = $1 AND " + Live("s", snapshot),
	                    {name});
	if (r.Rows() == 0) {
		return std::nullopt;
	}
	LakeSchema s;
	s.schema_id = r.GetInt(0, 0);
	s.schema_uuid = r.Get(0, 1);
	s.name = name;
	s.path = r.Get(0, 2);
	s.path_is_relative = r.IsNull(0, 3) || r.GetBool(0, 3);
	s.full_path = Resolve(data_path_, s.path, s.path_is_relative);
	return s;
}

std::optional<int64_t> CatalogReads::FindTableId(const std::string &schema, const std::string &name, int64_t snapshot) {
	auto r = conn_.Exec("SELECT t.table_id FROM " + T("ducklake_table") + " t JOIN " + T("ducklake_schema") +
	                        " s ON s.schema_id = t.schema_id AND " + Live("s", snapshot) +
	                        " WHERE s.schema_name = $1 AND t.table_name = $2 AND " + Live("t", snapshot),
	                    {schema, name});
	if (r.Rows() == 0) {
		return std::nullopt;
	}
	return r.GetInt(0, 0);
}

TableBase CatalogReads::LoadTable(int64_t table_id, int64_t snapshot) {
	auto id = std::to_string(table_id);
	auto t =
	    conn_.Exec("SELECT t.table_uuid, t.schema_id, t.table_name, t.path, t.path_is_relative, "
	               "t.begin_snapshot, s.schema_name, s.path, s.path_is_relative FROM " +
	               T("ducklake_table") + " t JOIN " + T("ducklake_schema") + " s ON s.schema_id = t.schema_id AND " +
	               Live("s", snapshot) + " WHERE t.table_id = " + id + " AND " + Live("t", snapshot));
	if (t.Rows() != 1) {
		throw Error(ErrorKind::Lake, "lake table id " + id + " does not exist at snapshot " + std::to_string(snapshot),
		            {.hint = "the table was dropped or never created; re-resolve the table by name"});
	}
	TableBase out;
	auto &tb = out.table;
	tb.table_id = table_id;
	tb.table_uuid = t.Get(0, 0);
	tb.schema_id = t.GetInt(0, 1);
	tb.name = t.Get(0, 2);
	tb.path = t.Get(0, 3);
	tb.path_is_relative = t.IsNull(0, 4) || t.GetBool(0, 4);
	tb.begin_snapshot = t.GetInt(0, 5);
	tb.schema_name = t.Get(0, 6);
	out.schema_full_path = Resolve(data_path_, std::string(t.Get(0, 7)), t.IsNull(0, 8) || t.GetBool(0, 8));
	tb.full_path = Resolve(out.schema_full_path, tb.path, tb.path_is_relative);

	auto c = conn_.Exec("SELECT column_id, column_order, column_name, column_type, initial_default, default_value, "
	                    "nulls_allowed, parent_column, default_value_type, " +
	                    Live("c", snapshot) + " AS live FROM " + T("ducklake_column") + " c WHERE table_id = " + id +
	                    " ORDER BY column_order, column_id");
	struct Row {
		LakeColumn col;
		std::optional<int64_t> parent;
	};
	std::vector<Row> rows;
	for (int i = 0; i < c.Rows(); i++) {
		out.max_column_id = std::max(out.max_column_id, c.GetInt(i, 0));
		if (c.Get(i, 9) != "t") {
			continue;
		}
		Row r;
		r.col.column_id = c.GetInt(i, 0);
		r.col.column_order = c.IsNull(i, 1) ? r.col.column_id : c.GetInt(i, 1);
		r.col.name = c.Get(i, 2);
		r.col.type = c.Get(i, 3);
		r.col.initial_default = c.GetOptional(i, 4);
		r.col.default_value = c.GetOptional(i, 5);
		r.col.nulls_allowed = c.IsNull(i, 6) || c.GetBool(i, 6);
		if (!c.IsNull(i, 7)) {
			r.parent = c.GetInt(i, 7);
		}
		r.col.default_value_type = std::string(c.Get(i, 8));
		rows.push_back(std::move(r));
	}
	std::function<std::vector<LakeColumn>(std::optional<int64_t>)> build = [&](std::optional<int64_t> parent) {
		std::vector<LakeColumn> cols;
		for (const auto &r : rows) {
			if (r.parent == parent) {
				auto col = r.col;
				col.children = build(col.column_id);
				cols.push_back(std::move(col));
			}
		}
		return cols;
	};
	tb.columns = build(std::nullopt);

	auto f = conn_.Exec("SELECT d.data_file_id, d.path, d.path_is_relative, d.record_count, d.file_size_bytes, "
	                    "d.footer_size, d.row_id_start, d.begin_snapshot, d.mapping_id, x.delete_file_id, x.path, "
	                    "x.path_is_relative, x.delete_count FROM " +
	                    T("ducklake_data_file") + " d LEFT JOIN " + T("ducklake_delete_file") +
	                    " x ON x.data_file_id = d.data_file_id AND " + Live("x", snapshot) +
	                    " WHERE d.table_id = " + id + " AND " + Live("d", snapshot) + " ORDER BY d.data_file_id");
	for (int i = 0; i < f.Rows(); i++) {
		LakeDataFile df;
		df.data_file_id = f.GetInt(i, 0);
		df.path = f.Get(i, 1);
		df.path_is_relative = f.IsNull(i, 2) || f.GetBool(i, 2);
		df.full_path = Resolve(tb.full_path, df.path, df.path_is_relative);
		df.record_count = f.GetInt(i, 3);
		df.file_size_bytes = f.GetInt(i, 4);
		if (!f.IsNull(i, 5)) {
			df.footer_size = f.GetInt(i, 5);
		}
		df.row_id_start = f.IsNull(i, 6) ? 0 : f.GetInt(i, 6);
		df.begin_snapshot = f.GetInt(i, 7);
		if (!f.IsNull(i, 8)) {
			df.mapping_id = f.GetInt(i, 8);
		}
		if (!f.IsNull(i, 9)) {
			df.delete_file_id = f.GetInt(i, 9);
			df.delete_full_path = Resolve(tb.full_path, std::string(f.Get(i, 10)), f.IsNull(i, 11) || f.GetBool(i, 11));
			df.delete_count = f.IsNull(i, 12) ? 0 : f.GetInt(i, 12);
		}
		tb.files.push_back(std::move(df));
	}
	return out;
}

std::map<int64_t, std::vector<std::pair<std::optional<std::string>, std::optional<std::string>>>>
CatalogReads::KeyStats(int64_t table_id, const std::vector<int64_t> &data_file_ids,
                       const std::vector<int64_t> &column_ids) {
	std::map<int64_t, std::vector<std::pair<std::optional<std::string>, std::optional<std::string>>>> out;
	if (data_file_ids.empty()) {
		return out;
	}
	std::string files, cols;
	for (auto f : data_file_ids) {
		files += (files.empty() ? "" : ",") + std::to_string(f);
		out[f].resize(column_ids.size());
	}
	for (auto c : column_ids) {
		cols += (cols.empty() ? "" : ",") + std::to_string(c);
	}
	auto r = conn_.Exec("SELECT data_file_id, column_id, min_value, max_value FROM " + T("ducklake_file_column_stats") +
	                    " WHERE table_id = " + std::to_string(table_id) + " AND data_file_id IN (" + files +
	                    ") AND column_id IN (" + cols + ")");
	for (int i = 0; i < r.Rows(); i++) {
		auto fid = r.GetInt(i, 0);
		auto cid = r.GetInt(i, 1);
		auto pos = std::find(column_ids.begin(), column_ids.end(), cid) - column_ids.begin();
		out[fid][pos] = {r.GetOptional(i, 2), r.GetOptional(i, 3)};
	}
	return out;
}

} // namespace duckpipe::lake
