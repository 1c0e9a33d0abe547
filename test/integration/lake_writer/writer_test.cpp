#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/lake/lake_writer.hpp"
#include "core/lake/write/commit_applier.hpp"
#include "core/lake/write/key_index.hpp"
#include "harness/golden_lake.hpp"
#include "writer_fixture.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

using namespace duckpipe;
using namespace duckpipe::test;
using lake::LakeColumn;

namespace {

// A lake with main.t(id int64, v varchar) and the ids [from, to) inserted in one file per call.
struct Fixture {
	TestLake lake;
	lake::LakeWriter writer;
	Staging staging;
	int64_t table = 0;

	explicit Fixture(const std::string &prefix) : lake(prefix), writer(lake.config) {
		auto c = writer.Begin();
		auto h = c.CreateTable("main", "t", {Col("id", "int64"), Col("v", "varchar")});
		c.Commit();
		table = c.ResolveId(h);
	}
	int64_t Insert(int64_t from, int64_t to) {
		auto c = writer.Begin();
		c.Insert(table, *staging.duck,
		         "SELECT i AS id, 'v' || i AS v FROM range(" + std::to_string(from) + ", " + std::to_string(to) +
		             ") r(i)");
		return c.Commit();
	}
	int64_t Delete(const std::string &keys_sql) {
		auto c = writer.Begin();
		c.DeleteByKey(table, *staging.duck, {"id"}, keys_sql);
		return c.Commit();
	}
	Rows Read(const std::string &sql) { return LakeRows(lake.Conninfo(), sql); }
	Rows Pg(const std::string &sql) { return PgRows(lake.Conninfo(), sql); }
	std::string TableDir() { return lake.config.data_path + "main/t/"; }
};

// Every catalog row, for "the catalog is unchanged" checks.
std::string CatalogDump(const std::string &conninfo) {
	PgConnection conn(conninfo);
	std::string sql;
	for (const auto &t : lake::CatalogSchema::TableNames()) {
		sql += std::string(sql.empty() ? "" : " UNION ALL ") + "SELECT '" + std::string(t) +
		       "', x::text FROM (SELECT * FROM ducklake." + std::string(t) + " ORDER BY 1, 2, 3) x";
	}
	auto r = conn.Exec(sql);
	std::string out;
	for (int i = 0; i < r.Rows(); i++) {
		out += std::string(r.Get(i, 0)) + ": " + std::string(r.Get(i, 1)) + "\n";
	}
	return out;
}

} // namespace

TEST(LakeWriter, DeleteSecondDeleteWholeFileAndPositions) {
	Fixture f("w_delete");
	f.Insert(0, 100);   // file 0
	f.Insert(100, 110); // file 1
	f.Delete("SELECT 5 AS id UNION ALL SELECT 7");
	EXPECT_EQ(f.Pg("SELECT data_file_id, delete_count, end_snapshot FROM ducklake.ducklake_delete_file"),
	          (Rows{"0|2|NULL"}.size() == 1 ? Rows{"0|2|NULL"} : Rows{}));
	// Second delete on the same file: union file, old one ended.
	f.Delete("SELECT 7 AS id UNION ALL SELECT 9");
	EXPECT_EQ(f.Pg("SELECT data_file_id, delete_count, begin_snapshot, end_snapshot FROM "
	               "ducklake.ducklake_delete_file ORDER BY delete_file_id"),
	          (Rows{"0|2|4|5", "0|3|5|NULL"}));
	// Every row of file 1: no delete file, the data file ends.
	auto snap = f.Delete("SELECT i AS id FROM range(100, 110) r(i)");
	EXPECT_EQ(f.Pg("SELECT end_snapshot FROM ducklake.ducklake_data_file WHERE record_count = 10"),
	          (Rows{std::to_string(snap)}));
	EXPECT_EQ(f.Pg("SELECT count(*) FROM ducklake.ducklake_delete_file")[0], "2");
	EXPECT_EQ(f.Read("SELECT count(*), min(id), max(id) FROM main.t"), (Rows{"97|0|99"}));
	EXPECT_EQ(f.Read("SELECT count(*) FROM main.t WHERE id IN (5, 7, 9)"), (Rows{"0"}));
	// Positions: physical rows 0 and 1 of file 0 (ids 0 and 1).
	auto c = f.writer.Begin();
	c.DeletePositions(f.table, 0, {0, 1});
	c.Commit();
	EXPECT_EQ(f.Read("SELECT count(*), min(id) FROM main.t"), (Rows{"95|2"}));
	// Stats never decrease on delete.
	EXPECT_EQ(f.Pg("SELECT record_count, next_row_id FROM ducklake.ducklake_table_stats"), (Rows{"110|110"}));
	EXPECT_EQ(f.Pg("SELECT changes_made FROM ducklake.ducklake_snapshot_changes ORDER BY snapshot_id DESC LIMIT 1"),
	          (Rows{"deleted_from_table:1"}));
}

