// PostgreSQL type -> DuckLake type mapping and text conversions, checked end to end: real
// PostgreSQL values (text output, as COPY/pgoutput send them) through DuckDB into the lake and back.
#include "core/common/error.hpp"
#include "core/lake/pg_type_mapping.hpp"
#include "core/pg/source_table.hpp"
#include "writer_fixture.hpp"

#include <gtest/gtest.h>

using namespace duckpipe;
using namespace duckpipe::test;

namespace {

const char *kSourceDdl = R"(
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);
CREATE DOMAIN price AS numeric(8,2);
CREATE TABLE src (
  id int8 NOT NULL, k2 text NOT NULL, b bool, i2 int2, i4 int4, f4 float4, f8 float8, n122 numeric(12,2),
  nu numeric, n50 numeric(50,10), t text, vc varchar(5), ch char(3), byt bytea, d date, tm time, ttz timetz,
  ts timestamp, tstz timestamptz, iv interval, u uuid, j json, jb jsonb, ai int4[], atx text[], aa int4[][],
  e mood, dom posint, pr price, m money, ip inet, mac macaddr, x xml, bt bit(3), tv tsvector, o oid,
  an numeric[], ab bytea[], PRIMARY KEY (k2, id));
INSERT INTO src VALUES
 (1, 'a', true, -32768, -2147483648, 'NaN', 'Infinity', 1234567890.12, 0.000000000000000000000000000001,
  12345678901234567890123456789012345678.1234567891, E'tab\there\nnew "q" \\ ü', 'abc', 'ab', '\x00ff', 'infinity',
  '24:00:00', '12:30:00+05:30', 'infinity', '2024-01-01 12:00:00+05:30', '-1 day 00:00:00.001',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2]}', '{"b": 1, "a": 2}', '{1,NULL,3}',
  '{"a,b",NULL,"NULL","x\"y",""}', '{{1,2},{3,4}}', 'happy', 7, 12.5, 1234.56, '10.0.0.1/8', '08:00:2b:01:02:03',
  '<a>x</a>', B'101', 'fat cat', 4000000000, '{1.5,NaN}', '{"\\x01",NULL}'),
 (2, 'b', false, 32767, 2147483647, '-Infinity', 'NaN', -0.01, -5, NULL, '', NULL, NULL, '\x', '-infinity',
  '00:00:00.000001', NULL, '2000-01-01 00:00:00 BC', '-infinity', '1 year 2 mons', NULL, 'null', '[]', '{}',
  '{}', NULL, 'sad', 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, '{}', '{}'),
 (3, 'c', NULL, NULL, NULL, NULL, 0.1, 'NaN', 'NaN', NULL, NULL, NULL, NULL, NULL, '0044-03-15 BC', NULL, NULL,
  '2024-02-29 23:59:59.999999', '1999-12-31 23:59:59.5-08', NULL, NULL, NULL, NULL, '[0:1]={5,6}', '{NULL}', NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 'd', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
)";

struct Synced {
	TestLake lake;
	PgTableDescription desc;
	std::vector<lake::LakeTypeMapping> mappings;

	Synced() : lake("types") {
		PgRows(lake.Conninfo(), kSourceDdl);
		PgConnection conn(lake.Conninfo());
		desc = DescribeTable(conn, "public.src");
		lake::LakeWriter writer(lake.config);
		Staging staging;
		lake::RegisterPgTextFunctions(*staging.duck);
		// Text values as PostgreSQL's output functions print them (what COPY and pgoutput carry).
		std::string cols, casts, values;
		std::vector<lake::LakeColumn> lake_cols;
		for (size_t i = 0; i < desc.columns.size(); i++) {
			const auto &c = desc.columns[i];
			mappings.push_back(lake::MapPgType(c.type));
			lake_cols.push_back(lake::ToLakeColumn(c.name, mappings.back(), c.not_null));
			cols += (i ? ", " : "") + conn.QuoteIdent(c.name); // text result format = the output function
			casts += (i ? ", " : "") + lake::TextToDuckExpression(mappings.back(), "c" + std::to_string(i)) + " AS " +
			         DuckConnection::QuoteIdent(c.name);
		}
		auto r = conn.Exec("SELECT " + cols + " FROM src ORDER BY id");
		std::string names;
		for (size_t i = 0; i < desc.columns.size(); i++) {
			names += (i ? ", " : "") + std::string("c") + std::to_string(i) + " VARCHAR";
		}
		staging.duck->Execute("CREATE TABLE staged(" + names + ")");
		for (int row = 0; row < r.Rows(); row++) {
			std::string vals;
			for (int c = 0; c < r.Columns(); c++) {
				vals += (c ? ", " : "") +
				        (r.IsNull(row, c) ? std::string("NULL") : DuckConnection::QuoteLiteral(r.Get(row, c)));
			}
			staging.duck->Execute("INSERT INTO staged VALUES (" + vals + ")");
		}
		auto commit = writer.Begin();
		auto h = commit.CreateTable("main", "src", lake_cols);
		commit.Commit();
		auto k = writer.Begin();
		EXPECT_EQ(k.Insert(commit.ResolveId(h), *staging.duck, "SELECT " + casts + " FROM staged"), 4);
		k.Commit();
	}
	std::string Type(const std::string &column) {
		for (size_t i = 0; i < desc.columns.size(); i++) {
			if (desc.columns[i].name == column) {
				return mappings[i].lake_type +
				       (mappings[i].children.empty() ? "" : "<" + mappings[i].children[0].lake_type + ">");
			}
		}
		return "?";
	}
	Rows Col(const std::string &expr) {
		return LakeRows(lake.Conninfo(), "SELECT " + expr + " FROM main.src ORDER BY id");
	}
};

