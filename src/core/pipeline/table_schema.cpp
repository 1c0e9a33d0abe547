#include "core/pipeline/table_schema.hpp"

#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/pg/pg_connection.hpp"

namespace duckpipe::pipeline {

TableSchema TableSchema::Describe(PgConnection &conn, uint32_t source_oid, meta::SyncMode mode) {
	TableSchema s;
	s.source = lake::DescribeTable(conn, std::to_string(source_oid));
	auto kind = conn.Exec("SELECT relkind FROM pg_class WHERE oid = $1", {std::to_string(source_oid)});
	s.relkind = kind.Rows() ? kind.Get(0, 0)[0] : 'r';
	for (const auto &col : s.source.columns) {
		auto mapping = lake::MapPgType(col.type);
		s.lake_columns.push_back(lake::ToLakeColumn(col.name, mapping, col.not_null));
		flush::BufferColumn bc;
		bc.name = col.name;
		bc.duck_type = mapping.duck_type;
		bc.from_text = lake::TextToDuckExpression(mapping, "{}");
		bc.key = col.key_position > 0;
		s.buffer_columns.push_back(bc);
		s.column_names.push_back(col.name);
		s.key.push_back(bc.key);
		s.mappings.push_back(std::move(mapping));
	}
	s.key_columns = s.source.KeyColumns();
	s.mode = mode;
	std::string name = s.source.schema + "." + s.source.name;
	if (s.key_columns.empty() && s.source.replica_identity != 'f') {
		// Published without a replica identity, the table would refuse UPDATE and DELETE on the source.
		throw Error(
		    ErrorKind::Unsupported,
		    "table " + name + " has no primary key or replica identity index, and REPLICA IDENTITY is not FULL",
		    {.table = name,
		     .hint = "add a primary key (or REPLICA IDENTITY USING INDEX on a unique index); or run ALTER TABLE " +
		             name + " REPLICA IDENTITY FULL and sync it in append mode (duckpipe add-table --append)"});
	}
	if (mode == meta::SyncMode::Upsert && s.key_columns.empty()) {
		throw Error(ErrorKind::Unsupported, "table " + name + " has no primary key or replica identity index",
		            {.table = name,
		             .hint = "add a primary key, set REPLICA IDENTITY USING INDEX on a unique index, or sync it in "
		                     "append mode (duckpipe add-table --append)"});
	}
	if (mode == meta::SyncMode::Append) {
		for (auto [col, type] : {std::pair{kOpColumn, "varchar"}, std::pair{kLsnColumn, "int64"},
		                         std::pair{kCommitTimeColumn, "timestamptz"}}) {
			for (const auto &c : s.column_names) {
				if (c == col) {
					throw Error(ErrorKind::Unsupported, "table " + name + " has a column named " + col,
					            {.table = name, .hint = "append mode adds that column; rename the source column"});
				}
			}
			lake::LakeColumn extra;
			extra.name = col;
			extra.type = type;
			extra.default_value = "NULL";
			s.lake_columns.push_back(extra);
		}
	}
	if (s.source.columns.empty()) {
		throw Error(ErrorKind::Unsupported, "table " + s.source.schema + "." + s.source.name + " has no columns",
		            {.table = s.source.schema + "." + s.source.name, .hint = "a lake table needs at least one column"});
	}
	return s;
}

std::string TableSchema::ConvertSelect(const std::string &relation, Lsn copy_lsn) const {
	std::string sql = "SELECT ";
	for (size_t i = 0; i < buffer_columns.size(); i++) {
		const auto &bc = buffer_columns[i];
		std::string input = DuckConnection::QuoteIdent(bc.name);
		std::string expr = bc.from_text;
		for (auto pos = expr.find("{}"); pos != std::string::npos; pos = expr.find("{}", pos + input.size())) {
			expr.replace(pos, 2, input);
		}
		sql += (i ? ", " : "") + expr + " AS " + DuckConnection::QuoteIdent(bc.name);
	}
	if (mode == meta::SyncMode::Append) {
		sql += std::string(", 'I' AS ") + kOpColumn + ", CAST(" + std::to_string(copy_lsn.value) + " AS BIGINT) AS " +
		       kLsnColumn;
	}
	return sql + " FROM " + relation;
}

} // namespace duckpipe::pipeline
