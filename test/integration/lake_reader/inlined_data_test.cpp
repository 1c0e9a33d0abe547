#include "harness/build_paths.hpp"
#include "harness/lake_text.hpp"
#include "harness/pg_cluster.hpp"
#include "harness/process.hpp"

#include <gtest/gtest.h>

#include <filesystem>

using namespace duckpipe;
using namespace duckpipe::test;
using lake::SnapshotSelector;

// Inlined data written as the reference writes it (digest section 7), added by hand to a copy of
// the golden lake: a table with one Parquet file, rows inlined into ducklake_inlined_data_5_10
// (strings as BYTEA), an inlined row deleted by end_snapshot, a file row deleted inline in
// ducklake_inlined_delete_5, then a rename and ADD COLUMN with a new inlined table for the new
// schema version.
TEST(LakeReaderInlined, InlinedRowsWithFilesDeletesAndTimeTravel) {
	auto &cluster = PgCluster::Shared();
	GoldenLake golden(cluster);
	const std::string dir = golden.DataPath() + "public/inl/";
	std::filesystem::create_directories(dir);
	const std::string file = dir + "ducklake-file.parquet";
	{
		DuckDatabase db;
		auto duck = db.Connect();
		duck->Execute("COPY (SELECT * FROM (VALUES (10::BIGINT, 'ten'::VARCHAR, TIMESTAMPTZ '2024-01-01 "
		              "00:00:00+00', 10.50::DECIMAL(10,2)), (11, 'eleven', NULL, 11.00), (12, 'twelve', "
		              "TIMESTAMPTZ '2024-01-03 12:00:00+00', NULL)) t(id, name, ts, amount)) TO " +
		              DuckConnection::QuoteLiteral(file) +
		              " (FORMAT parquet, FIELD_IDS {id: 1, name: 2, ts: 3, amount: 4})");
	}
	auto size = std::to_string(std::filesystem::file_size(file));
	cluster.Psql(golden.Database(),
	             R"SQL(
SET search_path = ducklake;
INSERT INTO ducklake_snapshot VALUES (18, now(), 10, 6, 10), (19, now(), 10, 6, 11), (20, now(), 10, 6, 12),
  (21, now(), 11, 6, 13);
INSERT INTO ducklake_snapshot_changes VALUES (18, 'created_table:"public"."inl",inserted_into_table:5', NULL, NULL, NULL),
  (19, 'inlined_insert:5', NULL, NULL, NULL), (20, 'inlined_delete:5,deleted_from_table:5', NULL, NULL, NULL),
  (21, 'altered_table:5,inlined_insert:5', NULL, NULL, NULL);
INSERT INTO ducklake_table VALUES (5, gen_random_uuid(), 18, NULL, 1, 'inl', 'inl/', true);
INSERT INTO ducklake_column (column_id, begin_snapshot, end_snapshot, table_id, column_order, column_name,
  column_type, initial_default, default_value, nulls_allowed, parent_column) VALUES
  (1, 18, NULL, 5, 1, 'id', 'int64', NULL, 'NULL', true, NULL),
  (2, 18, 21, 5, 2, 'name', 'varchar', NULL, 'NULL', true, NULL),
  (3, 18, NULL, 5, 3, 'ts', 'timestamptz', NULL, 'NULL', true, NULL),
  (4, 18, NULL, 5, 4, 'amount', 'decimal(10,2)', NULL, 'NULL', true, NULL),
  (2, 21, NULL, 5, 2, 'label', 'varchar', NULL, 'NULL', true, NULL),
  (5, 21, NULL, 5, 5, 'extra', 'int32', NULL, 'NULL', true, NULL);
INSERT INTO ducklake_schema_versions VALUES (18, 10, 5), (21, 11, 5);
INSERT INTO ducklake_inlined_data_tables VALUES (5, 'ducklake_inlined_data_5_10', 10),
  (5, 'ducklake_inlined_data_5_11', 11);
CREATE TABLE ducklake_inlined_data_5_10(row_id BIGINT, begin_snapshot BIGINT, end_snapshot BIGINT, id BIGINT,
  name BYTEA, ts TIMESTAMPTZ, amount NUMERIC(10,2));
INSERT INTO ducklake_inlined_data_5_10 VALUES (3, 19, NULL, 1, convert_to('one ü', 'UTF8'), '2024-02-01 10:00:00+00', 1.25),
  (4, 19, 20, 2, convert_to('two', 'UTF8'), NULL, NULL),
  (5, 19, NULL, 3, NULL, 'infinity', -3.50);
CREATE TABLE ducklake_inlined_delete_5(file_id BIGINT, row_id BIGINT, begin_snapshot BIGINT);
INSERT INTO ducklake_inlined_delete_5 VALUES (10, 1, 20);
CREATE TABLE ducklake_inlined_data_5_11(row_id BIGINT, begin_snapshot BIGINT, end_snapshot BIGINT, id BIGINT,
  label VARCHAR, ts TIMESTAMPTZ, amount NUMERIC(10,2), extra INTEGER);
INSERT INTO ducklake_inlined_data_5_11 VALUES (6, 21, NULL, 7, 'seven', NULL, 7.00, 77);
)SQL" +
	                 std::string("INSERT INTO ducklake.ducklake_data_file (data_file_id, table_id, begin_snapshot, "
	                             "end_snapshot, path, path_is_relative, file_format, record_count, "
	                             "file_size_bytes, row_id_start) VALUES (10, 5, 18, NULL, "
	                             "'ducklake-file.parquet', true, 'parquet', 3, ") +
	                 size + ", 0);");

	const std::string at_old = "SELECT id, name, ts, amount FROM public.inl ORDER BY id";
	AttachedLake at18(golden.Conninfo(), SnapshotSelector::Id(18));
	EXPECT_EQ(QueryAsText(*at18.duck, at_old), (Table{{"id", "name", "ts", "amount"},
	                                                  {"10", "ten", "2024-01-01 00:00:00+00", "10.50"},
	                                                  {"11", "eleven", "NULL", "11.00"},
	                                                  {"12", "twelve", "2024-01-03 12:00:00+00", "NULL"}}));
	AttachedLake at19(golden.Conninfo(), SnapshotSelector::Id(19));
	EXPECT_EQ(QueryAsText(*at19.duck, at_old), (Table{{"id", "name", "ts", "amount"},
	                                                  {"1", "one ü", "2024-02-01 10:00:00+00", "1.25"},
	                                                  {"2", "two", "NULL", "NULL"},
	                                                  {"3", "NULL", "infinity", "-3.50"},
	                                                  {"10", "ten", "2024-01-01 00:00:00+00", "10.50"},
	                                                  {"11", "eleven", "NULL", "11.00"},
	                                                  {"12", "twelve", "2024-01-03 12:00:00+00", "NULL"}}));
	AttachedLake at20(golden.Conninfo(), SnapshotSelector::Id(20));
	EXPECT_EQ(QueryAsText(*at20.duck, at_old), (Table{{"id", "name", "ts", "amount"},
	                                                  {"1", "one ü", "2024-02-01 10:00:00+00", "1.25"},
	                                                  {"3", "NULL", "infinity", "-3.50"},
	                                                  {"10", "ten", "2024-01-01 00:00:00+00", "10.50"},
	                                                  {"12", "twelve", "2024-01-03 12:00:00+00", "NULL"}}));
	EXPECT_EQ(QueryAsText(*at20.duck, "SELECT count(*) AS n, sum(amount) AS s FROM public.inl"),
	          (Table{{"n", "s"}, {"4", "8.25"}}));

	AttachedLake latest(golden.Conninfo(), SnapshotSelector::Latest());
	ASSERT_EQ(latest.state.snapshot.snapshot_id, 21);
	const auto *table = latest.state.FindTable("public", "inl");
	ASSERT_NE(table, nullptr);
	ASSERT_EQ(table->inlined.size(), 2u);
	EXPECT_EQ(table->inlined[0].row_ids, (std::vector<int64_t>{3, 5}));
	EXPECT_EQ(table->inlined[1].row_ids, (std::vector<int64_t>{6}));
	EXPECT_EQ(QueryAsText(*latest.duck, "SELECT id, label, amount, extra FROM public.inl ORDER BY id"),
	          (Table{{"id", "label", "amount", "extra"},
	                 {"1", "one ü", "1.25", "NULL"},
	                 {"3", "NULL", "-3.50", "NULL"},
	                 {"7", "seven", "7.00", "77"},
	                 {"10", "ten", "10.50", "NULL"},
	                 {"12", "twelve", "NULL", "NULL"}}));
	// The golden tables are unaffected.
	EXPECT_EQ(QueryAsText(*latest.duck, "SELECT count(*) AS n FROM public.orders"), (Table{{"n"}, {"1000"}}));

	// `duckpipe query` reads them too, at the latest and an older snapshot.
	auto query = [&](std::vector<std::string> extra) {
		std::vector<std::string> argv{"env",
		                              "-u",
		                              "DUCKPIPE_SOURCE",
		                              "-u",
		                              "DUCKPIPE_LAKE_CATALOG",
		                              "-u",
		                              "DUCKPIPE_LAKE_SCHEMA",
		                              DuckpipeBinary(),
		                              "query",
		                              "SELECT id, amount FROM public.inl ORDER BY id",
		                              "--format",
		                              "csv",
		                              "--lake-catalog",
		                              golden.Conninfo()};
		argv.insert(argv.end(), extra.begin(), extra.end());
		return RunCommand(argv);
	};
	auto r = query({});
	ASSERT_EQ(r.exit_code, 0) << r.output;
	EXPECT_EQ(r.output, "id,amount\n1,1.25\n3,-3.50\n7,7.00\n10,10.50\n12,\n");
	r = query({"--snapshot", "19"});
	ASSERT_EQ(r.exit_code, 0) << r.output;
	EXPECT_EQ(r.output, "id,amount\n1,1.25\n2,\n3,-3.50\n10,10.50\n11,11.00\n12,\n");
}

