#include "type_columns.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace duckpipe::test {

namespace {

constexpr const char *kNullElement = "<null>";

std::string PgScalar(Canon canon, const std::string &x) {
	switch (canon) {
	case Canon::Text:
	case Canon::Float4:
	case Canon::Float8:
		// The output function's text (what COPY and pgoutput send); x::text differs for bpchar
		// (padding trimmed) and inet (netmask always shown). IS NOT DISTINCT: ROW(NULL, NULL) IS NULL.
		return "CASE WHEN " + x + " IS NOT DISTINCT FROM NULL THEN NULL ELSE format('%s', " + x + ") END";
	case Canon::Bool:
		return "CASE WHEN " + x + " THEN 'true' WHEN NOT " + x + " THEN 'false' END";
	case Canon::Decimal:
		return "CASE WHEN " + x + " = 'NaN' THEN NULL ELSE " + x + "::text END";
	case Canon::Bytea:
		return "encode(" + x + ", 'hex')";
	case Canon::Date:
		return "CASE WHEN " + x + " = 'infinity' THEN 'inf' WHEN " + x + " = '-infinity' THEN '-inf' ELSE (" + x +
		       " - DATE '2000-01-01')::text END";
	case Canon::Time:
		return "((extract(epoch FROM " + x + ") * 1000000)::bigint)::text";
	case Canon::Stamp:
		return "CASE WHEN NOT isfinite(" + x + ") THEN " + x + "::text ELSE ((extract(epoch FROM " + x +
		       ") * 1000000)::bigint)::text END";
	}
	return x;
}

std::string DuckScalar(Canon canon, const std::string &x) {
	switch (canon) {
	case Canon::Bytea:
		return "lower(hex(" + x + "))";
	case Canon::Date:
		return "CASE WHEN isinf(" + x + ") THEN (CASE WHEN " + x + " > DATE '2000-01-01' THEN 'inf' ELSE '-inf' END) " +
		       "ELSE CAST(" + x + " - DATE '2000-01-01' AS VARCHAR) END";
	case Canon::Time:
		return "CAST(epoch_us(" + x + ") AS VARCHAR)";
	case Canon::Stamp:
		return "CASE WHEN isinf(" + x + ") THEN (CASE WHEN " + x + " > '2000-01-01' THEN 'infinity' ELSE " +
		       "'-infinity' END) ELSE CAST(epoch_us(" + x + ") AS VARCHAR) END";
	default:
		return "CAST(" + x + " AS VARCHAR)";
	}
}

bool IsList(const TypeColumn &c) {
	return c.lake_type == "list";
}

// Lists: "<count>:" then the elements' canonical texts joined by \x1f (NULL elements as <null>),
// so order, NULL elements and empty lists all count.
std::string PgCanonical(const TypeColumn &c) {
	std::string col = "\"" + c.name + "\"";
	if (!IsList(c)) {
		return PgScalar(c.canon, col);
	}
	return "CASE WHEN " + col + " IS NULL THEN NULL ELSE cardinality(" + col + ")::text || ':' || " +
	       "coalesce((SELECT string_agg(coalesce(" + PgScalar(c.canon, "u.v") + ", '" + kNullElement +
	       "'), chr(31) ORDER BY u.o) FROM unnest(" + col + ") WITH ORDINALITY AS u(v, o)), '') END";
}

std::string DuckCanonical(const TypeColumn &c) {
	std::string col = "\"" + c.name + "\"";
	if (!IsList(c)) {
		return DuckScalar(c.canon, col);
	}
	return "CASE WHEN " + col + " IS NULL THEN NULL ELSE CAST(len(" + col + ") AS VARCHAR) || ':' || " +
	       "coalesce(array_to_string(list_transform(" + col + ", lambda __v: coalesce(" + DuckScalar(c.canon, "__v") +
	       ", '" + kNullElement + "')), chr(31)), '') END";
}

std::string NormaliseFloat(Canon canon, const std::string &text) {
	if (text == kNullElement) {
		return text;
	}
	double v = canon == Canon::Float4 ? static_cast<double>(std::strtof(text.c_str(), nullptr))
	                                  : std::strtod(text.c_str(), nullptr);
	if (std::isnan(v)) {
		return "nan";
	}
	if (std::isinf(v)) {
		return v > 0 ? "inf" : "-inf";
	}
	char buf[64];
	std::snprintf(buf, sizeof(buf), canon == Canon::Float4 ? "%.9g" : "%.17g", v);
	return buf;
}

} // namespace

