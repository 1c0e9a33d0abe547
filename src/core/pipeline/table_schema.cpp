#include "core/pipeline/table_schema.hpp"

#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/lake/lake_type.hpp"
#include "core/pg/pg_connection.hpp"

#include <algorithm>

namespace duckpipe::pipeline {

TableSchema TableSchema::Describe(PgConnection &conn, uint32_t source_oid, meta::SyncMode mode) {
	return FromDescription(DescribeTable(conn, std::to_string(source_oid)), mode);
}

TableSchema TableSchema::FromDescription(PgTableDescription source, meta::SyncMode mode) {
	TableSchema s;
	s.mode = mode;
	s.source = std::move(source);
	s.relkind = s.source.relkind;
	for (const auto &col : s.source.columns) {
		if (col.generated) {
			continue; // not replicated (SourceLayout::Current leaves it out too)
		}
		SourceColumn sc{.name = col.name,
		                .attnum = col.attnum,
		                .type_oid = col.declared_oid,
		                .typmod = col.declared_typmod,
		                .key = col.key_position > 0};
		s.AddColumn(sc, lake::MapPgType(col.type), col.not_null);
	}
	std::vector<std::string> ordered_keys;
	for (const auto &k : s.source.KeyColumns()) {
		if (std::find(s.column_names.begin(), s.column_names.end(), k) != s.column_names.end()) {
			ordered_keys.push_back(k);
		}
	}
	std::string name = s.source.schema + "." + s.source.name;
	if (ordered_keys.empty() && s.source.replica_identity != 'f') {
		// Published without a replica identity, the table would refuse UPDATE and DELETE on the source.
		throw Error(
		    ErrorKind::Unsupported,
		    "table " + name + " has no primary key or replica identity index, and REPLICA IDENTITY is not FULL",
		    {.table = name,
		     .hint = "add a primary key (or REPLICA IDENTITY USING INDEX on a unique index); or run ALTER TABLE " +
		             name +
		             " REPLICA IDENTITY FULL (rows are then matched by their full value, or add it with "
		             "--append for a changelog)"});
	}
	// Upsert without a key (so with REPLICA IDENTITY FULL): rows are matched by value (RowMatchApply).
	if (mode == meta::SyncMode::Append) {
		for (const auto *col : {kOpColumn, kLsnColumn, kCommitTimeColumn}) {
			if (std::find(s.column_names.begin(), s.column_names.end(), col) != s.column_names.end()) {
				throw Error(ErrorKind::Unsupported, "table " + name + " has a column named " + col,
				            {.table = name, .hint = "append mode adds that column; rename the source column"});
			}
		}
	}
	if (s.column_names.empty()) {
		throw Error(ErrorKind::Unsupported, "table " + name + " has no columns",
		            {.table = name, .hint = "a lake table needs at least one column"});
	}
	s.Finish(); // key_columns in column order, as the change buffer lists them
	return s;
}

lake::LakeTypeMapping TableSchema::MappingOf(const lake::LakeColumn &column) {
	lake::LakeTypeMapping m;
	m.lake_type = column.type;
	if (column.type == "list" && column.children.size() == 1) {
		m.children.push_back(MappingOf(column.children[0]));
		m.duck_type = m.children[0].duck_type + "[]";
	} else {
		m.duck_type = lake::DuckTypeForPrimitive(column.type);
	}
	return m;
}

TableSchema TableSchema::FromLake(const TableSchema &described, const lake::LakeTable &table,
                                  const SourceLayout &layout) {
	TableSchema s;
	s.mode = described.mode;
	s.source = described.source;
	s.relkind = described.relkind;
	for (const auto &sc : layout.columns) {
		auto it = std::find_if(table.columns.begin(), table.columns.end(),
		                       [&](const lake::LakeColumn &c) { return c.name == sc.name; });
		if (it == table.columns.end()) {
			throw Error(ErrorKind::Lake,
			            "lake table " + table.schema_name + "." + table.name + " has no column \"" + sc.name +
			                "\" although its recorded source layout does",
			            {.table = described.source.schema + "." + described.source.name,
			             .hint = "the lake table was altered outside duckpipe; run `duckpipe resync-table " +
			                     described.source.schema + "." + described.source.name + "`"});
		}
		s.AddColumn(sc, MappingOf(*it), !it->nulls_allowed);
	}
	s.Finish();
	return s;
}

// The types whose canonical PostgreSQL text the change buffer converts in C++ (the same value as
// TextToDuckExpression's SQL).
static flush::TextForm TextFormOf(const lake::LakeTypeMapping &m) {
	using F = flush::TextForm;
	static const std::pair<const char *, F> kForms[] = {
	    {"int16", F::Int16},  {"int32", F::Int32}, {"int64", F::Int64},         {"boolean", F::Boolean},
	    {"varchar", F::Text}, {"date", F::Date},   {"timestamp", F::Timestamp}, {"timestamptz", F::TimestampTz}};
	for (const auto &[name, form] : kForms) {
		if (m.lake_type == name) {
			return form;
		}
	}
	return F::Sql;
}

void TableSchema::AddColumn(const SourceColumn &column, lake::LakeTypeMapping mapping, bool not_null) {
	// Changelog columns stay last in lake_columns: Finish() re-adds them.
	if (mode == meta::SyncMode::Append) {
		std::erase_if(lake_columns, [](const lake::LakeColumn &c) {
			return c.name == kOpColumn || c.name == kLsnColumn || c.name == kCommitTimeColumn;
		});
	}
	lake_columns.push_back(lake::ToLakeColumn(column.name, mapping, not_null));
	flush::BufferColumn bc;
	bc.name = column.name;
	bc.duck_type = mapping.duck_type;
	bc.from_text = lake::TextToDuckExpression(mapping, "{}", column.name);
	bc.key = column.key;
	bc.form = TextFormOf(mapping);
	buffer_columns.push_back(bc);
	column_names.push_back(column.name);
	key.push_back(column.key);
	mappings.push_back(std::move(mapping));
	layout.columns.push_back(column);
}

void TableSchema::Finish() {
	key_columns.clear();
	for (const auto &c : layout.columns) {
		if (c.key) {
			key_columns.push_back(c.name);
		}
	}
	if (mode != meta::SyncMode::Append) {
		return;
	}
	std::erase_if(lake_columns, [](const lake::LakeColumn &c) {
		return c.name == kOpColumn || c.name == kLsnColumn || c.name == kCommitTimeColumn;
	});
	for (auto [col, type] : {std::pair{kOpColumn, "varchar"}, std::pair{kLsnColumn, "int64"},
	                         std::pair{kCommitTimeColumn, "timestamptz"}}) {
		lake::LakeColumn extra;
		extra.name = col;
		extra.type = type;
		extra.default_value = "NULL";
		lake_columns.push_back(extra);
	}
}

std::string TableSchema::ColumnExpression(size_t column) const {
	const auto &bc = buffer_columns[column];
	std::string input = DuckConnection::QuoteIdent(bc.name);
	std::string expr = bc.from_text.empty() ? "{}" : bc.from_text;
	for (auto pos = expr.find("{}"); pos != std::string::npos; pos = expr.find("{}", pos + input.size())) {
		expr.replace(pos, 2, input);
	}
	return expr;
}

std::string TableSchema::ConvertSelect(const std::string &relation, Lsn copy_lsn, char op) const {
	std::string sql = "SELECT ";
	for (size_t i = 0; i < buffer_columns.size(); i++) {
		sql += (i ? ", " : "") + ColumnExpression(i) + " AS " + DuckConnection::QuoteIdent(buffer_columns[i].name);
	}
	if (mode == meta::SyncMode::Append) {
		sql += std::string(", '") + op + "' AS " + kOpColumn + ", CAST(" + std::to_string(copy_lsn.value) +
		       " AS BIGINT) AS " + kLsnColumn;
	}
	return sql + " FROM " + relation;
}

} // namespace duckpipe::pipeline