Synced &Shared() {
	static Synced synced;
	return synced;
}

} // namespace

TEST(TypeMapping, DescribeTableFindsKeysAndResolvesDomains) {
	auto &s = Shared();
	EXPECT_EQ(s.desc.schema, "public");
	EXPECT_EQ(s.desc.name, "src");
	EXPECT_EQ(s.desc.KeyColumns(), (std::vector<std::string>{"k2", "id"}));
	EXPECT_TRUE(s.desc.columns[0].not_null);
	EXPECT_EQ(s.desc.columns[0].key_position, 2);
	PgConnection conn(s.lake.Conninfo());
	EXPECT_EQ(DescribeTable(conn, std::to_string(s.desc.oid)).name, "src");
	EXPECT_THROW(DescribeTable(conn, "public.nope"), Error);
}

TEST(TypeMapping, LakeTypes) {
	auto &s = Shared();
	const std::vector<std::pair<std::string, std::string>> expected = {{"b", "boolean"},
	                                                                   {"i2", "int16"},
	                                                                   {"i4", "int32"},
	                                                                   {"id", "int64"},
	                                                                   {"f4", "float32"},
	                                                                   {"f8", "float64"},
	                                                                   {"n122", "decimal(12,2)"},
	                                                                   {"nu", "varchar"},
	                                                                   {"n50", "varchar"},
	                                                                   {"t", "varchar"},
	                                                                   {"vc", "varchar"},
	                                                                   {"ch", "varchar"},
	                                                                   {"byt", "blob"},
	                                                                   {"d", "date"},
	                                                                   {"tm", "time"},
	                                                                   {"ttz", "varchar"},
	                                                                   {"ts", "timestamp"},
	                                                                   {"tstz", "timestamptz"},
	                                                                   {"iv", "varchar"},
	                                                                   {"u", "uuid"},
	                                                                   {"j", "json"},
	                                                                   {"jb", "json"},
	                                                                   {"ai", "list<int32>"},
	                                                                   {"atx", "list<varchar>"},
	                                                                   {"aa", "varchar"},
	                                                                   {"e", "varchar"},
	                                                                   {"dom", "int32"},
	                                                                   {"pr", "decimal(8,2)"},
	                                                                   {"m", "varchar"},
	                                                                   {"ip", "varchar"},
	                                                                   {"mac", "varchar"},
	                                                                   {"x", "varchar"},
	                                                                   {"bt", "varchar"},
	                                                                   {"tv", "varchar"},
	                                                                   {"o", "int64"},
	                                                                   {"an", "list<varchar>"},
	                                                                   {"ab", "list<blob>"}};
	for (const auto &[col, type] : expected) {
		EXPECT_EQ(s.Type(col), type) << col;
	}
}

TEST(TypeMapping, NumbersRoundTrip) {
	auto &s = Shared();
	EXPECT_EQ(s.Col("b, i2, i4, o"), (Rows{"true|-32768|-2147483648|4000000000", "false|32767|2147483647|0",
	                                       "NULL|NULL|NULL|NULL", "NULL|NULL|NULL|NULL"}));
	EXPECT_EQ(s.Col("f4, f8"), (Rows{"nan|inf", "-inf|nan", "NULL|0.1", "NULL|NULL"}));
	// numeric(p,s) NaN has no decimal form: NULL. Unconstrained numeric keeps PostgreSQL's exact text.
	EXPECT_EQ(s.Col("n122, nu, n50"),
	          (Rows{"1234567890.12|0.000000000000000000000000000001|12345678901234567890123456789012345678.1234567891",
	                "-0.01|-5|NULL", "NULL|NaN|NULL", "NULL|NULL|NULL"}));
	EXPECT_EQ(s.Col("dom, pr, m"), (Rows{"7|12.50|$1,234.56", "1|NULL|NULL", "NULL|NULL|NULL", "NULL|NULL|NULL"}));
}