const std::vector<TypeColumn> &TypeColumns() {
	static const std::vector<TypeColumn> columns = {
	    {"b", "bool", "boolean", "", Canon::Bool},
	    {"i2", "int2", "int16", "", Canon::Text},
	    {"i4", "int4", "int32", "", Canon::Text},
	    {"i8", "int8", "int64", "", Canon::Text},
	    {"o", "oid", "int64", "", Canon::Text},
	    {"f4", "float4", "float32", "", Canon::Float4},
	    {"f8", "float8", "float64", "", Canon::Float8},
	    {"n38", "numeric(38,10)", "decimal(38,10)", "", Canon::Decimal},
	    {"n38i", "numeric(38,0)", "decimal(38,0)", "", Canon::Decimal},
	    {"n122", "numeric(12,2)", "decimal(12,2)", "", Canon::Decimal},
	    {"nu", "numeric", "varchar", "", Canon::Text},
	    {"n50", "numeric(50,10)", "varchar", "", Canon::Text},
	    {"nneg", "numeric(4,-2)", "varchar", "", Canon::Text},
	    {"m", "money", "varchar", "", Canon::Text},
	    {"t", "text", "varchar", "", Canon::Text},
	    {"vc", "varchar(10)", "varchar", "", Canon::Text},
	    {"ch", "char(5)", "varchar", "", Canon::Text},
	    {"nm", "name", "varchar", "", Canon::Text},
	    {"qc", "\"char\"", "varchar", "", Canon::Text},
	    {"by", "bytea", "blob", "", Canon::Bytea},
	    {"d", "date", "date", "", Canon::Date},
	    {"tm", "time", "time", "", Canon::Time},
	    {"ttz", "timetz", "varchar", "", Canon::Text},
	    {"ts", "timestamp", "timestamp", "", Canon::Stamp},
	    {"tstz", "timestamptz", "timestamptz", "", Canon::Stamp},
	    {"iv", "interval", "varchar", "", Canon::Text},
	    {"u", "uuid", "uuid", "", Canon::Text},
	    {"j", "json", "json", "", Canon::Text},
	    {"jb", "jsonb", "json", "", Canon::Text},
	    {"ai", "int4[]", "list", "int32", Canon::Text},
	    {"ai8", "int8[]", "list", "int64", Canon::Text},
	    {"atx", "text[]", "list", "varchar", Canon::Text},
	    {"an", "numeric[]", "list", "varchar", Canon::Text},
	    {"adec", "numeric(6,2)[]", "list", "decimal(6,2)", Canon::Decimal},
	    {"af", "float8[]", "list", "float64", Canon::Float8},
	    {"ab", "bool[]", "list", "boolean", Canon::Bool},
	    {"aby", "bytea[]", "list", "blob", Canon::Bytea},
	    {"ad", "date[]", "list", "date", Canon::Date},
	    {"ats", "timestamptz[]", "list", "timestamptz", Canon::Stamp},
	    {"au", "uuid[]", "list", "uuid", Canon::Text},
	    {"ajb", "jsonb[]", "list", "json", Canon::Text},
	    {"ae", "mood[]", "list", "varchar", Canon::Text},
	    {"a2", "int4[][]", "varchar", "", Canon::Text},
	    {"e", "mood", "varchar", "", Canon::Text},
	    {"dn", "dnum", "decimal(10,3)", "", Canon::Decimal},
	    {"dn2", "dnum2", "decimal(10,3)", "", Canon::Decimal},
	    {"dt", "dtext", "varchar", "", Canon::Text},
	    {"ip", "inet", "varchar", "", Canon::Text},
	    {"cd", "cidr", "varchar", "", Canon::Text},
	    {"mac", "macaddr", "varchar", "", Canon::Text},
	    {"mac8", "macaddr8", "varchar", "", Canon::Text},
	    {"bt", "bit(4)", "varchar", "", Canon::Text},
	    {"vb", "varbit", "varchar", "", Canon::Text},
	    {"tv", "tsvector", "varchar", "", Canon::Text},
	    {"tq", "tsquery", "varchar", "", Canon::Text},
	    {"r", "int4range", "varchar", "", Canon::Text},
	    {"tr", "tstzrange", "varchar", "", Canon::Text},
	    {"mr", "int4multirange", "varchar", "", Canon::Text},
	    {"comp", "pair", "varchar", "", Canon::Text},
	    {"x", "xml", "varchar", "", Canon::Text},
	    {"pt", "point", "varchar", "", Canon::Text},
	    {"lsn", "pg_lsn", "varchar", "", Canon::Text},
	    {"ci", "citext", "varchar", "", Canon::Text},
	    {"hs", "hstore", "varchar", "", Canon::Text},
	    {"abx", "box[]", "varchar", "", Canon::Text},
	    {"ainet", "inet[]", "list", "varchar", Canon::Text},
	};
	return columns;
}