TEST(LakeWriter, DeleteReadsOnlyFilesWhoseKeyRangeMatches) {
	Fixture f("w_prune");
	for (int i = 0; i < 5; i++) {
		f.Insert(i * 100, i * 100 + 100);
	}
	// Make every file but the one holding id 250 unreadable: pruning must not open them.
	auto files = f.Pg("SELECT path, (SELECT min_value FROM ducklake.ducklake_file_column_stats s WHERE "
	                  "s.data_file_id = d.data_file_id AND column_id = 1) FROM ducklake.ducklake_data_file d");
	ASSERT_EQ(files.size(), 5u);
	std::vector<std::pair<std::string, std::string>> moved;
	for (const auto &r : files) {
		auto path = f.TableDir() + r.substr(0, r.find('|'));
		if (r.substr(r.find('|') + 1) != "200") {
			std::filesystem::rename(path, path + ".away");
			moved.push_back({path + ".away", path});
		}
	}
	EXPECT_NO_THROW(f.Delete("SELECT 250 AS id"));
	for (auto &[from, to] : moved) {
		std::filesystem::rename(from, to);
	}
	EXPECT_EQ(f.Read("SELECT count(*) FROM main.t"), (Rows{"499"}));
	EXPECT_EQ(f.Read("SELECT count(*) FROM main.t WHERE id = 250"), (Rows{"0"}));
}

// Scenario 7 of the bench: a delete looks its keys up in each candidate file's key index, built
// by the first delete that reads the file and reused after, so a later delete reads a few index
// blocks per key and no Parquet file, whatever the table's size.
TEST(LakeWriter, DeleteByKeyReadsIndexBlocksNotFiles) {
	Fixture f("w_keyidx");
	f.Insert(0, 10000); // file 0: 40 index blocks
	auto update = [&](const std::string &ids) {
		auto c = f.writer.Begin();
		auto found = c.DeleteByKey(f.table, *f.staging.duck, {"id"}, "SELECT id FROM (VALUES " + ids + ") x(id)");
		c.Insert(f.table, *f.staging.duck, "SELECT id, 'new' AS v FROM (VALUES " + ids + ") x(id)");
		c.Commit();
		return found;
	};
	EXPECT_EQ(update("(5), (9000)"), 2); // file 1 holds 5 and 9000: its range spans file 0's
	auto t = f.writer.Keys().Totals();
	EXPECT_EQ(t.built, 1);
	EXPECT_EQ(t.probed, 1);
	EXPECT_EQ(t.blocks_read, 2);

	// File 0 is indexed: the next delete does not open it (moved away meanwhile).
	auto file0 = f.TableDir() + f.Pg("SELECT path FROM ducklake.ducklake_data_file WHERE data_file_id = 0")[0];
	std::filesystem::rename(file0, file0 + ".away");
	EXPECT_NO_THROW(f.Delete("SELECT 7 AS id UNION ALL SELECT 9000"));
	std::filesystem::rename(file0 + ".away", file0);
	t = f.writer.Keys().Totals();
	EXPECT_EQ(t.built, 2);       // file 1 only, at its first lookup
	EXPECT_EQ(t.probed, 3);      // files 0 and 1: both key ranges admit 7 and 9000
	EXPECT_EQ(t.blocks_read, 5); // file 0: blocks of 7 and 9000; file 1: its one block
	EXPECT_EQ(f.Read("SELECT count(*), count(*) FILTER (WHERE v = 'new') FROM main.t"), (Rows{"9998|1"}));
	EXPECT_EQ(f.Read("SELECT id, v FROM main.t WHERE id IN (5, 7, 9000) ORDER BY id"), (Rows{"5|new"}));

	// Many keys for the rows: one scan, no index blocks.
	f.Delete("SELECT i AS id FROM range(100, 2100) r(i)");
	t = f.writer.Keys().Totals();
	EXPECT_EQ(t.blocks_read, 5);
	EXPECT_EQ(f.Read("SELECT count(*), min(id), max(id) FROM main.t WHERE id BETWEEN 100 AND 2099"),
	          (Rows{"0|NULL|NULL"}));
	EXPECT_EQ(f.Read("SELECT count(*) FROM main.t"), (Rows{"7998"}));
}

