// Replays the golden lake's "How it was made" steps with our writer and compares the catalog rows
// with the reference's (ids, counters, changes, columns, stats), ignoring uuids, times, names, sizes.
#include "core/lake/lake_writer.hpp"
#include "harness/golden_lake.hpp"
#include "writer_fixture.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

using namespace duckpipe;
using namespace duckpipe::test;
using lake::LakeColumn;

namespace {

const char *kAllTypesRows = R"(
SELECT * FROM (VALUES
 (1, 1, 1, true, 'one', '1.5', '0.1', '0.25', '2024-01-01', '12:34:56.789', '2024-01-01 10:00:00.123456',
  '2024-01-01 10:00:00+00', INTERVAL '1 day 2 hours', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"k": [1, 2]}',
  '\xDE\xAD'::BLOB, [1, NULL, 3]::INTEGER[], ['a', NULL]::VARCHAR[]),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (3, -2147483648, -32768, false, 'quote '' and , and "', '-999999999999999.999', 'nan', 'inf', '0001-01-01',
  '00:00:00', 'infinity', '-infinity', INTERVAL '3 months', '00000000-0000-0000-0000-000000000000', '[]',
  ''::BLOB, []::INTEGER[], []::VARCHAR[]),
 (4, 2147483647, 32767, true, 'ünïcødé ✓', '999999999999999.999', '-inf', '0.0', '9999-12-31', '23:59:59.999999',
  '1970-01-01 00:00:00', '2038-01-19 03:14:07.5+00', INTERVAL '1 day', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
  'null', '\x00'::BLOB, [NULL]::INTEGER[], ['']::VARCHAR[])
) t(id, i, s, b, t, n, f8, f4, d, tm, ts, tz, iv, u, j, bl, ai, av))";

int64_t CommitOne(lake::LakeWriter &writer, const std::function<void(lake::LakeCommit &)> &fn) {
	auto commit = writer.Begin();
	fn(commit);
	return commit.Commit();
}

void Replay(lake::LakeWriter &writer, DuckConnection &duck) {
	EXPECT_EQ(CommitOne(writer, [](auto &c) { c.CreateSchema("public"); }), 1);
	int64_t all_types = 0;
	EXPECT_EQ(CommitOne(writer,
	                    [&](auto &c) {
		                    all_types = c.CreateTable(
		                        "public", "all_types",
		                        {Col("id", "int64"), Col("i", "int32"), Col("s", "int16"), Col("b", "boolean"),
		                         Col("t", "varchar"), Col("n", "decimal(18,3)"), Col("f8", "float64"),
		                         Col("f4", "float32"), Col("d", "date"), Col("tm", "time"), Col("ts", "timestamp"),
		                         Col("tz", "timestamptz"), Col("iv", "interval"), Col("u", "uuid"), Col("j", "json"),
		                         Col("bl", "blob"), Col("ai", "list", {Col("element", "int32")}),
		                         Col("av", "list", {Col("element", "varchar")})});
	                    }),
	          2);
	EXPECT_EQ(CommitOne(writer, [&](auto &c) { EXPECT_EQ(c.Insert(2, duck, kAllTypesRows), 4); }), 3);
	EXPECT_EQ(CommitOne(writer,
	                    [](auto &c) {
		                    c.CreateTable("public", "orders",
		                                  {Col("id", "int64"), Col("customer_id", "int64"), Col("total", "int32"),
		                                   Col("note", "varchar")});
	                    }),
	          4);
	const int64_t orders = 3;
	EXPECT_EQ(CommitOne(writer,
	                    [&](auto &c) {
		                    c.Insert(orders, duck,
		                             "SELECT i AS id, i % 10 AS customer_id, (i * 7) % 1000 AS total, 'n' || i AS note "
		                             "FROM range(1, 1001) r(i)");
	                    }),
	          5);
	EXPECT_EQ(CommitOne(writer,
	                    [&](auto &c) {
		                    EXPECT_EQ(
		                        c.DeleteByKey(orders, duck, {"id"}, "SELECT i AS id FROM range(100, 1001, 100) r(i)"),
		                        10);
	                    }),
	          6);
	// UPDATE total = -total WHERE id % 250 = 1: delete + insert of the new versions.
	EXPECT_EQ(CommitOne(writer,
	                    [&](auto &c) {
		                    EXPECT_EQ(
		                        c.DeleteByKey(orders, duck, {"id"}, "SELECT i AS id FROM range(1, 1001, 250) r(i)"), 4);
		                    c.Insert(orders, duck,
		                             "SELECT i AS id, i % 10 AS customer_id, -((i * 7) % 1000) AS total, 'n' || i AS "
		                             "note FROM range(1, 1001, 250) r(i)");
	                    }),
	          7);
	EXPECT_EQ(CommitOne(writer, [&](auto &c) { c.DeleteByKey(orders, duck, {"id"}, "SELECT 5 AS id"); }), 8);
	EXPECT_EQ(
	    CommitOne(writer,
	              [&](auto &c) {
		              c.Insert(
		                  orders, duck,
		                  "SELECT i AS id, 0 AS customer_id, 0 AS total, NULL AS note FROM range(2000, 2010) r(i)");
	              }),
	    9);
	EXPECT_EQ(CommitOne(writer,
	                    [&](auto &c) {
		                    auto status = Col("status", "varchar");
		                    status.initial_default = "new";
		                    status.default_value = "new";
		                    EXPECT_EQ(c.AddColumn(orders, status), 5);
	                    }),
	          10);
	EXPECT_EQ(CommitOne(writer, [&](auto &c) { c.RenameColumn(orders, "note", "comment"); }), 11);
	EXPECT_EQ(CommitOne(writer, [&](auto &c) { c.DropColumn(orders, "customer_id"); }), 12);
	EXPECT_EQ(CommitOne(writer, [&](auto &c) { c.WidenColumnType(orders, "total", "int64"); }), 13);
	EXPECT_EQ(CommitOne(writer,
	                    [&](auto &c) {
		                    c.Insert(orders, duck,
		                             "SELECT 3000 AS id, 5 AS total, 'c' AS comment, 'shipped' AS status");
	                    }),
	          14);
	int64_t dropped = 0;
	EXPECT_EQ(CommitOne(writer, [&](auto &c) { dropped = c.CreateTable("public", "dropped", {Col("a", "int32")}); }),
	          15);
	EXPECT_EQ(CommitOne(writer, [&](auto &c) { c.Insert(4, duck, "SELECT 1 AS a"); }), 16);
	EXPECT_EQ(CommitOne(writer, [&](auto &c) { c.DropTable(4); }), 17);
	(void)all_types;
	(void)dropped;
}

