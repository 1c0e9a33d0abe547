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
	// Blocks (in pg_sleep) until a fresh scan of the lake relation sees n rows.
	Sql("CREATE FUNCTION public.wait_lake(n int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN FOR i IN 1..600 LOOP "
	    "IF (SELECT count(*) FROM public.t_ducklake) >= n THEN RETURN 1; END IF; PERFORM pg_sleep(0.1); END LOOP; "
	    "RETURN 0; END $$");
	// Row 1 opens the subquery's scan; row 2's filter waits for the lake to hold the rows inserted
	// meanwhile, then its subquery rescans the relation.
	auto result = std::async(std::launch::async, [&] {
		return Sql("SELECT g, (SELECT count(*) FROM public.t_ducklake WHERE id <> -g) FROM generate_series(1, 2) g "
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

} // namespace
} // namespace duckpipe::test