// Random updates and deletes through the key index (files with narrow and with table-wide key
// ranges, keys deleted twice, re-inserted keys) leave exactly the expected rows.
TEST(LakeWriter, DeleteByKeyThroughTheIndexMatchesTheSource) {
	Fixture f("w_keyidx_rand");
	for (int i = 0; i < 4; i++) {
		f.Insert(i * 4000, i * 4000 + 4000);
	}
	std::map<int64_t, std::string> expected;
	for (int64_t i = 0; i < 16000; i++) {
		expected[i] = "v" + std::to_string(i);
	}
	uint64_t seed = 7;
	auto next = [&] {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		return static_cast<int64_t>((seed >> 33) % 16000);
	};
	for (int round = 0; round < 12; round++) {
		std::string updated, deleted;
		std::set<int64_t> used; // one change per key and round, as a compacted flush has
		for (int k = 0; k < 40; k++) {
			auto id = next();
			while (!used.insert(id).second) {
				id = next();
			}
			auto &list = k % 2 ? deleted : updated;
			list += (list.empty() ? "" : ", ") + std::string("(") + std::to_string(id) + ")";
			if (k % 2) {
				expected.erase(id);
			} else {
				expected[id] = "r" + std::to_string(round);
			}
		}
		auto c = f.writer.Begin();
		c.DeleteByKey(f.table, *f.staging.duck, {"id"},
		              "SELECT id FROM (VALUES " + updated + ", " + deleted + ") x(id)");
		c.Insert(f.table, *f.staging.duck,
		         "SELECT DISTINCT id, 'r" + std::to_string(round) + "' AS v FROM (VALUES " + updated + ") x(id)");
		c.Commit();
	}
	Rows want;
	for (const auto &[id, v] : expected) {
		want.push_back(std::to_string(id) + "|" + v);
	}
	std::sort(want.begin(), want.end());
	auto got = f.Read("SELECT CAST(id AS VARCHAR) || '|' || v FROM main.t ORDER BY 1");
	EXPECT_EQ(got.size(), want.size());
	EXPECT_TRUE(got == want);
	EXPECT_GT(f.writer.Keys().Totals().blocks_read, 0);
}

TEST(LakeWriter, UpdateIsDeletePlusInsertInOneSnapshot) {
	Fixture f("w_update");
	f.Insert(0, 10);
	auto c = f.writer.Begin();
	c.DeleteByKey(f.table, *f.staging.duck, {"id"}, "SELECT 3 AS id");
	c.Insert(f.table, *f.staging.duck, "SELECT 3 AS id, 'new' AS v");
	auto snap = c.Commit({.author = "me", .message = "update"});
	EXPECT_EQ(f.Pg("SELECT changes_made, author, commit_message FROM ducklake.ducklake_snapshot_changes WHERE "
	               "snapshot_id = " +
	               std::to_string(snap)),
	          (Rows{"inserted_into_table:1,deleted_from_table:1|me|update"}));
	EXPECT_EQ(f.Read("SELECT v FROM main.t WHERE id = 3"), (Rows{"new"}));
	EXPECT_EQ(f.Read("SELECT count(*) FROM main.t"), (Rows{"10"}));
}

TEST(LakeWriter, TruncateEndsEveryFile) {
	Fixture f("w_truncate");
	f.Insert(0, 10);
	f.Insert(10, 20);
	f.Delete("SELECT 1 AS id");
	auto c = f.writer.Begin();
	c.Truncate(f.table);
	c.Insert(f.table, *f.staging.duck, "SELECT 42 AS id, 'after' AS v");
	auto snap = c.Commit();
	EXPECT_EQ(f.Read("SELECT id, v FROM main.t"), (Rows{"42|after"}));
	EXPECT_EQ(f.Pg("SELECT count(*) FROM ducklake.ducklake_data_file WHERE end_snapshot = " + std::to_string(snap)),
	          (Rows{"2"}));
	EXPECT_EQ(f.Pg("SELECT count(*) FROM ducklake.ducklake_delete_file WHERE end_snapshot IS NULL"), (Rows{"0"}));
}

