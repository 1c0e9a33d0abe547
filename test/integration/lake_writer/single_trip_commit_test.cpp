// The catalog transaction of a commit is one round trip when no other writer committed since Begin
// (the head is still the base), and falls back to reading the head when one did.
#include "core/lake/lake_writer.hpp"
#include "core/pg/pg_connection.hpp"
#include "writer_fixture.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <vector>

using namespace duckpipe;
using namespace duckpipe::test;

namespace {

// A lake with main.t(id int64, v varchar, w varchar).
struct Lake {
	TestLake lake;
	lake::LakeWriter writer;
	Staging staging;
	int64_t table = 0;

	explicit Lake(const std::string &prefix) : lake(prefix), writer(lake.config) {
		auto c = writer.Begin();
		auto h = c.CreateTable("main", "t", {Col("id", "int64"), Col("v", "varchar"), Col("w", "varchar")});
		c.Commit();
		table = c.ResolveId(h);
	}
	std::string Range(int64_t from, int64_t to, const std::string &v, const std::string &w) const {
		return "SELECT i AS id, " + v + " AS v, " + w + " AS w FROM range(" + std::to_string(from) + ", " +
		       std::to_string(to) + ") r(i)";
	}
	Rows Pg(const std::string &sql) { return PgRows(lake.Conninfo(), sql); }
	Rows Read(const std::string &sql) { return LakeRows(lake.Conninfo(), sql); }
	std::string Id() const { return std::to_string(table); }
};

} // namespace

TEST(SingleTripCommit, OneRoundTripWhenNoOtherWriterCommitted) {
	Lake l("st_one");
	std::vector<int64_t> trips;
	auto commit = [&](const std::function<void(lake::LakeCommit &)> &stage) {
		auto c = l.writer.Begin();
		stage(c);
		c.AddStatement([](PgConnection &) { return std::string("SELECT 1"); });
		c.Commit();
		trips.push_back(c.CommitTimes().catalog_round_trips);
	};
	// w is all NULL at first: its old bounds are NULL, and the next file's values make them known.
	commit([&](lake::LakeCommit &c) { c.Insert(l.table, *l.staging.duck, l.Range(0, 100, "'a'", "NULL")); });
	commit([&](lake::LakeCommit &c) { c.Insert(l.table, *l.staging.duck, l.Range(100, 110, "'b'", "'q' || i")); });
	// A flush's shape: delete by key (a delete file) and insert.
	commit([&](lake::LakeCommit &c) {
		c.DeleteByKey(l.table, *l.staging.duck, {"id"}, "SELECT 5 AS id UNION ALL SELECT 105");
		c.Insert(l.table, *l.staging.duck, l.Range(5, 6, "'u'", "'p'"));
	});
	// Deletes only, and a schema change.
	commit([&](lake::LakeCommit &c) { c.DeleteByKey(l.table, *l.staging.duck, {"id"}, "SELECT 7 AS id"); });
	commit([&](lake::LakeCommit &c) {
		c.AddColumn(l.table, Col("x", "int32"));
		c.Insert(l.table, *l.staging.duck, "SELECT 500 AS id, 'x' AS v, 'r' AS w, 1 AS x");
	});
	EXPECT_EQ(trips, (std::vector<int64_t>{1, 1, 1, 1, 1}));
	EXPECT_EQ(l.Read("SELECT count(*), count(DISTINCT id), min(id), max(id), count(w), min(w), max(w), sum(x) "
	                 "FROM main.t"),
	          (Rows{"109|109|0|500|11|p|r|1"}));
	EXPECT_EQ(l.Pg("SELECT record_count, next_row_id FROM ducklake.ducklake_table_stats WHERE table_id = " + l.Id()),
	          (Rows{"112|112"}));
	EXPECT_EQ(l.Pg("SELECT column_id, contains_null, min_value, max_value FROM ducklake.ducklake_table_column_stats "
	               "WHERE table_id = " +
	               l.Id() + " ORDER BY 1"),
	          (Rows{"1|f|0|500", "2|f|a|x", "3|t|p|r"}));
	EXPECT_EQ(l.Pg("SELECT string_agg(row_id_start || '+' || record_count, ',' ORDER BY row_id_start) FROM "
	               "ducklake.ducklake_data_file WHERE table_id = " +
	               l.Id()),
	          (Rows{"0+100,100+10,110+1,111+1"}));
	// Every commit's marker says it committed (what a lost COMMIT answer is resolved by).
	EXPECT_EQ(l.Pg("SELECT count(*) FROM ducklake.duckpipe_pending_file WHERE path IS NOT NULL"), (Rows{"0"}));
}