void ExpectSame(const std::string &what, const std::string &golden, const std::string &ours, const std::string &sql) {
	auto expected = PgRows(golden, sql);
	auto actual = PgRows(ours, sql);
	EXPECT_EQ(Join(expected), Join(actual)) << what << "\n" << sql;
}

} // namespace

class GoldenReplay : public ::testing::Test {
protected:
	static void SetUpTestSuite() {
		golden_ = new GoldenLake(PgCluster::Shared());
		lake_ = new TestLake("replay");
		writer_ = new lake::LakeWriter(lake_->config);
		staging_ = new Staging();
		Replay(*writer_, *staging_->duck);
	}
	static void TearDownTestSuite() {
		delete staging_;
		delete writer_;
		delete lake_;
		delete golden_;
	}
	void Same(const std::string &what, const std::string &sql) {
		ExpectSame(what, golden_->Conninfo(), lake_->Conninfo(), sql);
	}
	static GoldenLake *golden_;
	static TestLake *lake_;
	static lake::LakeWriter *writer_;
	static Staging *staging_;
};

GoldenLake *GoldenReplay::golden_ = nullptr;
TestLake *GoldenReplay::lake_ = nullptr;
lake::LakeWriter *GoldenReplay::writer_ = nullptr;
Staging *GoldenReplay::staging_ = nullptr;

TEST_F(GoldenReplay, SnapshotsAndCounters) {
	Same("snapshots", "SELECT snapshot_id, schema_version, next_catalog_id, next_file_id FROM "
	                  "ducklake.ducklake_snapshot ORDER BY 1");
	Same("changes", "SELECT snapshot_id, changes_made, author, commit_message, commit_extra_info FROM "
	                "ducklake.ducklake_snapshot_changes ORDER BY 1");
	Same("schema_versions", "SELECT * FROM ducklake.ducklake_schema_versions ORDER BY begin_snapshot, table_id");
}

TEST_F(GoldenReplay, SchemasTablesColumns) {
	Same("schemas", "SELECT schema_id, schema_uuid IS NOT NULL, begin_snapshot, end_snapshot, schema_name, path, "
	                "path_is_relative FROM ducklake.ducklake_schema ORDER BY 1");
	Same("tables", "SELECT table_id, table_uuid IS NOT NULL, begin_snapshot, end_snapshot, schema_id, table_name, "
	               "path, path_is_relative FROM ducklake.ducklake_table ORDER BY table_id, begin_snapshot");
	Same("columns", "SELECT * FROM ducklake.ducklake_column ORDER BY table_id, column_id, begin_snapshot");
}