std::string TypesDdl() {
	return R"(
CREATE EXTENSION citext;
CREATE EXTENSION hstore;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy, "quoted"');
CREATE DOMAIN dnum AS numeric(10,3);
CREATE DOMAIN dnum2 AS dnum CHECK (VALUE IS NULL OR VALUE <> 13);
CREATE DOMAIN dtext AS text CHECK (VALUE <> 'forbidden');
CREATE TYPE pair AS (x int, label text);
)" + [] {
		std::string cols;
		for (const auto &c : TypeColumns()) {
			cols += ", \"" + c.name + "\" " + c.pg_type;
		}
		// EXTERNAL: large values go out of line uncompressed, so row 8 travels as TOAST pointers.
		return "CREATE TABLE public.alltypes (id int PRIMARY KEY" + cols +
		       ");\nALTER TABLE public.alltypes ALTER COLUMN t SET STORAGE EXTERNAL, ALTER COLUMN by SET STORAGE "
		       "EXTERNAL;\n";
	}();
}

const std::vector<TypeRow> &TypeRows() {
	static const std::vector<TypeRow> rows = {
	    {1, {}, ""}, // NULL in every column
	    {2,
	     {{"b", "true"},
	      {"i2", "12"},
	      {"i4", "123456"},
	      {"i8", "1234567890123"},
	      {"o", "4000000000"},
	      {"f4", "'1.5'"},
	      {"f8", "'0.1'"},
	      {"n38", "'1234567890123456789012345678.0123456789'"},
	      {"n38i", "'99999999999999999999999999999999999999'"},
	      {"n122", "'1234567890.12'"},
	      {"nu", "'3.14159265358979323846264338327950288419716939937510582097494459'"},
	      {"n50", "'1234567890123456789012345678901234567890.0123456789'"},
	      {"nneg", "'12345'"},
	      {"m", "'1234.56'"},
	      {"t", "'hello'"},
	      {"vc", "'varchar'"},
	      {"ch", "'ab'"},
	      {"nm", "'a_name'"},
	      {"qc", "'x'"},
	      {"by", R"('\xdeadbeef')"},
	      {"d", "'2024-02-29'"},
	      {"tm", "'13:45:56.789012'"},
	      {"ttz", "'13:45:56.789+05:30'"},
	      {"ts", "'2024-02-29 13:45:56.789012'"},
	      {"tstz", "'2024-02-29 13:45:56.789012+01'"},
	      {"iv", "'1 year 2 mons 3 days 04:05:06.789'"},
	      {"u", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"},
	      {"j", R"('{"b": 1,  "a": [1, 2.50, null], "b": 2}')"},
	      {"jb", R"('{"b": 1,  "a": [1, 2.50, null]}')"},
	      {"ai", "'{1,NULL,3}'"},
	      {"ai8", "'{-9223372036854775808,9223372036854775807}'"},
	      {"atx", "'{a,b,c}'"},
	      {"an", "'{1.5,NaN,-0.000001,Infinity}'"},
	      {"adec", "'{1.25,NaN,NULL}'"},
	      {"af", "'{0.1,-0,1e300,NaN,Infinity,-Infinity,5e-324}'"},
	      {"ab", "'{t,f,NULL}'"},
	      {"aby", R"('{"\\x00ff",NULL,"\\x"}')"},
	      {"ad", R"('{2024-01-01,infinity,NULL,"0044-03-15 BC",-infinity}')"},
	      {"ats", R"('{"2024-01-01 00:00:00.000001+00",-infinity,NULL,"0001-01-01 10:00:00+00 BC"}')"},
	      {"au", "'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}'"},
	      {"ajb", R"(ARRAY['{"a": 1}'::jsonb, NULL, '[1, "x,y", "q\"uote"]'::jsonb])"},
	      {"ae", R"('{sad,"happy, \"quoted\"",NULL}')"},
	      {"a2", "'{{1,2},{3,NULL}}'"},
	      {"e", "'ok'"},
	      {"dn", "'1234567.891'"},
	      {"dn2", "'-0.001'"},
	      {"dt", "'domain text'"},
	      {"ip", "'192.168.1.5/24'"},
	      {"cd", "'10.0.0.0/8'"},
	      {"mac", "'08:00:2b:01:02:03'"},
	      {"mac8", "'08:00:2b:01:02:03:04:05'"},
	      {"bt", "B'1010'"},
	      {"vb", "B'101'"},
	      {"tv", "'a fat cat sat on a mat'"},
	      {"tq", "'fat & (rat | cat)'"},
	      {"r", "'[1,10)'"},
	      {"tr", "'[2024-01-01 00:00+02,2024-06-01)'"},
	      {"mr", "'{[1,3),[5,7)}'"},
	      {"comp", R"(ROW(1, 'a,b "c"'))"},
	      {"x", R"('<a b="1">text &amp; more</a>')"},
	      {"pt", "'(1.5,-2)'"},
	      {"lsn", "'16/B374D848'"},
	      {"ci", "'MiXeD Case'"},
	      {"hs", R"('a=>1, "b c"=>NULL, "q\"uote"=>"x,y"')"},
	      {"abx", "'{(1,1),(0,0);(3,3),(2,2)}'"},
	      {"ainet", "'{10.0.0.1,::1/128,NULL}'"}},
	     ""},
	    {3, // minimums, empty values
	     {{"b", "false"},
	      {"i2", "-32768"},
	      {"i4", "-2147483648"},
	      {"i8", "-9223372036854775808"},
	      {"o", "0"},
	      {"f4", "'-Infinity'"},
	      {"f8", "'-Infinity'"},
	      {"n38", "'-9999999999999999999999999999.9999999999'"},
	      {"n38i", "'-99999999999999999999999999999999999999'"},
	      {"n122", "'-0.01'"},
	      {"nu", "'-Infinity'"},
	      {"n50", "'-0.0000000001'"},
	      {"nneg", "'-9900'"},
	      {"m", "'-92233720368547758.08'"},
	      {"t", "''"},
	      {"vc", "''"},
	      {"ch", "''"},
	      {"nm", "''"},
	      {"qc", "''"},
	      {"by", R"('\x')"},
	      {"d", "'-infinity'"},
	      {"tm", "'00:00:00'"},
	      {"ttz", "'00:00:00-15:59'"},
	      {"ts", "'-infinity'"},
	      {"tstz", "'-infinity'"},
	      {"iv", "'-1 days -00:00:00.000001'"},
	      {"u", "'00000000-0000-0000-0000-000000000000'"},
	      {"j", "'[]'"},
	      {"jb", "'{}'"},
	      {"ai", "'{}'"},
	      {"ai8", "'{}'"},
	      {"atx", "'{}'"},
	      {"an", "'{}'"},
	      {"adec", "'{}'"},
	      {"af", "'{}'"},
	      {"ab", "'{}'"},
	      {"aby", "'{}'"},
	      {"ad", "'{}'"},
	      {"ats", "'{}'"},
	      {"au", "'{}'"},
	      {"ajb", "'{}'"},
	      {"ae", "'{}'"},
	      {"a2", "'{}'"},
	      {"e", "'sad'"},
	      {"dn", "'-9999999.999'"},
	      {"dn2", "'0'"},
	      {"dt", "''"},
	      {"ip", "'::1'"},
	      {"cd", "'::/0'"},
	      {"mac", "'00:00:00:00:00:00'"},
	      {"mac8", "'00:00:00:00:00:00:00:00'"},
	      {"bt", "B'0000'"},
	      {"vb", "B''"},
	      {"tv", "''"},
	      {"tq", "''"},
	      {"r", "'empty'"},
	      {"tr", "'(,)'"},
	      {"mr", "'{}'"},
	      {"comp", "ROW(NULL, NULL)"},
	      {"x", "''"},
	      {"pt", "'(0,0)'"},
	      {"lsn", "'0/0'"}},
	     ""},
	    {4, // maximums, non-1 lower bounds
	     {{"i2", "32767"},
	      {"i4", "2147483647"},
	      {"i8", "9223372036854775807"},
	      {"o", "4294967295"},
	      {"f4", "'Infinity'"},
	      {"f8", "'Infinity'"},
	      {"n38", "'9999999999999999999999999999.9999999999'"},
	      {"n122", "'9999999999.99'"},
	      {"nu", "'Infinity'"},
	      {"m", "'92233720368547758.07'"},
	      {"d", "'infinity'"},
	      {"tm", "'24:00:00'"},
	      {"ttz", "'24:00:00+15:59'"},
	      {"ts", "'infinity'"},
	      {"tstz", "'infinity'"},
	      {"iv", "'178000000 years'"},
	      {"ai", "'[0:2]={7,8,9}'"},
	      {"atx", "'[-3:-2]={x,y}'"},
	      {"af", "'{3.4028234663852886e38,2.2250738585072014e-308,1.7976931348623157e308}'"},
	      {"a2", "'[0:1][1:2]={{1,2},{3,4}}'"},
	      {"e", R"('happy, "quoted"')"}},
	     ""},
	    {5, // NaN everywhere a type has one
	     {{"f4", "'NaN'"},
	      {"f8", "'NaN'"},
	      {"n38", "'NaN'"},
	      {"n38i", "'NaN'"},
	      {"n122", "'NaN'"},
	      {"nu", "'NaN'"},
	      {"n50", "'NaN'"},
	      {"dn", "'NaN'"},
	      {"adec", "'{NaN}'"},
	      {"af", "'{NaN}'"},
	      {"an", "'{NaN,NULL}'"}},
	     ""},
	    {6, // BC, extreme and tiny values
	     {{"f4", "'1.401298e-45'"},
	      {"f8", "'-0'"},
	      {"n38", "'0.0000000001'"},
	      {"n38i", "'0'"},
	      {"i8", "0"},
	      {"d", "'0044-03-15 BC'"},
	      {"tm", "'00:00:00.000001'"},
	      {"ts", "'2000-01-01 10:00:00.000001 BC'"},
	      {"tstz", "'4713-01-01 00:00:00+00 BC'"},
	      {"ad", R"('{"5874897-12-31","4714-11-24 BC"}')"},
	      {"ats", R"('{"294000-01-01 00:00:00+00"}')"},
	      {"nu", "'-0.000000000000000000000000000000000000000000000000000000000000000001'"},
	      {"n50", "'-1234567890123456789012345678901234567890.0123456789'"}},
	     ""},
	    {7, // unicode, quoting, escapes
	     {{"t", R"(E'tab\there\nnewline "dq" ''sq'' \\ backslash, comma; ü 日本 🎉')"},
	      {"vc", "'ü日本🎉'"},
	      {"ch", "'ü日'"},
	      {"nm", "'ünï'"},
	      {"qc", "'\"'"},
	      {"by", R"('\x00010203fffefd5c22')"},
	      {"j", R"('{"k": "ü \u00e9 \" \\ 🎉", "n": 1e400}')"},
	      {"jb", R"('{"k": "ü \u00e9 \" \\ 🎉", "n": 1e40}')"},
	      {"atx",
	       R"(ARRAY[E'a,b', 'x"y', E'back\\slash', '', 'NULL', ' spaced ', '{brace}', 'ü日本', NULL, E'new\nline'])"},
	      {"an", "'{1e-20,123456789012345678901234567890.5}'"},
	      {"aby", R"(ARRAY['\x5c22'::bytea, '\x2c7b7d'::bytea])"},
	      {"e", R"('happy, "quoted"')"},
	      {"ae", R"(ARRAY['happy, "quoted"'::mood, 'ok'])"},
	      {"dt", R"(E'ü\nx')"},
	      {"comp", R"(ROW(2, E'line\nbreak, "q" \\'))"},
	      {"x", "'<ü>日本</ü>'"},
	      {"tv", "'ü 日本 \"quoted word\"'"}},
	     ""},
	    {8, // large values: TOASTed (out of line) text, bytea, jsonb, array
	     {{"t", "(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 5000) i)"},
	      {"by", "(SELECT decode(string_agg(md5(i::text), ''), 'hex') FROM generate_series(1, 3000) i)"},
	      {"jb", "(SELECT jsonb_agg(md5(i::text)) FROM generate_series(1, 3000) i)"},
	      {"atx", "(SELECT array_agg(md5(i::text)) FROM generate_series(1, 3000) i)"},
	      {"nu", "(SELECT (string_agg((i % 10)::text, '') || '.5')::numeric FROM generate_series(1, 1000) i)"},
	      {"i4", "8"}},
	     ""},
	    {9, // literals read under a non-UTC session time zone (DST gap and overlap)
	     {{"tstz", "'2024-03-10 02:30:00'"},
	      {"ts", "'2024-03-10 02:30:00'"},
	      {"ttz", "'02:30:00'"},
	      {"tr", "'[2024-03-10 01:00,2024-11-03 01:30)'"},
	      {"ats", "ARRAY['2024-11-03 01:30:00'::timestamptz, '2024-03-10 12:00:00-08']"},
	      {"d", "'2024-03-10'"}},
	     "America/St_Johns"},
	};
	return rows;
}

std::string InsertSql(const TypeRow &row, int id_offset) {
	std::string cols = "id";
	std::string vals = std::to_string(row.id + id_offset);
	for (const auto &[col, val] : row.values) {
		cols += ", \"" + col + "\"";
		vals += ", " + val;
	}
	std::string insert = "INSERT INTO public.alltypes (" + cols + ") VALUES (" + vals + ")";
	if (row.time_zone.empty()) {
		return insert;
	}
	return "BEGIN; SET LOCAL TimeZone = '" + row.time_zone + "'; " + insert + "; COMMIT";
}

std::string CopyRowSql(int from_id, int to_id) {
	std::string cols;
	for (const auto &c : TypeColumns()) {
		cols += (cols.empty() ? "\"" : ", \"") + c.name + "\"";
	}
	return "UPDATE public.alltypes SET (" + cols + ") = (SELECT " + cols +
	       " FROM public.alltypes WHERE id = " + std::to_string(from_id) + ") WHERE id = " + std::to_string(to_id);
}

std::string SourceCanonicalSql(const std::string &table) {
	std::string sql = "SELECT id::text";
	for (const auto &c : TypeColumns()) {
		sql += ", " + PgCanonical(c);
	}
	return sql + " FROM " + table + " ORDER BY id";
}

std::string LakeCanonicalSql(const std::string &lake_table) {
	std::string sql = "SELECT CAST(id AS VARCHAR)";
	for (const auto &c : TypeColumns()) {
		sql += ", " + DuckCanonical(c);
	}
	return sql + " FROM " + lake_table + " ORDER BY id";
}

std::string Normalise(const TypeColumn &column, const std::string &canonical) {
	if (column.canon != Canon::Float4 && column.canon != Canon::Float8) {
		return canonical;
	}
	if (canonical == kNullElement) {
		return canonical; // a NULL value (the harness prints NULL as <null>)
	}
	if (!IsList(column)) {
		return NormaliseFloat(column.canon, canonical);
	}
	auto colon = canonical.find(':');
	std::string out = canonical.substr(0, colon + 1);
	std::string rest = canonical.substr(colon + 1);
	for (size_t start = 0; start <= rest.size() && !rest.empty();) {
		auto end = rest.find('\x1f', start);
		if (end == std::string::npos) {
			end = rest.size();
		}
		out += (start ? "\x1f" : "") + NormaliseFloat(column.canon, rest.substr(start, end - start));
		start = end + 1;
	}
	return out;
}

} // namespace duckpipe::test