// Every primitive type a PostgreSQL source maps to, inlined with native PostgreSQL column types
// (and nested values in DuckDB's text form, as the reference stores them), reads back typed.
TEST(LakeReaderInlined, InlinedValuesOfEveryTypeReadTyped) {
	auto &cluster = PgCluster::Shared();
	GoldenLake golden(cluster);
	cluster.Psql(golden.Database(), R"SQL(
SET search_path = ducklake;
INSERT INTO ducklake_snapshot VALUES (18, now(), 10, 6, 10), (19, now(), 10, 6, 11);
INSERT INTO ducklake_snapshot_changes VALUES (18, 'created_table:"public"."typed"', NULL, NULL, NULL),
  (19, 'inlined_insert:5', NULL, NULL, NULL);
INSERT INTO ducklake_table VALUES (5, gen_random_uuid(), 18, NULL, 1, 'typed', 'typed/', true);
INSERT INTO ducklake_column (column_id, begin_snapshot, end_snapshot, table_id, column_order, column_name,
  column_type, initial_default, default_value, nulls_allowed, parent_column) VALUES
  (1, 18, NULL, 5, 1, 'b', 'boolean', NULL, 'NULL', true, NULL),
  (2, 18, NULL, 5, 2, 'i2', 'int16', NULL, 'NULL', true, NULL),
  (3, 18, NULL, 5, 3, 'f4', 'float32', NULL, 'NULL', true, NULL),
  (4, 18, NULL, 5, 4, 'f8', 'float64', NULL, 'NULL', true, NULL),
  (5, 18, NULL, 5, 5, 'd', 'date', NULL, 'NULL', true, NULL),
  (6, 18, NULL, 5, 6, 'ts', 'timestamp', NULL, 'NULL', true, NULL),
  (7, 18, NULL, 5, 7, 't', 'time', NULL, 'NULL', true, NULL),
  (8, 18, NULL, 5, 8, 'iv', 'interval', NULL, 'NULL', true, NULL),
  (9, 18, NULL, 5, 9, 'u', 'uuid', NULL, 'NULL', true, NULL),
  (10, 18, NULL, 5, 10, 'bl', 'blob', NULL, 'NULL', true, NULL),
  (11, 18, NULL, 5, 11, 'j', 'json', NULL, 'NULL', true, NULL),
  (12, 18, NULL, 5, 12, 'l', 'list', NULL, NULL, true, NULL),
  (13, 18, NULL, 5, 13, 'element', 'int32', NULL, 'NULL', true, 12);
INSERT INTO ducklake_inlined_data_tables VALUES (5, 'ducklake_inlined_data_5_10', 10);
CREATE TABLE ducklake_inlined_data_5_10(row_id BIGINT, begin_snapshot BIGINT, end_snapshot BIGINT, b BOOLEAN,
  i2 SMALLINT, f4 REAL, f8 DOUBLE PRECISION, d DATE, ts TIMESTAMP, t TIME, iv INTERVAL, u UUID, bl BYTEA,
  j VARCHAR, l VARCHAR);
INSERT INTO ducklake_inlined_data_5_10 VALUES
  (0, 19, NULL, true, -7, 1.5, 'NaN', '2024-02-29', '2024-02-29 23:59:59.123456', '12:30:01', '1 year 2 mons 3 days 04:05:06.5',
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\x00ff41', '{"a": [1, 2]}', '[1, NULL, 3]'),
  (1, 19, NULL, false, 32767, '-Infinity', 2.25, 'infinity', '-infinity', '00:00:00', '-2 days -00:00:01',
   NULL, '', '"x"', '[]'),
  (2, 19, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
)SQL");
	AttachedLake lake(golden.Conninfo(), SnapshotSelector::Latest());
	EXPECT_EQ(QueryAsText(*lake.duck,
	                      "SELECT b, i2, f4, f8, d, ts, t, iv, u, bl, j->>'a' AS ja, l, typeof(l) AS lt FROM "
	                      "public.typed ORDER BY i2 NULLS LAST"),
	          (Table{{"b", "i2", "f4", "f8", "d", "ts", "t", "iv", "u", "bl", "ja", "l", "lt"},
	                 {"true", "-7", "1.5", "nan", "2024-02-29", "2024-02-29 23:59:59.123456", "12:30:01",
	                  "1 year 2 months 3 days 04:05:06.5", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "\\x00\\xFFA",
	                  "[1,2]", "[1, NULL, 3]", "INTEGER[]"},
	                 {"false", "32767", "-inf", "2.25", "infinity", "-infinity", "00:00:00", "-2 days -00:00:01",
	                  "NULL", "", "NULL", "[]", "INTEGER[]"},
	                 {"NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
	                  "INTEGER[]"}}));
}
