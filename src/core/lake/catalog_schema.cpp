#include "core/lake/catalog_schema.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/pg/pg_connection.hpp"

namespace duckpipe::lake {

namespace {

struct TableDdl {
	std::string_view name;
	std::string_view columns; // the parenthesised column list, verbatim from the reference
};

// Digest §1: exactly what the reference creates (types, order, the 5 PKs and 2 NOT NULLs, nothing else).
const std::vector<TableDdl> &Ddl() {
	static const std::vector<TableDdl> ddl = {
	    {"ducklake_metadata", "key VARCHAR NOT NULL, value VARCHAR NOT NULL, scope VARCHAR, scope_id BIGINT"},
	    {"ducklake_snapshot", "snapshot_id BIGINT PRIMARY KEY, snapshot_time TIMESTAMPTZ, schema_version BIGINT, "
	                          "next_catalog_id BIGINT, next_file_id BIGINT"},
	    {"ducklake_snapshot_changes", "snapshot_id BIGINT PRIMARY KEY, changes_made VARCHAR, author VARCHAR, "
	                                  "commit_message VARCHAR, commit_extra_info VARCHAR"},
	    {"ducklake_schema", "schema_id BIGINT PRIMARY KEY, schema_uuid UUID, begin_snapshot BIGINT, end_snapshot "
	                        "BIGINT, schema_name VARCHAR, path VARCHAR, path_is_relative BOOLEAN"},
	    {"ducklake_table", "table_id BIGINT, table_uuid UUID, begin_snapshot BIGINT, end_snapshot BIGINT, schema_id "
	                       "BIGINT, table_name VARCHAR, path VARCHAR, path_is_relative BOOLEAN"},
	    {"ducklake_view", "view_id BIGINT, view_uuid UUID, begin_snapshot BIGINT, end_snapshot BIGINT, schema_id "
	                      "BIGINT, view_name VARCHAR, dialect VARCHAR, sql VARCHAR, column_aliases VARCHAR"},
	    {"ducklake_tag", "object_id BIGINT, begin_snapshot BIGINT, end_snapshot BIGINT, key VARCHAR, value VARCHAR"},
	    {"ducklake_column_tag", "table_id BIGINT, column_id BIGINT, begin_snapshot BIGINT, end_snapshot BIGINT, key "
	                            "VARCHAR, value VARCHAR"},
	    {"ducklake_data_file",
	     "data_file_id BIGINT PRIMARY KEY, table_id BIGINT, begin_snapshot BIGINT, end_snapshot BIGINT, file_order "
	     "BIGINT, path VARCHAR, path_is_relative BOOLEAN, file_format VARCHAR, record_count BIGINT, file_size_bytes "
	     "BIGINT, footer_size BIGINT, row_id_start BIGINT, partition_id BIGINT, encryption_key VARCHAR, mapping_id "
	     "BIGINT, partial_max BIGINT"},
	    {"ducklake_file_column_stats",
	     "data_file_id BIGINT, table_id BIGINT, column_id BIGINT, column_size_bytes BIGINT, value_count BIGINT, "
	     "null_count BIGINT, min_value VARCHAR, max_value VARCHAR, contains_nan BOOLEAN, extra_stats VARCHAR"},
	    {"ducklake_file_variant_stats",
	     "data_file_id BIGINT, table_id BIGINT, column_id BIGINT, variant_path VARCHAR, shredded_type VARCHAR, "
	     "column_size_bytes BIGINT, value_count BIGINT, null_count BIGINT, min_value VARCHAR, max_value VARCHAR, "
	     "contains_nan BOOLEAN, extra_stats VARCHAR"},
	    {"ducklake_delete_file",
	     "delete_file_id BIGINT PRIMARY KEY, table_id BIGINT, begin_snapshot BIGINT, end_snapshot BIGINT, "
	     "data_file_id BIGINT, path VARCHAR, path_is_relative BOOLEAN, format VARCHAR, delete_count BIGINT, "
	     "file_size_bytes BIGINT, footer_size BIGINT, encryption_key VARCHAR, partial_max BIGINT"},
	    {"ducklake_column",
	     "column_id BIGINT, begin_snapshot BIGINT, end_snapshot BIGINT, table_id BIGINT, column_order BIGINT, "
	     "column_name VARCHAR, column_type VARCHAR, initial_default VARCHAR, default_value VARCHAR, nulls_allowed "
	     "BOOLEAN, parent_column BIGINT, default_value_type VARCHAR, default_value_dialect VARCHAR"},
	    {"ducklake_table_stats", "table_id BIGINT, record_count BIGINT, next_row_id BIGINT, file_size_bytes BIGINT"},
	    {"ducklake_table_column_stats", "table_id BIGINT, column_id BIGINT, contains_null BOOLEAN, contains_nan "
	                                    "BOOLEAN, min_value VARCHAR, max_value VARCHAR, extra_stats VARCHAR"},
	    {"ducklake_partition_info", "partition_id BIGINT, table_id BIGINT, begin_snapshot BIGINT, end_snapshot BIGINT"},
	    {"ducklake_partition_column",
	     "partition_id BIGINT, table_id BIGINT, partition_key_index BIGINT, column_id BIGINT, transform VARCHAR"},
	    {"ducklake_file_partition_value",
	     "data_file_id BIGINT, table_id BIGINT, partition_key_index BIGINT, partition_value VARCHAR"},
	    {"ducklake_files_scheduled_for_deletion",
	     "data_file_id BIGINT, path VARCHAR, path_is_relative BOOLEAN, schedule_start TIMESTAMPTZ"},
	    {"ducklake_inlined_data_tables", "table_id BIGINT, table_name VARCHAR, schema_version BIGINT"},
	    {"ducklake_column_mapping", "mapping_id BIGINT, table_id BIGINT, type VARCHAR"},
	    {"ducklake_name_mapping", "mapping_id BIGINT, column_id BIGINT, source_name VARCHAR, target_field_id BIGINT, "
	                              "parent_column BIGINT, is_partition BOOLEAN"},
	    {"ducklake_schema_versions", "begin_snapshot BIGINT, schema_version BIGINT, table_id BIGINT"},
	    {"ducklake_macro",
	     "schema_id BIGINT, macro_id BIGINT, macro_name VARCHAR, begin_snapshot BIGINT, end_snapshot BIGINT"},
	    {"ducklake_macro_impl", "macro_id BIGINT, impl_id BIGINT, dialect VARCHAR, sql VARCHAR, type VARCHAR"},
	    {"ducklake_macro_parameters", "macro_id BIGINT, impl_id BIGINT, column_id BIGINT, parameter_name VARCHAR, "
	                                  "parameter_type VARCHAR, default_value VARCHAR, default_value_type VARCHAR"},
	    {"ducklake_sort_info", "sort_id BIGINT, table_id BIGINT, begin_snapshot BIGINT, end_snapshot BIGINT"},
	    {"ducklake_sort_expression", "sort_id BIGINT, table_id BIGINT, sort_key_index BIGINT, expression VARCHAR, "
	                                 "dialect VARCHAR, sort_direction VARCHAR, null_order VARCHAR"},
	};
	return ddl;
}

std::string Qualified(PgConnection &conn, std::string_view schema, std::string_view table) {
	return conn.QuoteIdent(schema) + "." + std::string(table);
}

bool MetadataExists(PgConnection &conn, std::string_view schema) {
	auto r = conn.Exec("SELECT to_regclass($1) IS NOT NULL", {conn.QuoteIdent(schema) + ".ducklake_metadata"});
	return r.GetBool(0, 0);
}

LakeInfo ReadInfo(PgConnection &conn, std::string_view schema) {
	auto r = conn.Exec("SELECT key, value FROM " + Qualified(conn, schema, "ducklake_metadata") +
	                   " WHERE scope IS NULL AND key IN ('version', 'data_path', 'created_by')");
	LakeInfo info;
	for (int i = 0; i < r.Rows(); i++) {
		auto key = r.Get(i, 0);
		if (key == "version") {
			info.version = r.Get(i, 1);
		} else if (key == "data_path") {
			info.data_path = r.Get(i, 1);
		} else {
			info.created_by = r.Get(i, 1);
		}
	}
	return info;
}

void CheckVersion(const LakeInfo &info, std::string_view schema) {
	if (info.version.empty()) {
		throw Error(ErrorKind::Lake,
		            "the DuckLake catalog in schema '" + std::string(schema) + "' has no 'version' metadata row",
		            {.hint = "the schema holds something that is not a DuckLake catalog; point the lake at an "
		                     "empty or DuckLake schema"});
	}
	if (info.version != CatalogSchema::kFormatVersion) {
		throw Error(ErrorKind::Lake,
		            "the DuckLake catalog in schema '" + std::string(schema) + "' is format version '" + info.version +
		                "', pg_duckpipe reads and writes only version '" + std::string(CatalogSchema::kFormatVersion) +
		                "'",
		            {.hint = "use a lake created by DuckDB 1.5 (DuckLake 1.0) or by pg_duckpipe, or a fresh "
		                     "catalog schema; do not migrate a 1.0 lake with AUTOMATIC_MIGRATION"});
	}
	if (info.data_path.empty() || info.data_path.back() != '/') {
		throw Error(ErrorKind::Lake, "the DuckLake catalog's data_path '" + info.data_path + "' does not end in '/'",
		            {.hint = "fix the 'data_path' row in ducklake_metadata"});
	}
}

} // namespace

const std::vector<std::string_view> &CatalogSchema::TableNames() {
	static const std::vector<std::string_view> names = [] {
		std::vector<std::string_view> out;
		for (const auto &t : Ddl()) {
			out.push_back(t.name);
		}
		return out;
	}();
	return names;
}

std::string CatalogSchema::CreateTablesSql(PgConnection &conn, std::string_view schema) {
	std::string sql;
	for (const auto &t : Ddl()) {
		sql += "CREATE TABLE IF NOT EXISTS " + Qualified(conn, schema, t.name) + "(" + std::string(t.columns) + ");\n";
	}
	return sql;
}

LakeInfo CatalogSchema::Check(PgConnection &conn, std::string_view schema) {
	if (!MetadataExists(conn, schema)) {
		throw Error(ErrorKind::Lake, "no DuckLake catalog in schema '" + std::string(schema) + "'",
		            {.hint = "create the lake first (OpenLake) or check the catalog schema setting"});
	}
	auto info = ReadInfo(conn, schema);
	CheckVersion(info, schema);
	return info;
}

void CatalogSchema::LockForCreation(PgConnection &conn, std::string_view schema) {
	conn.Exec("SELECT pg_advisory_xact_lock(hashtext($1))", {"duckpipe.lake_bootstrap." + std::string(schema)});
}

LakeInfo CatalogSchema::Ensure(PgConnection &conn, const LakeConfig &config) {
	const std::string &schema = config.catalog_schema;
	std::string data_path = config.NormalizedDataPath();
	LakeInfo info;
	if (MetadataExists(conn, schema)) {
		info = ReadInfo(conn, schema);
	}
	if (info.version.empty()) {
		// A path that cannot hold files must fail before the catalog records it.
		LakeConfig::PrepareDirectory(data_path);
		// Creators race: the advisory lock makes the second one find the first one's rows.
		PgTransaction txn(conn);
		conn.Exec("SET LOCAL client_min_messages = warning");
		LockForCreation(conn, schema);
		conn.Exec("CREATE SCHEMA IF NOT EXISTS " + conn.QuoteIdent(schema));
		conn.Exec(CreateTablesSql(conn, schema));
		auto existing = conn.Exec("SELECT count(*) FROM " + Qualified(conn, schema, "ducklake_metadata"));
		if (existing.GetInt(0, 0) == 0) {
			auto q = [&](std::string_view t) { return Qualified(conn, schema, t); };
			conn.Exec("INSERT INTO " + q("ducklake_metadata") +
			              "(key, value) VALUES ('version', $1), ('created_by', $2), ('data_path', $3), "
			              "('encrypted', 'false'), ('data_inlining_row_limit', '0')",
			          {std::string(kFormatVersion), config.created_by, data_path});
			conn.Exec("INSERT INTO " + q("ducklake_snapshot") +
			          "(snapshot_id, snapshot_time, schema_version, next_catalog_id, next_file_id) "
			          "VALUES (0, now(), 0, 1, 0)");
			conn.Exec("INSERT INTO " + q("ducklake_snapshot_changes") +
			          "(snapshot_id, changes_made, author, commit_message, commit_extra_info) "
			          "VALUES (0, 'created_schema:\"main\"', NULL, NULL, NULL)");
			conn.Exec("INSERT INTO " + q("ducklake_schema") +
			          "(schema_id, schema_uuid, begin_snapshot, end_snapshot, schema_name, path, path_is_relative) "
			          "VALUES (0, gen_random_uuid(), 0, NULL, 'main', 'main/', true)");
			info.created = true;
		}
		txn.Commit();
		auto created = info.created;
		info = ReadInfo(conn, schema);
		info.created = created;
		if (created) {
			log::Info("lake.created", "schema", schema, "data_path", data_path);
		}
	}
	CheckVersion(info, schema);
	if (info.data_path != data_path) {
		throw Error(ErrorKind::Config,
		            "the lake in catalog schema '" + schema + "' stores its files under '" + info.data_path +
		                "', not the configured '" + data_path + "'",
		            {.hint = "set the lake data path to '" + info.data_path + "' or use another catalog schema"});
	}
	return info;
}

LakeInfo OpenLake(const LakeConfig &config) {
	PgConnection conn(config.catalog_conninfo, {.application_name = "pg_duckpipe lake"});
	auto info = CatalogSchema::Ensure(conn, config);
	LakeConfig::PrepareDirectory(info.data_path);
	return info;
}

} // namespace duckpipe::lake