TEST_F(GoldenReplay, DataFiles) {
	Same("data files",
	     "SELECT data_file_id, table_id, begin_snapshot, end_snapshot, file_order, path_is_relative, "
	     "file_format, record_count, row_id_start, partition_id, encryption_key, mapping_id, partial_max, "
	     "path ~ '^ducklake-[0-9a-f-]{36}\\.parquet$', footer_size > 0 AND footer_size < "
	     "file_size_bytes FROM ducklake.ducklake_data_file ORDER BY 1");
	// File sizes are exact: they match the files on disk.
	auto rows = PgRows(lake_->Conninfo(),
	                   "SELECT s.path || t.path || f.path, f.file_size_bytes FROM ducklake.ducklake_data_file f JOIN "
	                   "ducklake.ducklake_table t USING (table_id) JOIN ducklake.ducklake_schema s USING (schema_id) "
	                   "WHERE t.end_snapshot IS NULL OR t.table_id = 4 GROUP BY 1, 2");
	ASSERT_EQ(rows.size(), 6u);
	for (const auto &r : rows) {
		auto bar = r.find('|');
		auto path = lake_->config.data_path + r.substr(0, bar);
		EXPECT_EQ(std::to_string(std::filesystem::file_size(path)), r.substr(bar + 1)) << path;
	}
}

TEST_F(GoldenReplay, DeleteFiles) {
	// The reference merged three deletes into one partial file (form B); we write form A: the live
	// delete file holds the union, earlier ones are ended. The visible state is the same.
	Same("live delete file", "SELECT delete_file_id, table_id, data_file_id, path_is_relative, format, delete_count, "
	                         "footer_size > 0, encryption_key FROM ducklake.ducklake_delete_file WHERE end_snapshot IS "
	                         "NULL ORDER BY 1");
	EXPECT_EQ(PgRows(lake_->Conninfo(), "SELECT delete_file_id, begin_snapshot, end_snapshot, data_file_id, "
	                                    "delete_count, partial_max FROM ducklake.ducklake_delete_file ORDER BY 1"),
	          (Rows{"2|6|7|1|10|NULL", "4|7|8|1|14|NULL", "5|8|NULL|1|15|NULL"}));
}

TEST_F(GoldenReplay, FileColumnStats) {
	// The interval column (table 2, column 13): the reference records no stats for it.
	Same("file column stats",
	     "SELECT data_file_id, table_id, column_id, value_count, null_count, min_value, "
	     "max_value, contains_nan, extra_stats, column_size_bytes > 0 FROM "
	     "ducklake.ducklake_file_column_stats WHERE NOT (table_id = 2 AND column_id = 13) ORDER BY "
	     "1, 3");
}

TEST_F(GoldenReplay, TableStats) {
	Same("table stats", "SELECT table_id, record_count, next_row_id FROM ducklake.ducklake_table_stats ORDER BY 1");
	Same("table column stats", "SELECT table_id, column_id, contains_null, contains_nan, min_value, max_value, "
	                           "extra_stats FROM ducklake.ducklake_table_column_stats WHERE NOT (table_id = 2 AND "
	                           "column_id = 13) ORDER BY 1, 2");
}

TEST_F(GoldenReplay, ReadsBackAsTheReference) {
	auto expected = GoldenLake::Expected("orders.csv");
	std::string actual = "id,total,comment,status\n";
	for (const auto &r : LakeRows(lake_->Conninfo(), "SELECT * FROM public.orders ORDER BY id")) {
		std::string line = r;
		std::replace(line.begin(), line.end(), '|', ',');
		actual += line + "\n";
	}
	EXPECT_EQ(expected, actual);
	EXPECT_EQ(Join(LakeRows(lake_->Conninfo(),
	                        "SELECT id, i, n, f8, f4, d, ts, tz, u, bl, ai, av FROM public.all_types ORDER BY id")),
	          "1|1|1.500|0.1|0.25|2024-01-01|2024-01-01 10:00:00.123456|2024-01-01 10:00:00+00|"
	          "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11|\\xDE\\xAD|[1, NULL, 3]|[a, NULL]\n"
	          "2|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL\n"
	          "3|-2147483648|-999999999999999.999|nan|inf|0001-01-01|infinity|-infinity|"
	          "00000000-0000-0000-0000-000000000000||[]|[]\n"
	          "4|2147483647|999999999999999.999|-inf|0.0|9999-12-31|1970-01-01 00:00:00|2038-01-19 03:14:07.5+00|"
	          "ffffffff-ffff-ffff-ffff-ffffffffffff|\\x00|[NULL]|['']\n");
}

TEST_F(GoldenReplay, TimeTravelMatchesTheReferenceAtEverySnapshot) {
	for (int snapshot : {5, 6, 7, 8, 9, 10, 11, 12, 13}) {
		auto expected = GoldenLake::Expected("orders_at_snapshot_" + std::to_string(snapshot) + ".csv");
		auto header = expected.substr(0, expected.find('\n') + 1);
		std::string actual = header;
		for (const auto &r : LakeRowsAt(lake_->Conninfo(), snapshot, "SELECT * FROM public.orders ORDER BY id")) {
			std::string line = r;
			std::replace(line.begin(), line.end(), '|', ',');
			actual += line + "\n";
		}
		EXPECT_EQ(expected, actual) << "snapshot " << snapshot;
	}
}