TEST(LakeWriter, TableStatsAreTrueBoundsComparedByValue) {
	Fixture f("w_stats");
	auto c = f.writer.Begin();
	auto h = c.CreateTable("main", "s",
	                       {Col("n", "int32"), Col("d", "decimal(10,2)"), Col("f", "float64"), Col("ts", "timestamp"),
	                        Col("v", "varchar"), Col("late", "int32")});
	c.Commit();
	auto s = c.ResolveId(h);
	auto insert = [&](const std::string &sql) {
		auto k = f.writer.Begin();
		k.Insert(s, *f.staging.duck, sql);
		k.Commit();
	};
	// First batch: late is all NULL (min/max unknown-but-empty).
	insert("SELECT 5 AS n, 9.5 AS d, 2.0 AS f, TIMESTAMP '2024-01-01' AS ts, 'b' AS v, NULL AS late");
	insert("SELECT 10 AS n, 10.25 AS d, 'nan'::DOUBLE AS f, TIMESTAMP '2023-06-01' AS ts, 'B' AS v, 7 AS late");
	insert("SELECT -3 AS n, -100.00 AS d, '-inf'::DOUBLE AS f, TIMESTAMP 'infinity' AS ts, 'ä' AS v, 3 AS late");
	auto sid = std::to_string(s);
	EXPECT_EQ(f.Pg("SELECT column_id, contains_null, contains_nan, min_value, max_value FROM "
	               "ducklake.ducklake_table_column_stats WHERE table_id = " +
	               sid + " ORDER BY 1"),
	          (Rows{"1|f|NULL|-3|10", "2|f|NULL|-100.00|10.25", "3|f|t|-inf|2.0",
	                "4|f|NULL|2023-06-01 00:00:00|infinity", "5|f|NULL|B|ä", "6|t|NULL|3|7"}));
	EXPECT_EQ(f.Pg("SELECT record_count, next_row_id FROM ducklake.ducklake_table_stats WHERE table_id = " + sid),
	          (Rows{"3|3"}));
	EXPECT_EQ(f.Pg("SELECT row_id_start, record_count FROM ducklake.ducklake_data_file WHERE table_id = " + sid +
	               " ORDER BY 1"),
	          (Rows{"0|1", "1|1", "2|1"}));
}

TEST(LakeWriter, SchemaEvolutionReadsBack) {
	Fixture f("w_schema");
	f.Insert(0, 3);
	auto c = f.writer.Begin();
	auto extra = Col("extra", "int32");
	extra.initial_default = "42";
	extra.default_value = "7";
	EXPECT_EQ(c.AddColumn(f.table, extra), 3);
	c.RenameColumn(f.table, "v", "label");
	c.AddColumn(f.table, Col("tags", "list", {Col("element", "varchar")}));
	c.Commit();
	auto k = f.writer.Begin();
	k.Insert(f.table, *f.staging.duck, "SELECT 10 AS id, 'x' AS label, ['a', NULL] AS tags");
	k.Commit();
	EXPECT_EQ(f.Read("SELECT id, label, extra, tags FROM main.t ORDER BY id"),
	          (Rows{"0|v0|42|NULL", "1|v1|42|NULL", "2|v2|42|NULL", "10|x|7|[a, NULL]"}));
	EXPECT_EQ(f.Pg("SELECT column_id, column_name, column_type, parent_column, begin_snapshot, end_snapshot FROM "
	               "ducklake.ducklake_column ORDER BY column_id, begin_snapshot"),
	          (Rows{"1|id|int64|NULL|1|NULL", "2|v|varchar|NULL|1|3", "2|label|varchar|NULL|3|NULL",
	                "3|extra|int32|NULL|3|NULL", "4|tags|list|NULL|3|NULL", "5|element|varchar|4|3|NULL"}));
	auto d = f.writer.Begin();
	d.DropColumn(f.table, "tags");
	d.RenameTable(f.table, "t2");
	auto snap = d.Commit();
	EXPECT_EQ(
	    f.Pg("SELECT changes_made FROM ducklake.ducklake_snapshot_changes WHERE snapshot_id = " + std::to_string(snap)),
	    (Rows{"created_table:\"main\".\"t2\",altered_table:1"}));
	EXPECT_EQ(f.Pg("SELECT count(*) FROM ducklake.ducklake_column WHERE end_snapshot = " + std::to_string(snap)),
	          (Rows{"2"}));
	EXPECT_EQ(f.Read("SELECT count(*) FROM main.t2"), (Rows{"4"}));
	EXPECT_EQ(
	    f.Pg("SELECT count(*) FROM ducklake.ducklake_schema_versions WHERE begin_snapshot = " + std::to_string(snap)),
	    (Rows{"1"}));
	auto w = f.writer.Begin();
	EXPECT_THROW(w.WidenColumnType(f.table, "id", "int32"), Error);
}

