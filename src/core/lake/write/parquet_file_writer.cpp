#include "core/lake/write/parquet_file_writer.hpp"

#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/lake/lake_type.hpp"

#include <duckdb.h>

#include <charconv>
#include <filesystem>

namespace duckpipe::lake {

namespace {

bool Valid(duckdb_vector v, idx_t row) {
	uint64_t *validity = duckdb_vector_get_validity(v);
	return !validity || duckdb_validity_row_is_valid(validity, row);
}

std::string String(duckdb_vector v, idx_t row) {
	auto *data = static_cast<duckdb_string_t *>(duckdb_vector_get_data(v));
	return std::string(duckdb_string_t_data(&data[row]), duckdb_string_t_length(data[row]));
}

int64_t Integer(duckdb_vector v, idx_t row) {
	duckdb_logical_type type = duckdb_vector_get_column_type(v);
	auto id = duckdb_get_type_id(type);
	duckdb_destroy_logical_type(&type);
	void *data = duckdb_vector_get_data(v);
	switch (id) {
	case DUCKDB_TYPE_BIGINT:
		return static_cast<int64_t *>(data)[row];
	case DUCKDB_TYPE_UBIGINT:
		return static_cast<int64_t>(static_cast<uint64_t *>(data)[row]);
	case DUCKDB_TYPE_INTEGER:
		return static_cast<int32_t *>(data)[row];
	case DUCKDB_TYPE_UINTEGER:
		return static_cast<uint32_t *>(data)[row];
	case DUCKDB_TYPE_VARCHAR: {
		auto s = String(v, row);
		int64_t out = 0;
		std::from_chars(s.data(), s.data() + s.size(), out);
		return out;
	}
	default:
		throw Error(ErrorKind::Internal, "unexpected DuckDB type " + std::to_string(id) + " in COPY RETURN_STATS");
	}
}

// MAP(VARCHAR, VARCHAR) entry at `row` into a std::map.
std::map<std::string, std::string> StringMap(duckdb_vector map, idx_t row) {
	std::map<std::string, std::string> out;
	if (!Valid(map, row)) {
		return out;
	}
	auto *entries = static_cast<duckdb_list_entry *>(duckdb_vector_get_data(map));
	duckdb_vector kv = duckdb_list_vector_get_child(map);
	duckdb_vector keys = duckdb_struct_vector_get_child(kv, 0);
	duckdb_vector values = duckdb_struct_vector_get_child(kv, 1);
	for (idx_t i = entries[row].offset; i < entries[row].offset + entries[row].length; i++) {
		if (Valid(keys, i) && Valid(values, i)) {
			out[String(keys, i)] = String(values, i);
		}
	}
	return out;
}

// Leaf path (as RETURN_STATS spells it) -> column id, for every leaf of the tree.
void LeafPaths(const LakeColumn &col, const std::string &prefix, std::map<std::string, const LakeColumn *> &out) {
	std::string path =
	    prefix.empty() ? DuckConnection::QuoteIdent(col.name) : prefix + "." + DuckConnection::QuoteIdent(col.name);
	if (col.children.empty()) {
		out[path] = &col;
		return;
	}
	for (const auto &child : col.children) {
		LeafPaths(child, path, out);
	}
}

// Leaves in Parquet schema order (depth-first), with the top-level column each belongs to.
void LeavesInOrder(const LakeColumn &col, const LakeColumn &top,
                   std::vector<std::pair<const LakeColumn *, const LakeColumn *>> &out) {
	if (col.children.empty()) {
		out.push_back({&col, &top});
		return;
	}
	for (const auto &child : col.children) {
		LeavesInOrder(child, top, out);
	}
}

std::optional<int64_t> OptInt(const std::map<std::string, std::string> &m, const char *key) {
	auto it = m.find(key);
	if (it == m.end()) {
		return std::nullopt;
	}
	int64_t v = 0;
	auto [ptr, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
	if (ec != std::errc()) {
		return std::nullopt;
	}
	return v;
}

std::optional<std::string> OptString(const std::map<std::string, std::string> &m, const char *key) {
	auto it = m.find(key);
	if (it == m.end() || it->second.find('\0') != std::string::npos) {
		return std::nullopt;
	}
	return it->second;
}

struct CopyResult {
	std::string filename;
	int64_t count = 0;
	int64_t size = 0;
	std::optional<int64_t> footer;
	std::map<std::string, std::map<std::string, std::string>> stats;
};

std::vector<CopyResult> ReadCopyResult(DuckResult &result) {
	std::vector<CopyResult> out;
	idx_t cols = result.Columns();
	int filename_col = -1, count_col = -1, size_col = -1, footer_col = -1, stats_col = -1;
	for (idx_t c = 0; c < cols; c++) {
		auto name = result.ColumnName(c);
		int ci = static_cast<int>(c);
		if (name == "filename") {
			filename_col = ci;
		} else if (name == "count") {
			count_col = ci;
		} else if (name == "file_size_bytes") {
			size_col = ci;
		} else if (name == "footer_size_bytes") {
			footer_col = ci;
		} else if (name == "column_statistics") {
			stats_col = ci;
		}
	}
	if (filename_col < 0 || count_col < 0 || size_col < 0 || stats_col < 0) {
		throw Error(ErrorKind::Duck, "DuckDB COPY ... RETURN_STATS returned unexpected columns",
		            {.hint = "pg_duckpipe needs DuckDB 1.4 or later"});
	}
	while (true) {
		duckdb_data_chunk chunk = duckdb_fetch_chunk(*result.Raw());
		if (!chunk) {
			break;
		}
		idx_t rows = duckdb_data_chunk_get_size(chunk);
		for (idx_t r = 0; r < rows; r++) {
			CopyResult cr;
			cr.filename = String(duckdb_data_chunk_get_vector(chunk, filename_col), r);
			cr.count = Integer(duckdb_data_chunk_get_vector(chunk, count_col), r);
			cr.size = Integer(duckdb_data_chunk_get_vector(chunk, size_col), r);
			if (footer_col >= 0) {
				auto v = duckdb_data_chunk_get_vector(chunk, footer_col);
				if (Valid(v, r)) {
					auto footer = Integer(v, r);
					if (footer > 0) {
						cr.footer = footer;
					}
				}
			}
			auto stats = duckdb_data_chunk_get_vector(chunk, stats_col);
			if (Valid(stats, r)) {
				auto *entries = static_cast<duckdb_list_entry *>(duckdb_vector_get_data(stats));
				duckdb_vector kv = duckdb_list_vector_get_child(stats);
				duckdb_vector keys = duckdb_struct_vector_get_child(kv, 0);
				duckdb_vector values = duckdb_struct_vector_get_child(kv, 1);
				for (idx_t i = entries[r].offset; i < entries[r].offset + entries[r].length; i++) {
					cr.stats[String(keys, i)] = StringMap(values, i);
				}
			}
			out.push_back(std::move(cr));
		}
		duckdb_destroy_data_chunk(&chunk);
	}
	return out;
}

} // namespace

std::string ParquetFileWriter::DuckType(const LakeColumn &column) {
	if (column.type == "list") {
		return DuckType(column.children.at(0)) + "[]";
	}
	if (column.type == "map") {
		return "MAP(" + DuckType(column.children.at(0)) + ", " + DuckType(column.children.at(1)) + ")";
	}
	if (column.type == "struct") {
		std::string out = "STRUCT(";
		for (size_t i = 0; i < column.children.size(); i++) {
			out += (i ? ", " : "") + DuckConnection::QuoteIdent(column.children[i].name) + " " +
			       DuckType(column.children[i]);
		}
		return out + ")";
	}
	return DuckTypeForPrimitive(column.type);
}

std::string ParquetFileWriter::FieldIds(const std::vector<LakeColumn> &columns) {
	std::string out = "{";
	for (size_t i = 0; i < columns.size(); i++) {
		const auto &c = columns[i];
		out += (i ? ", " : "") + DuckConnection::QuoteIdent(c.name) + ": ";
		if (c.children.empty()) {
			out += std::to_string(c.column_id);
		} else {
			out += "{__duckdb_field_id: " + std::to_string(c.column_id);
			for (const auto &child : c.children) {
				auto inner = FieldIds({child});
				// "{"x": ...}" -> ", "x": ..."
				out += ", " + inner.substr(1, inner.size() - 2);
			}
			out += "}";
		}
	}
	return out + "}";
}

std::string ParquetFileWriter::NewFileStem(DuckConnection &duck) {
	auto r = duck.Query("SELECT CAST(uuidv7() AS VARCHAR)");
	return "ducklake-" + *r.GetString(0, 0);
}

WrittenFile ParquetFileWriter::Write(DuckConnection &duck, const std::string &select_sql, const std::string &path,
                                     const std::vector<LakeColumn> &columns) {
	// The writer holds a row group in memory until it is full: 122,880 rows by default, over 100 MB
	// of rows that carry TOASTed text, per thread. A byte cap bounds that; DuckDB takes it only
	// where the insertion order need not be kept (the change buffer's and the copy's instances).
	std::string row_group_cap;
	if (!duck.KeepsInsertionOrder()) {
		row_group_cap = ", ROW_GROUP_SIZE_BYTES " + std::to_string(kRowGroupBytes);
	}
	std::string sql = "COPY (" + select_sql + ") TO " + DuckConnection::QuoteLiteral(path) +
	                  " (FORMAT parquet, FIELD_IDS " + FieldIds(columns) + ", RETURN_STATS true" + row_group_cap + ")";
	auto result = duck.Query(sql);
	auto rows = ReadCopyResult(result);
	if (rows.size() != 1) {
		throw Error(ErrorKind::Duck, "DuckDB COPY wrote " + std::to_string(rows.size()) + " files, expected 1",
		            {.statement = sql.substr(0, 400)});
	}
	WrittenFile out;
	out.full_path = path;
	out.record_count = rows[0].count;
	out.file_size_bytes = rows[0].size;
	out.footer_size = rows[0].footer;
	if (out.record_count == 0) {
		std::error_code ec;
		std::filesystem::remove(path, ec);
		return out;
	}
	std::map<std::string, const LakeColumn *> leaves;
	for (const auto &c : columns) {
		LeafPaths(c, "", leaves);
	}
	std::map<const LakeColumn *, std::string> leaf_path;
	for (const auto &[p, col] : leaves) {
		leaf_path[col] = p;
	}
	// DuckDB 1.4's RETURN_STATS lacks num_values (and null_count / boolean bounds for some leaves):
	// the footer has them (parquet_metadata reads only the footer).
	std::vector<std::pair<const LakeColumn *, const LakeColumn *>> ordered;
	for (const auto &c : columns) {
		LeavesInOrder(c, c, ordered);
	}
	auto meta = duck.Query("SELECT column_id, sum(num_values)::BIGINT, sum(stats_null_count)::BIGINT, count(*) FILTER "
	                       "(WHERE stats_null_count IS NULL), min(stats_min_value), max(stats_max_value) FROM "
	                       "parquet_metadata(" +
	                       DuckConnection::QuoteLiteral(path) + ") GROUP BY column_id ORDER BY column_id");
	struct Footer {
		std::optional<int64_t> num_values, null_count;
		std::optional<std::string> min, max;
	};
	std::vector<Footer> footer(ordered.size());
	for (uint64_t r = 0; r < meta.Rows(); r++) {
		auto idx = static_cast<size_t>(meta.GetInt(0, r));
		if (idx >= footer.size()) {
			continue;
		}
		if (!meta.IsNull(1, r)) {
			footer[idx].num_values = meta.GetInt(1, r);
		}
		if (meta.GetInt(3, r) == 0 && !meta.IsNull(2, r)) {
			footer[idx].null_count = meta.GetInt(2, r);
		}
		footer[idx].min = meta.GetString(4, r);
		footer[idx].max = meta.GetString(5, r);
	}
	// Null counts of list elements (Parquet counts a NULL or empty list as one null entry).
	std::string nested_sql;
	std::vector<size_t> nested_idx;
	for (size_t i = 0; i < ordered.size(); i++) {
		auto [leaf, top] = ordered[i];
		auto it = rows[0].stats.find(leaf_path[leaf]);
		bool has_null = it != rows[0].stats.end() && it->second.count("null_count");
		if (!has_null && !footer[i].null_count && top->type == "list" && top->children.size() == 1 &&
		    leaf == &top->children[0]) {
			auto q = DuckConnection::QuoteIdent(top->name);
			nested_sql += (nested_sql.empty() ? "" : ", ") + std::string("sum(CASE WHEN ") + q + " IS NULL OR len(" +
			              q + ") = 0 THEN 1 ELSE len(" + q + ") END - coalesce(len(list_filter(" + q +
			              ", lambda __x: __x IS NOT NULL)), 0))::BIGINT";
			nested_idx.push_back(i);
		}
	}
	if (!nested_sql.empty()) {
		auto r = duck.Query("SELECT " + nested_sql + " FROM read_parquet(" + DuckConnection::QuoteLiteral(path) + ")");
		for (size_t k = 0; k < nested_idx.size(); k++) {
			if (!r.IsNull(k, 0)) {
				footer[nested_idx[k]].null_count = r.GetInt(k, 0);
			}
		}
	}
	for (size_t i = 0; i < ordered.size(); i++) {
		auto *col = ordered[i].first;
		LeafStats s;
		s.column_id = col->column_id;
		auto it = rows[0].stats.find(leaf_path[col]);
		if (it != rows[0].stats.end()) {
			const auto &m = it->second;
			s.column_size_bytes = OptInt(m, "column_size_bytes");
			s.null_count = OptInt(m, "null_count");
			s.min_value = OptString(m, "min");
			s.max_value = OptString(m, "max");
		}
		if (!s.null_count) {
			s.null_count = footer[i].null_count;
		}
		if (footer[i].num_values && s.null_count) {
			s.value_count = *footer[i].num_values - *s.null_count;
		}
		if (col->type == "boolean" && !s.min_value && !s.max_value && footer[i].min && footer[i].max) {
			s.min_value = *footer[i].min == "true" ? "1" : "0";
			s.max_value = *footer[i].max == "true" ? "1" : "0";
		}
		if (col->type == "float32" || col->type == "float64") {
			bool nan = false;
			if (it != rows[0].stats.end()) {
				auto h = it->second.find("has_nan");
				nan = h != it->second.end() && h->second == "true";
			}
			s.contains_nan = nan;
		}
		out.stats.push_back(std::move(s));
	}
	return out;
}

WrittenFile ParquetFileWriter::WriteDeleteFile(DuckConnection &duck, const std::string &positions_sql,
                                               const std::string &data_file_path, const std::string &path) {
	std::string sql = "COPY (SELECT CAST(" + DuckConnection::QuoteLiteral(data_file_path) +
	                  " AS VARCHAR) AS file_path, CAST(pos AS BIGINT) AS pos FROM (" + positions_sql +
	                  ") ORDER BY pos) TO " + DuckConnection::QuoteLiteral(path) +
	                  " (FORMAT parquet, FIELD_IDS {file_path: 2147483546, pos: 2147483545}, RETURN_STATS true)";
	auto result = duck.Query(sql);
	auto rows = ReadCopyResult(result);
	if (rows.size() != 1) {
		throw Error(ErrorKind::Duck, "DuckDB COPY wrote " + std::to_string(rows.size()) + " delete files, expected 1");
	}
	WrittenFile out;
	out.full_path = path;
	out.record_count = rows[0].count;
	out.file_size_bytes = rows[0].size;
	out.footer_size = rows[0].footer;
	return out;
}

} // namespace duckpipe::lake
