#include "core/common/error.hpp"
#include "harness/lake_text.hpp"
#include "harness/pg_cluster.hpp"

#include <gtest/gtest.h>

#include <filesystem>

using namespace duckpipe;
using namespace duckpipe::test;
using lake::SnapshotSelector;

// Catalog features the golden lake lacks, added to a copy of it by hand: struct/map/JSON[] columns
// matched by nested names, a merged data file whose rows carry _ducklake_internal_snapshot_id, an
// absolute file path, and a schema of its own with a quoted name.
TEST(LakeReaderNested, StructsMapsAndMergedFiles) {
	auto &cluster = PgCluster::Shared();
	GoldenLake golden(cluster);
	const std::string dir = golden.DataPath() + "elsewhere/";
	std::filesystem::create_directories(dir);
	const std::string file = dir + "merged.parquet";
	{
		DuckDatabase db;
		auto duck = db.Connect();
		duck->Execute("COPY (SELECT * FROM (VALUES "
		              "(1::BIGINT, {'a': 1, 'b': 'x'}::STRUCT(a INTEGER, b VARCHAR), MAP {'k': 1}::MAP(VARCHAR, "
		              "INTEGER), ['{\"x\": 1}']::JSON[], 7::BIGINT), "
		              "(2, NULL, MAP {'q': 2, 'r': 3}, [], 19)) t(id, s, m, js, _ducklake_internal_snapshot_id)) "
		              "TO " +
		              DuckConnection::QuoteLiteral(file) +
		              " (FORMAT parquet, FIELD_IDS {id: 1, s: {__duckdb_field_id: 2, a: 3, b: 4}, "
		              "m: {__duckdb_field_id: 5, key: 6, value: 7}, js: {__duckdb_field_id: 8, element: 9}, "
		              "_ducklake_internal_snapshot_id: 2147483539})");
	}
	auto size = std::to_string(std::filesystem::file_size(file));
	cluster.Psql(golden.Database(),
	             R"SQL(
SET search_path = ducklake;
INSERT INTO ducklake_snapshot VALUES (18, now(), 10, 7, 10), (19, now(), 10, 7, 10);
INSERT INTO ducklake_schema VALUES (5, gen_random_uuid(), 18, NULL, 'Odd "S"', 'odd/', true);
INSERT INTO ducklake_table VALUES (6, gen_random_uuid(), 18, NULL, 5, 'Nested T', 'nested/', true);
INSERT INTO ducklake_column (column_id, begin_snapshot, end_snapshot, table_id, column_order, column_name,
  column_type, initial_default, default_value, nulls_allowed, parent_column) VALUES
  (1, 18, NULL, 6, 1, 'id', 'int64', NULL, NULL, true, NULL),
  (2, 18, NULL, 6, 2, 's', 'struct', NULL, NULL, true, NULL),
  (3, 18, NULL, 6, 3, 'a', 'int32', NULL, NULL, true, 2),
  (4, 18, NULL, 6, 4, 'b', 'varchar', NULL, NULL, true, 2),
  (5, 18, NULL, 6, 5, 'm', 'map', NULL, NULL, true, NULL),
  (6, 18, NULL, 6, 6, 'key', 'varchar', NULL, NULL, true, 5),
  (7, 18, NULL, 6, 7, 'value', 'int64', NULL, NULL, true, 5),
  (8, 18, NULL, 6, 8, 'js', 'list', NULL, NULL, true, NULL),
  (9, 18, NULL, 6, 9, 'element', 'json', NULL, NULL, true, 8),
  (10, 18, NULL, 6, 10, 'extra', 'int32', '42', '42', true, NULL);
)SQL" +
	                 std::string("INSERT INTO ducklake.ducklake_data_file (data_file_id, table_id, begin_snapshot, "
	                             "end_snapshot, path, path_is_relative, file_format, record_count, "
	                             "file_size_bytes, row_id_start, partial_max) VALUES (9, 6, 7, NULL, '") +
	                 file + "', false, 'parquet', 2, " + size + ", 0, 19);");

	AttachedLake at18(golden.Conninfo(), SnapshotSelector::Id(18));
	const auto *table = at18.state.FindTable("Odd \"S\"", "Nested T");
	ASSERT_NE(table, nullptr);
	ASSERT_EQ(table->files.size(), 1u);
	EXPECT_EQ(table->files[0].full_path, file);
	EXPECT_EQ(lake::LakeReader::DuckType(table->columns[1]), "STRUCT(\"a\" INTEGER, \"b\" VARCHAR)");
	EXPECT_EQ(lake::LakeReader::DuckType(table->columns[2]), "MAP(VARCHAR, BIGINT)");
	EXPECT_EQ(lake::LakeReader::DuckType(table->columns[3]), "JSON[]");

	// At 18 the merged file's second row (snapshot 19) does not exist yet.
	const std::string sql = "SELECT id, s.a AS a, s.b AS b, m['k'] AS k, cardinality(m) AS mn, js[1]->>'x' AS x, "
	                        "len(js) AS jn, extra FROM \"Odd \"\"S\"\"\".\"Nested T\" ORDER BY id";
	EXPECT_EQ(QueryAsText(*at18.duck, sql),
	          (Table{{"id", "a", "b", "k", "mn", "x", "jn", "extra"}, {"1", "1", "x", "1", "1", "1", "1", "42"}}));
	AttachedLake at19(golden.Conninfo(), SnapshotSelector::Latest());
	EXPECT_EQ(QueryAsText(*at19.duck, sql), (Table{{"id", "a", "b", "k", "mn", "x", "jn", "extra"},
	                                               {"1", "1", "x", "1", "1", "1", "1", "42"},
	                                               {"2", "NULL", "NULL", "NULL", "2", "NULL", "0", "42"}}));
	auto types = QueryAsText(*at19.duck, "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = "
	                                     "'Nested T' ORDER BY column_index");
	EXPECT_EQ(types, (Table{{"column_name", "data_type"},
	                        {"id", "BIGINT"},
	                        {"s", "STRUCT(a INTEGER, b VARCHAR)"},
	                        {"m", "MAP(VARCHAR, BIGINT)"},
	                        {"js", "JSON[]"},
	                        {"extra", "INTEGER"}}));
	// The golden tables are still there, unchanged.
	EXPECT_EQ(QueryAsText(*at19.duck, "SELECT count(*) AS n FROM public.orders"), (Table{{"n"}, {"1000"}}));
}