TEST(LakeWriter, AppendsToTheGoldenLake) {
	GoldenLake golden(PgCluster::Shared());
	lake::LakeConfig config;
	config.catalog_conninfo = golden.Conninfo();
	config.data_path = golden.DataPath();
	lake::LakeWriter writer(config);
	Staging staging;
	auto c = writer.Begin();
	EXPECT_EQ(c.BaseSnapshot(), 17);
	auto orders = c.FindTable("public", "orders");
	ASSERT_TRUE(orders);
	// id 2 lives in file 1, which already has the reference's partial (3-column) delete file.
	EXPECT_EQ(c.DeleteByKey(*orders, *staging.duck, {"id"}, "SELECT 2 AS id UNION ALL SELECT 3000"), 2);
	c.Insert(*orders, *staging.duck, "SELECT 4000 AS id, 99 AS total, 'mine' AS comment");
	EXPECT_EQ(c.Commit(), 18);
	auto rows = LakeRows(golden.Conninfo(), "SELECT count(*), max(id), min(total) FROM public.orders");
	EXPECT_EQ(rows, (Rows{"999|4000|-757"}));
	EXPECT_EQ(LakeRows(golden.Conninfo(), "SELECT id, total, comment, status FROM public.orders WHERE id IN (1, 2, 3, "
	                                      "3000, 4000) ORDER BY id"),
	          (Rows{"1|-7|n1|new", "3|21|n3|new", "4000|99|mine|new"}));
	EXPECT_EQ(PgRows(golden.Conninfo(), "SELECT record_count, next_row_id FROM ducklake.ducklake_table_stats WHERE "
	                                    "table_id = 3"),
	          (Rows{"1016|1016"}));
	EXPECT_EQ(PgRows(golden.Conninfo(), "SELECT delete_count FROM ducklake.ducklake_delete_file WHERE "
	                                    "data_file_id = 1 AND end_snapshot IS NULL"),
	          (Rows{"16"}));
}

TEST(LakeWriter, FailPointsLeaveCatalogAndDirectoryUnchanged) {
	Fixture f("w_fail");
	f.Insert(0, 50);
	auto before = CatalogDump(f.lake.Conninfo());
	auto files_before = ListFiles(f.TableDir());
	PgRows(f.lake.Conninfo(), "CREATE TABLE applied(lsn text)");
	for (const char *point :
	     {"after_parquet_write", "after_delete_file_write", "before_catalog_transaction", "before_catalog_commit"}) {
		lake::LakeWriter::SetFailPoint(point);
		try {
			auto c = f.writer.Begin();
			c.Insert(f.table, *f.staging.duck, "SELECT 1000 AS id, 'x' AS v");
			c.DeleteByKey(f.table, *f.staging.duck, {"id"}, "SELECT 3 AS id");
			c.AddSql([](PgConnection &conn) { conn.Exec("INSERT INTO applied VALUES ('0/1')"); });
			c.Commit();
			ADD_FAILURE() << "no failure at " << point;
		} catch (const Error &e) {
			EXPECT_NE(std::string(e.what()).find(point), std::string::npos) << e.what();
		}
		EXPECT_EQ(before, CatalogDump(f.lake.Conninfo())) << point;
		EXPECT_EQ(files_before, ListFiles(f.TableDir())) << point;
		EXPECT_EQ(PgRows(f.lake.Conninfo(), "SELECT count(*) FROM applied"), (Rows{"0"})) << point;
	}
	lake::LakeWriter::SetFailPoint("");
	// The writer still works afterwards, and AddSql commits with the snapshot.
	auto c = f.writer.Begin();
	c.DeleteByKey(f.table, *f.staging.duck, {"id"}, "SELECT 3 AS id");
	c.AddSql([](PgConnection &conn) { conn.Exec("INSERT INTO applied VALUES ('0/2')"); });
	c.Commit();
	EXPECT_EQ(PgRows(f.lake.Conninfo(), "SELECT lsn FROM applied"), (Rows{"0/2"}));
	EXPECT_EQ(f.Read("SELECT count(*) FROM main.t"), (Rows{"49"}));
}