TEST(TypeMapping, TextAndBinaryRoundTrip) {
	auto &s = Shared();
	EXPECT_EQ(s.Col("t = 'tab' || chr(9) || 'here' || chr(10) || 'new \"q\" \\ ü', vc, ch, byt, octet_length(byt)"),
	          (Rows{"true|abc|ab |\\x00\\xFF|2", "false|NULL|NULL||0", "NULL|NULL|NULL|NULL|NULL",
	                "NULL|NULL|NULL|NULL|NULL"}));
	EXPECT_EQ(s.Col("u, j, jb, e"),
	          (Rows{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11|{\"a\": [1, 2]}|{\"a\": 2, \"b\": 1}|happy",
	                "NULL|null|[]|sad", "NULL|NULL|NULL|NULL", "NULL|NULL|NULL|NULL"}));
	EXPECT_EQ(s.Col("ip, mac, x, bt, tv"),
	          (Rows{"10.0.0.1/8|08:00:2b:01:02:03|<a>x</a>|101|'cat' 'fat'", "NULL|NULL|NULL|NULL|NULL",
	                "NULL|NULL|NULL|NULL|NULL", "NULL|NULL|NULL|NULL|NULL"}));
}

TEST(TypeMapping, TemporalRoundTrip) {
	auto &s = Shared();
	EXPECT_EQ(s.Col("d, tm, ttz"), (Rows{"infinity|24:00:00|12:30:00+05:30", "-infinity|00:00:00.000001|NULL",
	                                     "0044-03-15 (BC)|NULL|NULL", "NULL|NULL|NULL"}));
	EXPECT_EQ(s.Col("ts, tstz::VARCHAR"), (Rows{"infinity|2024-01-01 06:30:00+00", "2000-01-01 (BC) 00:00:00|-infinity",
	                                            "2024-02-29 23:59:59.999999|2000-01-01 07:59:59.5+00", "NULL|NULL"}));
	// Interval stays PostgreSQL text: Parquet cannot hold negative or sub-millisecond intervals.
	EXPECT_EQ(s.Col("iv"), (Rows{"-1 days +00:00:00.001", "1 year 2 mons", "NULL", "NULL"}));
}

TEST(TypeMapping, ArraysRoundTrip) {
	auto &s = Shared();
	EXPECT_EQ(s.Col("ai, atx, len(atx)"), (Rows{"[1, NULL, 3]|['a,b', NULL, 'NULL', 'x\"y', '']|5", "[]|[]|0",
	                                            "[5, 6]|[NULL]|1", "NULL|NULL|NULL"}));
	EXPECT_EQ(s.Col("aa, an, ab"),
	          (Rows{"{{1,2},{3,4}}|[1.5, NaN]|[\\x01, NULL]", "NULL|[]|[]", "NULL|NULL|NULL", "NULL|NULL|NULL"}));
}

// Array conversions are plain SQL: the change buffer's DuckDB (which registers nothing) runs them too.
TEST(TypeMapping, ArrayExpressionNeedsNoRegisteredFunction) {
	Staging staging;
	PgColumnType ints{
	    .oid = 1007, .name = "_int4", .typcategory = 'A', .ndims = 1, .elem_oid = 23, .elem_name = "int4"};
	PgColumnType texts{
	    .oid = 1009, .name = "_text", .typcategory = 'A', .ndims = 1, .elem_oid = 25, .elem_name = "text"};
	auto int_expr = lake::TextToDuckExpression(lake::MapPgType(ints), "x", "cells");
	auto text_expr = lake::TextToDuckExpression(lake::MapPgType(texts), "x", "cells");
	EXPECT_EQ(DuckRows(*staging.duck, "SELECT CAST(" + int_expr +
	                                      " AS VARCHAR) FROM (VALUES (1, '{1,NULL,3}'), (2, '[0:1]={5,6}'), (3, '{}'), "
	                                      "(4, NULL)) t(id, x) ORDER BY id"),
	          (Rows{"[1, NULL, 3]", "[5, 6]", "[]", "NULL"}));
	EXPECT_EQ(DuckRows(*staging.duck, "SELECT CAST(" + text_expr + " AS VARCHAR), len(l) FROM (SELECT x, " + text_expr +
	                                      " AS l FROM (VALUES ('{a,\"b\\\\c\",NULL,\"NULL\",\" x \",\"\",\"{,}\"}')) "
	                                      "t(x))"),
	          (Rows{"[a, b\\c, NULL, 'NULL', ' x ', '', '{,}']|7"}));
	try {
		staging.duck->Query("SELECT " + int_expr + " FROM (VALUES ('{{1,2},{3,4}}')) t(x)");
		ADD_FAILURE() << "a multi-dimensional value must not convert to a list";
	} catch (const Error &e) {
		std::string msg = e.what();
		EXPECT_NE(msg.find("column \"cells\" holds a multi-dimensional array value '{{1,2},{3,4}}'"), std::string::npos)
		    << msg;
		EXPECT_NE(msg.find("TYPE <element type>[][]"), std::string::npos) << msg;
	}
}

TEST(TypeMapping, ArrayParserRejectsMultiDimensionalValuesInAListColumn) {
	Staging staging;
	lake::RegisterPgTextFunctions(*staging.duck);
	lake::RegisterPgTextFunctions(*staging.duck); // idempotent
	EXPECT_EQ(DuckRows(*staging.duck, "SELECT duckpipe_pg_array('{a,\"b\\\\c\",NULL,null}')"),
	          (Rows{"[a, b\\c, NULL, NULL]"}));
	EXPECT_THROW(staging.duck->Query("SELECT duckpipe_pg_array('{{1,2},{3,4}}')"), Error);
	EXPECT_THROW(staging.duck->Query("SELECT duckpipe_pg_array('1,2')"), Error);
}
