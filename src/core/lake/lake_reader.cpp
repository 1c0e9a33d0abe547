#include "core/lake/lake_reader.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/lake/inlined_data_reader.hpp"
#include "core/lake/lake_type.hpp"

#include <algorithm>
#include <set>

namespace duckpipe::lake {

namespace {

// Field id of the per-row snapshot column of merged data files and partial delete files.
constexpr int64_t kSnapshotIdFieldId = 2147483539;

std::string Q(std::string_view ident) {
	return DuckConnection::QuoteIdent(ident);
}

std::string L(std::string_view literal) {
	return DuckConnection::QuoteLiteral(literal);
}

std::string TableName(const LakeTable &table) {
	return table.schema_name + "." + table.name;
}

// `for_read` gives the type handed to read_parquet's schema=: DuckDB 1.4 parses those type strings
// without extensions, so JSON is read as VARCHAR and cast afterwards.
std::string ComposeType(const LakeColumn &column, const LakeTable *table, bool for_read) {
	auto child = [&](size_t i) -> const LakeColumn & {
		if (column.children.size() <= i) {
			throw Error(ErrorKind::Lake, "nested column " + column.name + " has no child rows in the catalog",
			            {.table = table ? TableName(*table) : std::string(),
			             .hint = "the catalog is malformed: list needs 'element', map needs 'key' and 'value'"});
		}
		return column.children[i];
	};
	if (column.type == "list") {
		return ComposeType(child(0), table, for_read) + "[]";
	}
	if (column.type == "map") {
		return "MAP(" + ComposeType(child(0), table, for_read) + ", " + ComposeType(child(1), table, for_read) + ")";
	}
	if (column.type == "struct") {
		child(0);
		std::string out = "STRUCT(";
		for (size_t i = 0; i < column.children.size(); i++) {
			out +=
			    (i ? ", " : "") + Q(column.children[i].name) + " " + ComposeType(column.children[i], table, for_read);
		}
		return out + ")";
	}
	if (for_read && column.type == "json") {
		return "VARCHAR";
	}
	try {
		return DuckTypeForPrimitive(column.type);
	} catch (const Error &e) {
		throw Error(ErrorKind::Unsupported,
		            "column " + column.name + (table ? " of " + TableName(*table) : std::string()) + " has the type '" +
		                column.type + "', which pg_duckpipe cannot read",
		            {.table = table ? TableName(*table) : std::string(), .hint = e.Context().hint});
	}
}

std::string Internal(const LakeColumn &column) {
	return "c" + std::to_string(column.column_id);
}

std::string FileList(const std::vector<std::string> &paths) {
	std::string out = "[";
	for (size_t i = 0; i < paths.size(); i++) {
		out += (i ? ", " : "") + L(paths[i]);
	}
	return out + "]";
}

// Typed, empty relation for a table without live files.
std::string EmptyQuery(const LakeTable &table) {
	std::string out = "SELECT ";
	for (size_t i = 0; i < table.columns.size(); i++) {
		const auto &c = table.columns[i];
		out += (i ? ", " : "") + std::string("CAST(NULL AS ") + ComposeType(c, &table, false) + ") AS " + Q(c.name);
	}
	return out + " WHERE false";
}

// Positions to hide: (data file path, pos) from each file's visible delete file. Partial delete files
// (per-position snapshot ids) newer than the snapshot only count the positions deleted by then.
std::string DeleteQuery(const LakeTable &table, int64_t snapshot_id) {
	std::vector<std::string> parts;
	for (bool partial : {false, true}) {
		std::vector<std::string> paths;
		std::string mapping;
		for (const auto &f : table.files) {
			if (!f.delete_file_id) {
				continue;
			}
			bool needs_filter = f.delete_partial_max && *f.delete_partial_max > snapshot_id;
			if (needs_filter != partial) {
				continue;
			}
			paths.push_back(f.delete_full_path);
			mapping +=
			    std::string(mapping.empty() ? "" : ", ") + "(" + L(f.delete_full_path) + ", " + L(f.full_path) + ")";
		}
		if (paths.empty()) {
			continue;
		}
		// The file_path column inside a delete file names wherever the writer saw the data file; the
		// catalog's data_file_id is the truth, hence the mapping by delete file name.
		std::string part = "SELECT __m.data_file, __x.pos FROM read_parquet(" + FileList(paths) +
		                   ", filename=true, union_by_name=true) AS __x JOIN (VALUES " + mapping +
		                   ") AS __m(delete_file, data_file) ON __x.filename = __m.delete_file";
		if (partial) {
			part += " WHERE __x._ducklake_internal_snapshot_id <= " + std::to_string(snapshot_id);
		}
		parts.push_back(part);
	}
	auto inlined = InlinedDataReader::DeletedPositionsQuery(table);
	if (!inlined.empty()) {
		parts.push_back(inlined);
	}
	std::string out;
	for (size_t i = 0; i < parts.size(); i++) {
		out += (i ? " UNION ALL " : "") + parts[i];
	}
	return out;
}

} // namespace

std::string LakeReader::DuckType(const LakeColumn &column) {
	return ComposeType(column, nullptr, false);
}

std::string LakeReader::TableQuery(const CatalogState &state, const LakeTable &table) {
	// Rows inlined into the catalog come after the files' (a snapshot's rows have no order).
	auto inlined = InlinedDataReader::RowsQuery(table);
	if (table.files.empty()) {
		return inlined.empty() ? EmptyQuery(table) : inlined;
	}
	const int64_t snapshot_id = state.snapshot.snapshot_id;
	for (const auto &f : table.files) {
		if (f.mapping_id) {
			throw Error(ErrorKind::Unsupported,
			            "data file " + f.full_path + " of " + TableName(table) +
			                " has no Parquet field ids (it uses a name mapping), which pg_duckpipe cannot read",
			            {.table = TableName(table),
			             .hint = "rewrite the table's files with DuckDB (CALL ducklake_rewrite_data_files)"});
		}
	}
	// Columns are matched by Parquet field id = column_id; nested children are matched by name
	// inside their parent, because read_parquet's schema= only takes top-level field ids.
	std::string schema = "MAP{";
	std::string select;
	for (size_t i = 0; i < table.columns.size(); i++) {
		const auto &c = table.columns[i];
		std::string read_type = ComposeType(c, &table, true);
		std::string type = ComposeType(c, &table, false);
		std::string def = "NULL";
		if (c.initial_default && c.children.empty()) {
			def = L(*c.initial_default);
		}
		schema += (i ? ", " : "") + std::to_string(c.column_id) + ": {name: " + L(Internal(c)) +
		          ", type: " + L(read_type) + ", default_value: " + def + "}";
		std::string expr = "__d." + Internal(c);
		if (read_type != type) {
			expr = "CAST(" + expr + " AS " + type + ")";
		}
		select += (i ? ", " : "") + expr + " AS " + Q(c.name);
	}
	bool partial_files = false;
	std::vector<std::string> paths;
	int64_t live_rows = 0;
	for (const auto &f : table.files) {
		paths.push_back(f.full_path);
		partial_files = partial_files || (f.partial_max && *f.partial_max > snapshot_id);
		live_rows += std::max<int64_t>(f.record_count - f.delete_count, 0);
	}
	if (partial_files) {
		schema += ", " + std::to_string(kSnapshotIdFieldId) +
		          ": {name: '__snapshot_id', type: 'BIGINT', "
		          "default_value: NULL}";
	}
	schema += "}";
	// The catalog's row count: with schema= DuckDB opens no file at bind time and would estimate one
	// row per file, and its join order optimizer then builds hash tables on the big table.
	std::string cardinality = live_rows > 0 ? ", explicit_cardinality=" + std::to_string(live_rows) : "";
	std::string sql = "SELECT " + select + " FROM read_parquet(" + FileList(paths) + ", schema=" + schema +
	                  cardinality + ", filename=true, file_row_number=true) AS __d";
	auto deletes = DeleteQuery(table, snapshot_id);
	if (!deletes.empty()) {
		sql += " ANTI JOIN (" + deletes +
		       ") AS __del ON __d.filename = __del.data_file AND __d.file_row_number = __del.pos";
	}
	if (partial_files) {
		sql += " WHERE __d.__snapshot_id IS NULL OR __d.__snapshot_id <= " + std::to_string(snapshot_id);
	}
	if (!inlined.empty()) {
		sql += " UNION ALL " + inlined;
	}
	return sql;
}

std::vector<std::string> LakeReader::Files(const CatalogState &state) {
	std::set<std::string> files;
	for (const auto &t : state.tables) {
		for (const auto &f : t.files) {
			files.insert(f.full_path);
			if (f.delete_file_id) {
				files.insert(f.delete_full_path);
			}
		}
	}
	return {files.begin(), files.end()};
}

void LakeReader::Attach(DuckConnection &duck, const CatalogState &state) {
	duck.Execute("SET TimeZone = 'UTC'");
	std::set<std::string> schemas;
	for (const auto &s : state.schemas) {
		schemas.insert(s.name);
	}
	for (const auto &t : state.tables) {
		schemas.insert(t.schema_name);
	}
	for (const auto &s : schemas) {
		duck.Execute("CREATE SCHEMA IF NOT EXISTS " + Q(s));
	}
	for (const auto &t : state.tables) {
		duck.Execute("CREATE OR REPLACE VIEW " + Q(t.schema_name) + "." + Q(t.name) + " AS " + TableQuery(state, t));
	}
	log::Debug("lake.attached", "snapshot", state.snapshot.snapshot_id, "tables", state.tables.size());
}

} // namespace duckpipe::lake
