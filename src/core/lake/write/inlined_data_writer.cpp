#include "core/lake/write/inlined_data_writer.hpp"

#include "core/common/ascii.hpp"
#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/lake/lake_type.hpp"
#include "core/lake/write/parquet_file_writer.hpp"
#include "core/pg/pg_connection.hpp"

#include <functional>

namespace duckpipe::lake {

namespace {

constexpr const char *kBytea = "BYTEA";

} // namespace

// What the reference's PostgreSQL metadata manager (GetColumnTypeInternal) makes of the DuckDB type
// of each lake type: types PostgreSQL cannot hold exactly become VARCHAR (DuckDB's text of the
// value), strings and BLOBs BYTEA (a PostgreSQL text cannot hold a NUL), the rest DuckDB's own name.
std::optional<std::string> InlinedDataWriter::PgType(const std::string &lake_type) {
	static const std::map<std::string, std::string> kTypes = {{"boolean", "BOOLEAN"},
	                                                          {"int8", "SMALLINT"},
	                                                          {"int16", "SMALLINT"},
	                                                          {"int32", "INTEGER"},
	                                                          {"int64", "BIGINT"},
	                                                          {"uint8", "INTEGER"},
	                                                          {"uint16", "INTEGER"},
	                                                          {"uint32", "BIGINT"},
	                                                          {"uint64", "VARCHAR"},
	                                                          {"int128", "VARCHAR"},
	                                                          {"uint128", "VARCHAR"},
	                                                          {"float32", "REAL"},
	                                                          {"float64", "DOUBLE PRECISION"},
	                                                          {"date", "VARCHAR"},
	                                                          {"time", "TIME"},
	                                                          {"timetz", "TIME WITH TIME ZONE"},
	                                                          {"timestamp", "VARCHAR"},
	                                                          {"timestamptz", "VARCHAR"},
	                                                          {"timestamp_s", "VARCHAR"},
	                                                          {"timestamp_ms", "VARCHAR"},
	                                                          {"timestamp_ns", "VARCHAR"},
	                                                          {"interval", "INTERVAL"},
	                                                          {"uuid", "UUID"},
	                                                          {"varchar", kBytea},
	                                                          {"json", kBytea},
	                                                          {"blob", kBytea}};
	auto lower = AsciiLower(lake_type);
	auto it = kTypes.find(lower);
	if (it != kTypes.end()) {
		return it->second;
	}
	if (lower.starts_with("decimal(")) {
		return "DECIMAL" + lower.substr(7);
	}
	return std::nullopt;
}

bool InlinedDataWriter::CanInline(const std::vector<LakeColumn> &columns) {
	if (columns.empty()) {
		return false;
	}
	for (const auto &c : columns) {
		auto name = AsciiLower(c.name);
		if (!c.children.empty() || !PgType(c.type) || name == "row_id" || name == "begin_snapshot" ||
		    name == "end_snapshot" || name.starts_with("_ducklake_internal_")) {
			return false;
		}
	}
	return true;
}

std::string InlinedDataWriter::TableName(int64_t table_id, int64_t schema_version) {
	return "ducklake_inlined_data_" + std::to_string(table_id) + "_" + std::to_string(schema_version);
}

std::shared_ptr<const InlinedInsert>
InlinedDataWriter::ReadRows(DuckConnection &duck, const std::vector<LakeColumn> &columns, const std::string &path) {
	auto out = std::make_shared<InlinedInsert>();
	std::string select;
	for (const auto &c : columns) {
		auto pg_type = *PgType(c.type);
		out->columns.push_back({c.name, pg_type});
		// The value as the lake type reads it from the file (Parquet has no 128-bit integers: DuckDB
		// writes them as DOUBLE), so the inlined row holds what the file would have given.
		auto q = "CAST(" + DuckConnection::QuoteIdent(c.name) + " AS " + ParquetFileWriter::DuckType(c) + ")";
		std::string expr;
		if (pg_type != kBytea) {
			expr = "CAST(" + q + " AS VARCHAR)";
		} else if (AsciiLower(c.type) == "blob") {
			expr = "hex(" + q + ")";
		} else {
			expr = "hex(encode(CAST(" + q + " AS VARCHAR)))";
		}
		select += (select.empty() ? "" : ", ") + expr;
	}
	auto r = duck.Query("SELECT " + select + " FROM read_parquet(" + DuckConnection::QuoteLiteral(path) + ")");
	for (uint64_t row = 0; row < r.Rows(); row++) {
		std::vector<std::optional<std::string>> values;
		for (uint64_t c = 0; c < columns.size(); c++) {
			values.push_back(r.GetString(c, row));
		}
		out->rows.push_back(std::move(values));
	}
	return out;
}

namespace {

// PL/pgSQL that creates the inlined table named by the variable `n` (schema version in `v`) with
// the given columns when it is missing, and registers it once, as the reference does.
std::string CreateAndRegisterPlpgsql(PgConnection &conn, const std::string &catalog_schema, int64_t table_id,
                                     const std::string &ddl) {
	const auto qs = conn.QuoteIdent(catalog_schema);
	const auto schema_lit = conn.QuoteLiteral(catalog_schema);
	const auto T = std::to_string(table_id);
	return "IF to_regclass(format('%I.%I', " + schema_lit +
	       ", n)) IS NULL THEN EXECUTE format('CREATE TABLE %I.%I (%s)', " + schema_lit + ", n, " +
	       conn.QuoteLiteral(ddl) + "); END IF; IF NOT EXISTS (SELECT 1 FROM " + qs +
	       ".ducklake_inlined_data_tables WHERE table_id = " + T + " AND table_name = n) THEN INSERT INTO " + qs +
	       ".ducklake_inlined_data_tables(table_id, table_name, schema_version) VALUES (" + T + ", n, v); END IF; ";
}

std::string NameOf(int64_t table_id) {
	return "n := 'ducklake_inlined_data_" + std::to_string(table_id) + "_' || v; ";
}

} // namespace

std::optional<std::string> InlinedDataWriter::ReferencePgType(const LakeColumn &column) {
	auto type = AsciiLower(column.type);
	if (type == "struct" || type == "list" || type == "map") {
		// The reference stores a nested value as DuckDB's text of it; only variants (and geometry)
		// inside keep it from inlining the table at all.
		std::function<bool(const LakeColumn &)> plain = [&](const LakeColumn &c) {
			auto t = AsciiLower(c.type);
			if (t == "variant" || t == "geometry") {
				return false;
			}
			for (const auto &child : c.children) {
				if (!plain(child)) {
					return false;
				}
			}
			return true;
		};
		return plain(column) ? std::optional<std::string>("VARCHAR") : std::nullopt;
	}
	return PgType(type);
}

std::string InlinedDataWriter::InsertSql(PgConnection &conn, const std::string &catalog_schema,
                                         const InlinedInsert &rows, int64_t table_id, int64_t schema_version,
                                         int64_t snapshot, int64_t row_id_start) {
	const auto qs = conn.QuoteIdent(catalog_schema);
	const auto T = std::to_string(table_id);
	const auto S = std::to_string(snapshot);
	std::string ddl = "row_id BIGINT, begin_snapshot BIGINT, end_snapshot BIGINT";
	std::string names = "row_id, begin_snapshot, end_snapshot";
	for (const auto &c : rows.columns) {
		ddl += ", " + conn.QuoteIdent(c.name) + " " + c.pg_type;
		names += ", " + conn.QuoteIdent(c.name);
	}
	std::string values;
	for (size_t r = 0; r < rows.rows.size(); r++) {
		values += (r ? ", (" : "(") + std::to_string(row_id_start + static_cast<int64_t>(r)) + ", " + S + ", NULL";
		for (size_t c = 0; c < rows.columns.size(); c++) {
			const auto &v = rows.rows[r][c];
			if (!v) {
				values += ", NULL";
			} else if (rows.columns[c].pg_type == kBytea) {
				values += ", decode(" + conn.QuoteLiteral(*v) + ", 'hex')";
			} else {
				values += ", " + conn.QuoteLiteral(*v) + "::" + rows.columns[c].pg_type;
			}
		}
		values += ")";
	}
	// The table is the one of the table's own latest schema version (the last snapshot that changed
	// its columns, which has a ducklake_schema_versions row; this commit's own row is inserted
	// before this runs). The reference reads an inlined table with the columns the table had at
	// the begin_snapshot of the (table, version) row, falling back to the table's creation when
	// there is none, so a version without a row for the table (another table's change) would be
	// read with the wrong columns. A table without any row (written by an older writer) gets one.
	std::string body = "DECLARE v bigint; n text; BEGIN SELECT max(schema_version) INTO v FROM " + qs +
	                   ".ducklake_schema_versions WHERE table_id = " + T +
	                   "; IF v IS NULL THEN v := " + std::to_string(schema_version) + "; INSERT INTO " + qs +
	                   ".ducklake_schema_versions(begin_snapshot, schema_version, table_id) VALUES (" + S + ", v, " +
	                   T + "); END IF; " + NameOf(table_id) +
	                   CreateAndRegisterPlpgsql(conn, catalog_schema, table_id, ddl);
	if (!values.empty()) {
		body += "EXECUTE format('INSERT INTO %I.%I (%s) VALUES %s', " + conn.QuoteLiteral(catalog_schema) + ", n, " +
		        conn.QuoteLiteral(names) + ", " + conn.QuoteLiteral(values) + "); ";
	}
	body += "END";
	return "DO " + conn.QuoteLiteral(body) + ";\n";
}

std::string InlinedDataWriter::NewVersionSql(PgConnection &conn, const std::string &catalog_schema,
                                             const std::vector<LakeColumn> &columns, int64_t table_id,
                                             int64_t schema_version) {
	std::string ddl = "row_id BIGINT, begin_snapshot BIGINT, end_snapshot BIGINT";
	for (const auto &c : columns) {
		auto name = AsciiLower(c.name);
		auto type = ReferencePgType(c);
		if (!type || name == "row_id" || name == "begin_snapshot" || name == "end_snapshot") {
			return {}; // the reference does not inline such a table
		}
		ddl += ", " + conn.QuoteIdent(c.name) + " " + *type;
	}
	if (columns.empty()) {
		return {};
	}
	const auto qs = conn.QuoteIdent(catalog_schema);
	std::string body = "DECLARE v bigint := " + std::to_string(schema_version) +
	                   "; n text; BEGIN IF EXISTS (SELECT 1 FROM " + qs +
	                   ".ducklake_inlined_data_tables WHERE table_id = " + std::to_string(table_id) + ") THEN " +
	                   NameOf(table_id) + CreateAndRegisterPlpgsql(conn, catalog_schema, table_id, ddl) + "END IF; END";
	return "DO " + conn.QuoteLiteral(body) + ";\n";
}

std::string InlinedDataWriter::DeleteSql(PgConnection &conn, const std::string &catalog_schema,
                                         const std::map<std::string, StagedInlinedDelete> &deletes, int64_t snapshot) {
	std::string sql;
	for (const auto &[name, d] : deletes) {
		if (d.row_ids.empty()) {
			continue;
		}
		std::string ids;
		for (auto id : d.row_ids) {
			ids += (ids.empty() ? "" : ",") + std::to_string(id);
		}
		auto qt = conn.QuoteIdent(catalog_schema) + "." + conn.QuoteIdent(name);
		auto message = "inlined rows of lake table " + std::to_string(d.table_id) + " in " + name +
		               " were ended by a concurrent lake commit";
		std::string body = "DECLARE n bigint; BEGIN UPDATE " + qt + " SET end_snapshot = " + std::to_string(snapshot) +
		                   " WHERE row_id IN (" + ids +
		                   ") AND end_snapshot IS NULL; GET DIAGNOSTICS n = ROW_COUNT; IF n <> " +
		                   std::to_string(d.row_ids.size()) + " THEN RAISE EXCEPTION USING MESSAGE = " + "" +
		                   conn.QuoteLiteral(message) + "; END IF; END";
		sql += "DO " + conn.QuoteLiteral(body) + ";\n";
	}
	return sql;
}

std::string InlinedDataWriter::TruncateSql(PgConnection &conn, const std::string &catalog_schema,
                                           const std::set<int64_t> &table_ids, int64_t snapshot) {
	std::string sql;
	const auto qs = conn.QuoteIdent(catalog_schema);
	for (auto id : table_ids) {
		std::string body = "DECLARE r record; BEGIN FOR r IN SELECT DISTINCT table_name FROM " + qs +
		                   ".ducklake_inlined_data_tables WHERE table_id = " + std::to_string(id) +
		                   " AND to_regclass(quote_ident(" + conn.QuoteLiteral(catalog_schema) +
		                   ") || '.' || quote_ident(table_name)) IS NOT NULL LOOP EXECUTE format('UPDATE %I.%I SET "
		                   "end_snapshot = " +
		                   std::to_string(snapshot) + " WHERE end_snapshot IS NULL', " +
		                   conn.QuoteLiteral(catalog_schema) + ", r.table_name); END LOOP; END";
		sql += "DO " + conn.QuoteLiteral(body) + ";\n";
	}
	return sql;
}

InlinedDataWriter::Tables InlinedDataWriter::Find(PgConnection &conn, const std::string &catalog_schema,
                                                  int64_t table_id) {
	const auto qs = conn.QuoteIdent(catalog_schema);
	auto r =
	    conn.Exec("SELECT r.table_name FROM " + qs +
	                  ".ducklake_inlined_data_tables r WHERE r.table_id = $1 AND to_regclass(quote_ident($2) || "
	                  "'.' || quote_ident(r.table_name)) IS NOT NULL UNION ALL SELECT NULL WHERE "
	                  "to_regclass(quote_ident($2) || '.' || quote_ident($3)) IS NOT NULL",
	              {std::to_string(table_id), catalog_schema, "ducklake_inlined_delete_" + std::to_string(table_id)});
	Tables out;
	for (int i = 0; i < r.Rows(); i++) {
		if (r.IsNull(i, 0)) {
			out.deletes = true;
		} else {
			out.data.emplace_back(r.Get(i, 0));
		}
	}
	return out;
}

std::map<int64_t, int64_t> InlinedDataWriter::LiveRowCounts(PgConnection &conn, const std::string &catalog_schema,
                                                            const std::vector<int64_t> &table_ids) {
	std::map<int64_t, int64_t> out;
	if (table_ids.empty()) {
		return out;
	}
	std::string ids = "{";
	for (size_t i = 0; i < table_ids.size(); i++) {
		ids += (i ? "," : "") + std::to_string(table_ids[i]);
	}
	ids += "}";
	const auto qs = conn.QuoteIdent(catalog_schema);
	auto r = conn.Exec("SELECT DISTINCT r.table_id, r.table_name FROM " + qs +
	                       ".ducklake_inlined_data_tables r WHERE r.table_id = ANY($1::bigint[]) AND "
	                       "to_regclass(quote_ident($2) || '.' || quote_ident(r.table_name)) IS NOT NULL",
	                   {ids, catalog_schema});
	std::string counts;
	for (int i = 0; i < r.Rows(); i++) {
		counts += std::string(counts.empty() ? "" : " UNION ALL ") + "SELECT " + std::to_string(r.GetInt(i, 0)) +
		          "::bigint, count(*) FROM " + qs + "." + conn.QuoteIdent(std::string(r.Get(i, 1))) +
		          " WHERE end_snapshot IS NULL";
	}
	if (counts.empty()) {
		return out;
	}
	auto c = conn.Exec(counts);
	for (int i = 0; i < c.Rows(); i++) {
		out[c.GetInt(i, 0)] += c.GetInt(i, 1);
	}
	return out;
}

} // namespace duckpipe::lake
