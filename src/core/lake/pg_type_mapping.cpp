#include "core/lake/pg_type_mapping.hpp"

#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"

#include <duckdb.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

namespace duckpipe::lake {

namespace {

LakeTypeMapping Simple(std::string lake, std::string duck, std::string note = {}) {
	return LakeTypeMapping{std::move(lake), std::move(duck), {}, false, std::move(note)};
}

LakeTypeMapping Text(std::string note) {
	return LakeTypeMapping{"varchar", "VARCHAR", {}, true, std::move(note)};
}

LakeTypeMapping MapScalar(const std::string &name, int32_t typmod, char typtype) {
	if (typtype == 'e') {
		return Simple("varchar", "VARCHAR", "enum label as text");
	}
	static const std::map<std::string, std::pair<std::string, std::string>> kDirect = {
	    {"bool", {"boolean", "BOOLEAN"}},
	    {"int2", {"int16", "SMALLINT"}},
	    {"int4", {"int32", "INTEGER"}},
	    {"int8", {"int64", "BIGINT"}},
	    {"oid", {"int64", "BIGINT"}},
	    {"float4", {"float32", "FLOAT"}},
	    {"float8", {"float64", "DOUBLE"}},
	    {"text", {"varchar", "VARCHAR"}},
	    {"varchar", {"varchar", "VARCHAR"}},
	    {"bpchar", {"varchar", "VARCHAR"}},
	    {"name", {"varchar", "VARCHAR"}},
	    {"citext", {"varchar", "VARCHAR"}},
	    {"char", {"varchar", "VARCHAR"}},
	    {"bytea", {"blob", "BLOB"}},
	    {"date", {"date", "DATE"}},
	    {"time", {"time", "TIME"}},
	    {"timestamp", {"timestamp", "TIMESTAMP"}},
	    {"timestamptz", {"timestamptz", "TIMESTAMP WITH TIME ZONE"}},
	    {"uuid", {"uuid", "UUID"}},
	    {"json", {"json", "JSON"}},
	    {"jsonb", {"json", "JSON"}},
	};
	auto it = kDirect.find(name);
	if (it != kDirect.end()) {
		return Simple(it->second.first, it->second.second);
	}
	if (name == "numeric") {
		if (typmod < 4) {
			return Text("unconstrained numeric: kept exactly as text");
		}
		int precision = ((typmod - 4) >> 16) & 0xffff;
		int scale = (typmod - 4) & 0x7ff;
		if (scale & 0x400) { // PostgreSQL 15 allows negative scales (11-bit signed)
			scale -= 0x800;
		}
		if (precision < 1 || precision > 38 || scale < 0 || scale > precision) {
			return Text("numeric precision above 38 or scale outside [0,p]: kept exactly as text");
		}
		auto p = std::to_string(precision);
		auto s = std::to_string(scale);
		return Simple("decimal(" + p + "," + s + ")", "DECIMAL(" + p + "," + s + ")", "NaN becomes NULL");
	}
	if (name == "interval") {
		return Text("Parquet intervals keep milliseconds only and DuckDB cannot write negative ones");
	}
	if (name == "timetz") {
		return Text("Parquet stores time with time zone normalised to UTC, the offset is lost");
	}
	if (name == "money") {
		return Text("money text is formatted by lc_monetary");
	}
	return Text("no native DuckLake type: kept as PostgreSQL's text form");
}

// Wraps PostgreSQL's "... BC" suffix into DuckDB's "(BC)" form right after the date part.
std::string TemporalCast(const std::string &x, const std::string &duck_type) {
	return "CAST(CASE WHEN " + x + " LIKE '% BC' THEN regexp_replace(" + x +
	       ", '^([0-9]+-[0-9]+-[0-9]+)(.*) BC$', '\\1 (BC)\\2') ELSE " + x + " END AS " + duck_type + ")";
}

// Parses one PostgreSQL 1-D array literal; false with `error` set when it is not one.
bool ParsePgArray(std::string_view in, std::vector<std::optional<std::string>> &out, std::string &error) {
	size_t i = 0;
	if (!in.empty() && in[0] == '[') { // "[0:2]={...}" when the lower bound is not 1
		auto eq = in.find('=');
		if (eq == std::string_view::npos) {
			error = "malformed array dimensions";
			return false;
		}
		i = eq + 1;
	}
	if (i >= in.size() || in[i] != '{') {
		error = "array text does not start with '{'";
		return false;
	}
	i++;
	if (i < in.size() && in[i] == '}') {
		return i + 1 == in.size();
	}
	while (i < in.size()) {
		if (in[i] == '{') {
			error = "multi-dimensional array value in a one-dimensional list column";
			return false;
		}
		if (in[i] == '"') {
			std::string v;
			i++;
			while (i < in.size() && in[i] != '"') {
				if (in[i] == '\\' && i + 1 < in.size()) {
					i++;
				}
				v += in[i++];
			}
			if (i >= in.size()) {
				error = "unterminated quoted array element";
				return false;
			}
			i++;
			out.emplace_back(std::move(v));
		} else {
			size_t start = i;
			while (i < in.size() && in[i] != ',' && in[i] != '}') {
				i++;
			}
			auto v = in.substr(start, i - start);
			bool is_null = v.size() == 4 && std::tolower(v[0]) == 'n' && std::tolower(v[1]) == 'u' &&
			               std::tolower(v[2]) == 'l' && std::tolower(v[3]) == 'l';
			if (is_null) {
				out.emplace_back(std::nullopt);
			} else {
				out.emplace_back(std::string(v));
			}
		}
		if (i >= in.size()) {
			break;
		}
		if (in[i] == '}') {
			return i + 1 == in.size();
		}
		if (in[i] != ',') {
			error = "unexpected character in array text";
			return false;
		}
		i++;
	}
	error = "array text does not end with '}'";
	return false;
}

void PgArrayFunction(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) {
	idx_t rows = duckdb_data_chunk_get_size(input);
	duckdb_vector in = duckdb_data_chunk_get_vector(input, 0);
	auto *strings = static_cast<duckdb_string_t *>(duckdb_vector_get_data(in));
	uint64_t *in_validity = duckdb_vector_get_validity(in);
	duckdb_vector_ensure_validity_writable(output);
	uint64_t *out_validity = duckdb_vector_get_validity(output);
	auto *entries = static_cast<duckdb_list_entry *>(duckdb_vector_get_data(output));
	idx_t total = 0;
	std::vector<std::optional<std::string>> elems;
	std::string error;
	for (idx_t row = 0; row < rows; row++) {
		entries[row] = {total, 0};
		if (in_validity && !duckdb_validity_row_is_valid(in_validity, row)) {
			duckdb_validity_set_row_invalid(out_validity, row);
			continue;
		}
		auto &s = strings[row];
		std::string_view text(duckdb_string_t_data(&s), duckdb_string_t_length(s));
		elems.clear();
		if (!ParsePgArray(text, elems, error)) {
			std::string msg = "duckpipe_pg_array: " + error + ": '" + std::string(text.substr(0, 200)) + "'";
			duckdb_scalar_function_set_error(info, msg.c_str());
			return;
		}
		duckdb_list_vector_reserve(output, total + elems.size());
		duckdb_list_vector_set_size(output, total + elems.size());
		duckdb_vector child = duckdb_list_vector_get_child(output);
		for (size_t e = 0; e < elems.size(); e++) {
			if (!elems[e]) {
				duckdb_vector_ensure_validity_writable(child);
				duckdb_validity_set_row_invalid(duckdb_vector_get_validity(child), total + e);
			} else {
				duckdb_vector_assign_string_element_len(child, total + e, elems[e]->data(), elems[e]->size());
			}
		}
		entries[row] = {total, elems.size()};
		total += elems.size();
	}
}

// PostgreSQL 1-D array output to a DuckDB list in plain SQL, so any DuckDB connection (the change
// buffer's, the copy's) can evaluate it: "[lo:hi]=" lower bounds dropped, quoted elements unescaped,
// unquoted NULL is a NULL element. Array output quotes every element holding a delimiter, brace,
// quote, backslash or space, so an unquoted element is a run of other characters. A value with more
// dimensions than the column was declared with cannot be a list: error() names the column and the fix.
std::string PgArrayExpression(const std::string &x, const std::string &column, const std::string &element) {
	// The buffer substitutes "{}" in the expression: keep it out of the name's literal.
	std::string name = column.empty() ? std::string("an array column") : "column \"" + column + "\"";
	for (auto pos = name.find("{}"); pos != std::string::npos; pos = name.find("{}", pos)) {
		name.replace(pos, 2, "{ }");
	}
	std::string alter = column.empty() ? std::string("...") : "\"" + column + "\"";
	for (auto pos = alter.find("{}"); pos != std::string::npos; pos = alter.find("{}", pos)) {
		alter.replace(pos, 2, "{ }");
	}
	// The value in single quotes: SourceValueText hides quoted values below log level debug.
	std::string message_start = name + " holds a multi-dimensional array value '";
	std::string message_end =
	    "' but the lake stores it as a one-dimensional list (PostgreSQL does not enforce array dimensions, and the "
	    "column was declared with one): declare its dimensions on the source (ALTER TABLE ... ALTER COLUMN " +
	    alter +
	    " TYPE <element type>[][]; the lake then keeps the array text) and copy the table again (duckpipe "
	    "resync-table)";
	return "CASE WHEN regexp_matches(" + x + R"sql(, '^(\[[^=]*\]=)?\{\{') THEN error()sql" +
	       DuckConnection::QuoteLiteral(message_start) + " || left(" + x + ", 200) || " +
	       DuckConnection::QuoteLiteral(message_end) + ") ELSE list_transform(list_transform(regexp_extract_all(" +
	       "regexp_replace(" + x +
	       R"sql(, '^\[[^=]*\]=', ''), '(?s)"(?:[^"\\]|\\.)*"|[^,}{]+'), lambda __a: CASE )sql" +
	       R"sql(WHEN __a[1] = '"' THEN regexp_replace(substr(__a, 2, length(__a) - 2), '(?s)\\(.)', '\1', 'g') )sql" +
	       "WHEN __a = 'NULL' THEN NULL ELSE __a END), lambda __e: " + element + ") END";
}

} // namespace

LakeTypeMapping MapPgType(const PgColumnType &type) {
	if (type.typcategory == 'A' && type.elem_oid != 0) {
		if (type.ndims > 1) {
			return Text("multi-dimensional array: kept as PostgreSQL array text");
		}
		if (type.elem_name == "box") {
			return Text("box[] separates elements with ';': kept as PostgreSQL array text");
		}
		auto elem = MapScalar(type.elem_name, type.elem_typmod, type.elem_typtype);
		LakeTypeMapping out;
		out.lake_type = "list";
		out.duck_type = elem.duck_type + "[]";
		out.note = elem.note;
		out.lossy_fallback = elem.lossy_fallback;
		out.children.push_back(std::move(elem));
		return out;
	}
	return MapScalar(type.name, type.typmod, type.typtype);
}

LakeColumn ToLakeColumn(const std::string &name, const LakeTypeMapping &mapping, bool not_null) {
	LakeColumn col;
	col.name = name;
	col.type = mapping.lake_type;
	col.nulls_allowed = !not_null;
	col.default_value = "NULL";
	for (const auto &child : mapping.children) {
		col.children.push_back(ToLakeColumn("element", child, false));
	}
	if (!col.children.empty()) {
		col.default_value_type = "";
	}
	return col;
}

std::string TextToDuckExpression(const LakeTypeMapping &m, const std::string &x, const std::string &column) {
	const auto &t = m.lake_type;
	if (t == "list") {
		return PgArrayExpression(x, column, TextToDuckExpression(m.children.at(0), "__e"));
	}
	if (t == "varchar") {
		return x;
	}
	if (t == "blob") {
		// bytea_output=hex (the default): "\x0a1b..."
		return "from_hex(substr(" + x + ", 3))";
	}
	if (t.starts_with("decimal(")) {
		return "CASE WHEN " + x + " = 'NaN' THEN NULL ELSE CAST(" + x + " AS " + m.duck_type + ") END";
	}
	if (t == "date" || t == "timestamp" || t == "timestamptz") {
		return TemporalCast(x, m.duck_type);
	}
	return "CAST(" + x + " AS " + m.duck_type + ")";
}

void RegisterPgTextFunctions(DuckConnection &conn) {
	auto exists = conn.Query("SELECT count(*) FROM duckdb_functions() WHERE function_name = 'duckpipe_pg_array'");
	if (exists.GetInt(0, 0) > 0) {
		return;
	}
	duckdb_scalar_function f = duckdb_create_scalar_function();
	duckdb_scalar_function_set_name(f, "duckpipe_pg_array");
	duckdb_logical_type varchar = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
	duckdb_logical_type list = duckdb_create_list_type(varchar);
	duckdb_scalar_function_add_parameter(f, varchar);
	duckdb_scalar_function_set_return_type(f, list);
	duckdb_scalar_function_set_function(f, PgArrayFunction);
	auto state = duckdb_register_scalar_function(conn.Raw(), f);
	duckdb_destroy_logical_type(&list);
	duckdb_destroy_logical_type(&varchar);
	duckdb_destroy_scalar_function(&f);
	if (state == DuckDBError) {
		throw Error(ErrorKind::Duck, "cannot register the DuckDB function duckpipe_pg_array");
	}
}

} // namespace duckpipe::lake