TEST(LakeWriter, AbandonedCommitRemovesItsFiles) {
	Fixture f("w_abandon");
	auto files_before = ListFiles(f.TableDir());
	{
		auto c = f.writer.Begin();
		c.Insert(f.table, *f.staging.duck, "SELECT 1 AS id, 'x' AS v");
		EXPECT_EQ(ListFiles(f.TableDir()).size(), files_before.size() + 1);
	}
	EXPECT_EQ(files_before, ListFiles(f.TableDir()));
	EXPECT_EQ(f.Pg("SELECT max(snapshot_id) FROM ducklake.ducklake_snapshot"), (Rows{"1"}));
}

TEST(LakeWriter, LogicalConflictAbortsAndRemovesFiles) {
	Fixture f("w_conflict");
	f.Insert(0, 10);
	lake::LakeWriter other(f.lake.config);
	auto mine = f.writer.Begin();
	mine.DeleteByKey(f.table, *f.staging.duck, {"id"}, "SELECT 1 AS id");
	mine.Insert(f.table, *f.staging.duck, "SELECT 1 AS id, 'mine' AS v");
	// Another writer deletes from the same data file first.
	Staging staging2;
	auto theirs = other.Begin();
	theirs.DeleteByKey(f.table, *staging2.duck, {"id"}, "SELECT 2 AS id");
	theirs.Commit();
	try {
		mine.Commit();
		FAIL() << "expected a conflict";
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Conflict) << e.what();
	}
	EXPECT_EQ(ListFiles(f.TableDir()).size(), 2u); // the data file + their delete file
	EXPECT_EQ(f.Read("SELECT count(*) FROM main.t"), (Rows{"9"}));
}

TEST(LakeWriter, TwoWritersCommitConcurrentlyWithoutLoss) {
	Fixture f("w_concurrent");
	auto c = f.writer.Begin();
	auto h = c.CreateTable("main", "u", {Col("w", "int32"), Col("i", "int32")});
	c.Commit();
	auto u = c.ResolveId(h);
	auto run = [&](int w) {
		lake::LakeWriter writer(f.lake.config);
		Staging staging;
		for (int i = 0; i < 50; i++) {
			auto k = writer.Begin();
			// Same table for both (inserts never conflict) plus one table each.
			k.Insert(u, *staging.duck, "SELECT " + std::to_string(w) + " AS w, " + std::to_string(i) + " AS i");
			k.Insert(f.table, *staging.duck,
			         "SELECT " + std::to_string(w * 1000 + i) + " AS id, 'w" + std::to_string(w) + "' AS v");
			k.Commit();
		}
	};
	std::thread a(run, 1), b(run, 2);
	a.join();
	b.join();
	EXPECT_EQ(f.Pg("SELECT count(*), min(snapshot_id), max(snapshot_id) FROM ducklake.ducklake_snapshot"),
	          (Rows{"103|0|102"}));
	EXPECT_EQ(f.Read("SELECT count(*), count(DISTINCT (w, i)) FROM main.u"), (Rows{"100|100"}));
	EXPECT_EQ(f.Read("SELECT count(*), count(DISTINCT id) FROM main.t"), (Rows{"100|100"}));
	EXPECT_EQ(f.Pg("SELECT record_count, next_row_id FROM ducklake.ducklake_table_stats ORDER BY table_id"),
	          (Rows{"100|100", "100|100"}));
	// Row id ranges are disjoint and dense.
	EXPECT_EQ(f.Pg("SELECT count(*) FROM (SELECT row_id_start, lead(row_id_start) OVER (ORDER BY row_id_start) AS nx, "
	               "record_count FROM ducklake.ducklake_data_file WHERE table_id = " +
	               std::to_string(u) + ") x WHERE nx IS NOT NULL AND nx <> row_id_start + record_count"),
	          (Rows{"0"}));
	EXPECT_EQ(f.Pg("SELECT count(DISTINCT next_file_id) FROM ducklake.ducklake_snapshot"), (Rows{"101"}));
}