TEST(SingleTripCommit, AnotherWriterCommittingSinceStagingMakesItReadTheHead) {
	Lake l("st_moved");
	{
		auto c = l.writer.Begin();
		c.Insert(l.table, *l.staging.duck, l.Range(0, 10, "'base'", "NULL"));
		c.Commit();
	}
	lake::LakeWriter other(l.lake.config);
	Staging staging2;
	auto mine = l.writer.Begin();
	mine.Insert(l.table, *l.staging.duck, l.Range(100, 110, "'mine'", "'m'"));
	// Between staging (which read the table's stats) and the commit, another writer adds rows to the
	// same table: the stats, row ids and file ids staging saw are stale.
	int64_t theirs_snapshot = 0;
	{
		auto theirs = other.Begin();
		theirs.Insert(l.table, *staging2.duck, l.Range(200, 205, "'theirs'", "'z'"));
		theirs_snapshot = theirs.Commit();
		EXPECT_EQ(theirs.CommitTimes().catalog_round_trips, 1);
	}
	EXPECT_EQ(mine.Commit(), theirs_snapshot + 1);
	// The guard's message, its ROLLBACK, then the head-reading transaction (head, the two checks of
	// what was committed since the base, rows + COMMIT).
	EXPECT_EQ(mine.CommitTimes().catalog_round_trips, 6);
	EXPECT_EQ(l.Read("SELECT v, count(*), count(DISTINCT id), min(id), max(id) FROM main.t GROUP BY v ORDER BY v"),
	          (Rows{"base|10|10|0|9", "mine|10|10|100|109", "theirs|5|5|200|204"}));
	EXPECT_EQ(l.Pg("SELECT record_count, next_row_id FROM ducklake.ducklake_table_stats WHERE table_id = " + l.Id()),
	          (Rows{"25|25"}));
	EXPECT_EQ(l.Pg("SELECT string_agg(row_id_start || '+' || record_count, ',' ORDER BY row_id_start), "
	               "count(DISTINCT data_file_id) FROM ducklake.ducklake_data_file WHERE table_id = " +
	               l.Id()),
	          (Rows{"0+10,10+5,15+10|3"}));
	EXPECT_EQ(l.Pg("SELECT column_id, contains_null, min_value, max_value FROM ducklake.ducklake_table_column_stats "
	               "WHERE table_id = " +
	               l.Id() + " ORDER BY 1"),
	          (Rows{"1|f|0|204", "2|f|base|theirs", "3|t|m|z"}));
	EXPECT_EQ(l.Pg("SELECT count(*), count(DISTINCT snapshot_id), max(snapshot_id) FROM ducklake.ducklake_snapshot"),
	          (Rows{"5|5|" + std::to_string(theirs_snapshot + 1)}));
	// The next commit is one round trip again.
	auto next = l.writer.Begin();
	next.Insert(l.table, *l.staging.duck, l.Range(300, 301, "'next'", "'n'"));
	next.Commit();
	EXPECT_EQ(next.CommitTimes().catalog_round_trips, 1);
	EXPECT_EQ(l.Read("SELECT count(*), count(DISTINCT id) FROM main.t"), (Rows{"26|26"}));
}

// Two tables of one process flushing at once: the second commit knows its base is behind the
// writer's own last commit, and reads the head at once (no guard that must fail).
TEST(SingleTripCommit, ACommitOfTheSameWriterSinceBeginSkipsTheGuard) {
	Lake l("st_same");
	auto first = l.writer.Begin();
	auto second = l.writer.Begin();
	first.Insert(l.table, *l.staging.duck, l.Range(0, 5, "'first'", "'f'"));
	second.Insert(l.table, *l.staging.duck, l.Range(5, 8, "'second'", "'s'"));
	auto s1 = first.Commit();
	EXPECT_EQ(first.CommitTimes().catalog_round_trips, 1);
	EXPECT_EQ(second.Commit(), s1 + 1);
	EXPECT_EQ(second.CommitTimes().catalog_round_trips, 4); // as before: head, two checks, rows + COMMIT
	EXPECT_EQ(l.Pg("SELECT record_count, next_row_id FROM ducklake.ducklake_table_stats WHERE table_id = " + l.Id()),
	          (Rows{"8|8"}));
	EXPECT_EQ(l.Read("SELECT v, count(*), min(id), max(id) FROM main.t GROUP BY v ORDER BY v"),
	          (Rows{"first|5|0|4", "second|3|5|7"}));
}
