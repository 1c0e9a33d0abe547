// A rescan of a lake relation inside one statement (the inner side of a nested loop, a correlated
// subquery) reads the snapshot the scan opened, like a heap scan under the statement's MVCC
// snapshot, and reuses the scan's DuckDB session instead of opening a new one per outer row.
#include "core/pg/pg_connection.hpp"
#include "harness/daemon_process.hpp"
#include "harness/extension_fixture.hpp"

#include <gtest/gtest.h>

#include <future>

namespace duckpipe::test {
namespace {

using namespace std::chrono_literals;

class LakeRescanTest : public ExtensionTest {
protected:
	LakeRescanTest() : ExtensionTest("ext_rescan") {}
};

TEST_F(LakeRescanTest, RescanReadsTheSnapshotTheScanOpened) {
	Sql("CREATE TABLE public.t (id int PRIMARY KEY)");
	Sql("INSERT INTO public.t SELECT generate_series(1, 10)");
	Sql("SELECT duckpipe.add_table('public.t')");
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT count(*) FROM public.t_ducklake") == "10"; }, 60s, 200ms));
	// Blocks (in pg_sleep) until the lake catalog holds n live rows of the table. (Not through the
	// relation: every read of one statement sees the statement's snapshot.)
	Sql("CREATE FUNCTION public.wait_lake(n int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN FOR i IN 1..600 LOOP "
	    "IF (SELECT coalesce(sum(f.record_count - coalesce(d.delete_count, 0)), 0) FROM ducklake.ducklake_table t "
	    "JOIN ducklake.ducklake_data_file f ON f.table_id = t.table_id AND f.end_snapshot IS NULL "
	    "LEFT JOIN ducklake.ducklake_delete_file d ON d.data_file_id = f.data_file_id AND d.end_snapshot IS NULL "
	    "WHERE t.table_name = 't_ducklake' AND t.end_snapshot IS NULL) >= n THEN RETURN 1; END IF; "
	    "PERFORM pg_sleep(0.1); END LOOP; RETURN 0; END $$");
	// Row 1 opens the subquery's scan; row 2's filter waits for the lake to hold the rows inserted
	// meanwhile, then its subquery rescans the relation.
	// The access method's own scan (the DuckDB paths are tested in their own areas).
	auto result = std::async(std::launch::async, [&] {
		return Sql("SET duckpipe.duckdb_execution = off; SET duckpipe.lake_scan_pushdown = off; SELECT g, (SELECT "
		           "count(*) FROM public.t_ducklake WHERE id <> -g) FROM generate_series(1, 2) g "
		           "WHERE g = 1 OR public.wait_lake(15) = 1");
	});
	ASSERT_TRUE(WaitFor(
	    [&] {
		    return Scalar("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%wait_lake(15) = 1%' AND "
		                  "wait_event = 'PgSleep' AND pid <> pg_backend_pid()") == "1";
	    },
	    60s));
	Sql("INSERT INTO public.t SELECT generate_series(11, 15)");
	ASSERT_EQ(result.wait_for(90s), std::future_status::ready);
	EXPECT_EQ(result.get(), (Rows{{"1", "10"}, {"2", "10"}}));
	EXPECT_EQ(Scalar("SELECT count(*) FROM public.t_ducklake"), "15");
}

// A parallel plan (the planner makes one when the settings or the relation's estimated size call for
// it) reads every lake row exactly once: one participant reads the lake table, the others none.
TEST_F(LakeRescanTest, ParallelPlansReadEachRowOnce) {
	Sql("CREATE TABLE public.p (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.p SELECT g, 'v' || g FROM generate_series(1, 5000) g");
	Sql("SELECT duckpipe.add_table('public.p')");
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT count(*) FROM public.p_ducklake") == "5000"; }, 60s, 200ms));
	// The access method's own scan: the DuckDB paths take no parallel plans.
	const std::string parallel = "SET duckpipe.duckdb_execution = off; SET duckpipe.lake_scan_pushdown = off; "
	                             "SET min_parallel_table_scan_size = 0; SET parallel_setup_cost = 0; "
	                             "SET parallel_tuple_cost = 0; SET max_parallel_workers_per_gather = 2; ";
	auto plan = Sql(parallel + "EXPLAIN (COSTS OFF) SELECT count(*) FROM public.p_ducklake");
	std::string plan_text;
	for (const auto &row : plan) {
		plan_text += row.at(0) + "\n";
	}
	ASSERT_NE(plan_text.find("Parallel Seq Scan on p_ducklake"), std::string::npos) << plan_text;
	// Workers did take part (with none, the leader alone reads and the claim is not tested).
	std::string analyzed;
	for (const auto &row :
	     Sql(parallel + "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT count(*) FROM public.p_ducklake")) {
		analyzed += row.at(0) + "\n";
	}
	EXPECT_NE(analyzed.find("Workers Launched: 2"), std::string::npos) << analyzed;
	EXPECT_EQ(Sql(parallel + "SELECT count(*), sum(id), count(DISTINCT v) FROM public.p_ducklake"),
	          (Rows{{"5000", "12502500", "5000"}}));
	// Both sides parallel: a parallel hash join of the heap table with its lake copy.
	EXPECT_EQ(Sql(parallel + "SELECT count(*), sum(l.id) FROM public.p h JOIN public.p_ducklake l USING (id, v)"),
	          (Rows{{"5000", "12502500"}}));
	EXPECT_EQ(Sql(parallel + "SELECT v, count(*) FROM public.p_ducklake WHERE id % 1000 = 7 GROUP BY v ORDER BY v"),
	          (Rows{{"v1007", "1"}, {"v2007", "1"}, {"v3007", "1"}, {"v4007", "1"}, {"v7", "1"}}));
	// The snapshot a parallel scan registers is released at its end (no WARNING in any participant).
	EXPECT_EQ(Cluster().ServerLog().find("Snapshot reference leak"), std::string::npos);
}

} // namespace
} // namespace duckpipe::test