TEST(LakeWriter, CatalogCommitTakesMilliseconds) {
	Fixture f("w_latency");
	f.Insert(0, 1000);
	std::vector<double> ms;
	for (int i = 0; i < 20; i++) {
		auto c = f.writer.Begin();
		c.DeleteByKey(f.table, *f.staging.duck, {"id"}, "SELECT " + std::to_string(i) + " AS id");
		c.Insert(f.table, *f.staging.duck, "SELECT " + std::to_string(i) + " AS id, 'u' AS v");
		auto start = std::chrono::steady_clock::now();
		c.Commit();
		ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
	}
	std::sort(ms.begin(), ms.end());
	std::cout << "catalog commit (delete file + insert): median " << ms[ms.size() / 2] << " ms, max " << ms.back()
	          << " ms" << std::endl;
	EXPECT_LT(ms[ms.size() / 2], 100.0);
	EXPECT_EQ(f.Read("SELECT count(*), count(*) FILTER (WHERE v = 'u') FROM main.t"), (Rows{"1000|20"}));
}

TEST(LakeWriter, CompositeAndStringKeysAfterRename) {
	Fixture f("w_keys");
	auto c = f.writer.Begin();
	auto h = c.CreateTable("main", "k", {Col("region", "varchar"), Col("n", "int32"), Col("payload", "varchar")});
	c.Commit();
	auto k = c.ResolveId(h);
	for (const char *region : {"eu", "us", "ap"}) {
		auto w = f.writer.Begin();
		w.Insert(k, *f.staging.duck,
		         std::string("SELECT '") + region + "' AS region, i AS n, 'p' || i AS payload FROM range(0, 100) r(i)");
		w.Commit();
	}
	auto r = f.writer.Begin();
	r.RenameColumn(k, "region", "zone");
	r.Commit();
	auto d = f.writer.Begin();
	// ('us', 5) and ('eu', 7) exist; ('us', 500) and ('xx', 1) do not.
	EXPECT_EQ(d.DeleteByKey(k, *f.staging.duck, {"zone", "n"},
	                        "SELECT * FROM (VALUES ('us', 5), ('eu', 7), ('us', 500), ('xx', 1)) t(zone, n)"),
	          2);
	d.Commit();
	EXPECT_EQ(LakeRows(f.lake.Conninfo(), "SELECT count(*), count(*) FILTER (WHERE (zone = 'us' AND n = 5) OR (zone = "
	                                      "'eu' AND n = 7)) FROM main.k"),
	          (Rows{"298|0"}));
	// Only the two files holding the keys got delete files.
	EXPECT_EQ(f.Pg("SELECT count(*) FROM ducklake.ducklake_delete_file WHERE table_id = " + std::to_string(k)),
	          (Rows{"2"}));
}

TEST(LakeWriter, ChangesStringsAreQuotedAndParsed) {
	auto parsed = lake::CommitApplier::ParseChanges(
	    "created_table:\"my,schema\".\"t\"\"x\",inserted_into_table:3,deleted_from_table:3");
	ASSERT_EQ(parsed.size(), 3u);
	EXPECT_EQ(parsed[0].first, "created_table");
	EXPECT_EQ(parsed[0].second, "\"my,schema\".\"t\"\"x\"");
	EXPECT_EQ(parsed[2], (std::pair<std::string, std::string>{"deleted_from_table", "3"}));
	EXPECT_EQ(DuckConnection::QuoteIdent("a\"b"), "\"a\"\"b\"");
	Fixture f("w_quote");
	auto c = f.writer.Begin();
	c.CreateSchema("Sales Dept");
	c.CreateTable("Sales Dept", "Order \"Items\"", {Col("id", "int64")});
	c.Commit();
	EXPECT_EQ(f.Pg("SELECT changes_made FROM ducklake.ducklake_snapshot_changes ORDER BY snapshot_id DESC LIMIT 1"),
	          (Rows{"created_schema:\"Sales Dept\",created_table:\"Sales Dept\".\"Order \"\"Items\"\"\""}));
	// Names that are not plain get their uuid as path.
	EXPECT_EQ(f.Pg("SELECT count(*) FROM ducklake.ducklake_schema WHERE schema_name = 'Sales Dept' AND path = "
	               "schema_uuid::text || '/'"),
	          (Rows{"1"}));
}

TEST(LakeWriter, ParquetLayoutFieldIdsAndDeleteFileFormat) {
	Fixture f("w_layout");
	auto c = f.writer.Begin();
	auto extra = Col("tags", "list", {Col("element", "int32")});
	c.AddColumn(f.table, extra);
	c.Commit();
	auto k = f.writer.Begin();
	k.Insert(f.table, *f.staging.duck, "SELECT i AS id, 'v' AS v, [i, NULL] AS tags FROM range(0, 20) r(i)");
	k.Commit();
	auto d = f.writer.Begin();
	d.DeleteByKey(f.table, *f.staging.duck, {"id"}, "SELECT * FROM (VALUES (17), (3), (9)) t(id)");
	d.Commit();
	auto data = f.Pg("SELECT path FROM ducklake.ducklake_data_file")[0];
	auto del = f.Pg("SELECT path FROM ducklake.ducklake_delete_file")[0];
	EXPECT_TRUE(del.ends_with("-delete.parquet")) << del;
	Staging s;
	EXPECT_EQ(DuckRows(*s.duck, "SELECT name, field_id FROM parquet_schema('" + f.TableDir() + data +
	                                "') WHERE field_id IS NOT NULL ORDER BY field_id"),
	          (Rows{"id|1", "v|2", "tags|3", "element|4"}));
	EXPECT_EQ(DuckRows(*s.duck, "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('" +
	                                f.TableDir() + del + "'))"),
	          (Rows{"file_path|VARCHAR", "pos|BIGINT"}));
	EXPECT_EQ(DuckRows(*s.duck, "SELECT file_path = '" + f.TableDir() + data + "', pos FROM read_parquet('" +
	                                f.TableDir() + del + "')"),
	          (Rows{"true|3", "true|9", "true|17"}));
	EXPECT_EQ(f.Pg("SELECT d.file_size_bytes = " + std::to_string(std::filesystem::file_size(f.TableDir() + del)) +
	               ", footer_size > 0, delete_count FROM ducklake.ducklake_delete_file d"),
	          (Rows{"t|t|3"}));
}

// Two processes (fork), each with its own connections, DuckDB and LakeWriter: 50 commits each.
TEST(LakeWriter, TwoProcessesCommitConcurrentlyWithoutLoss) {
	TestLake lake("w_fork");
	{
		lake::LakeWriter writer(lake.config);
		auto c = writer.Begin();
		c.CreateTable("main", "p", {Col("w", "int32"), Col("i", "int32")});
		c.Commit();
	}
	std::vector<pid_t> children;
	for (int w = 1; w <= 2; w++) {
		pid_t pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			int code = 0;
			try {
				lake::LakeWriter writer(lake.config);
				Staging staging;
				for (int i = 0; i < 50; i++) {
					auto k = writer.Begin();
					k.Insert(1, *staging.duck, "SELECT " + std::to_string(w) + " AS w, " + std::to_string(i) + " AS i");
					k.Commit();
				}
			} catch (const std::exception &e) {
				fprintf(stderr, "child %d: %s\n", w, e.what());
				code = 1;
			}
			_exit(code);
		}
		children.push_back(pid);
	}
	for (auto pid : children) {
		int status = 0;
		waitpid(pid, &status, 0);
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	EXPECT_EQ(PgRows(lake.Conninfo(), "SELECT count(*), max(snapshot_id) FROM ducklake.ducklake_snapshot"),
	          (Rows{"102|101"}));
	EXPECT_EQ(LakeRows(lake.Conninfo(), "SELECT count(*), count(DISTINCT (w, i)) FROM main.p"), (Rows{"100|100"}));
	EXPECT_EQ(PgRows(lake.Conninfo(), "SELECT record_count, next_row_id FROM ducklake.ducklake_table_stats"),
	          (Rows{"100|100"}));
}
