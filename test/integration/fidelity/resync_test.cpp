// `duckpipe resync-table` copies one table again into a fresh lake table that replaces the old one
// at one lake snapshot: readers see the old rows until then, never an empty or partial table, and
// the other tables of the group keep streaming.
#include "harness/pipeline_fixture.hpp"

#include <thread>

namespace duckpipe::test {

class ResyncTest : public PipelineTest {};

TEST_F(ResyncTest, ResyncOneTableWhileAnotherStreams) {
	Sql("CREATE TABLE public.t1 (id int PRIMARY KEY, v text, pad text)");
	Sql("INSERT INTO public.t1 SELECT g, 'v' || g, repeat(md5(g::text), 4) FROM generate_series(1, 100000) g");
	Sql("CREATE TABLE public.t2 (id int PRIMARY KEY, v text)");
	DuckpipeOk({"add-table", "public.t1"});
	DuckpipeOk({"add-table", "public.t2"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.t1", "STREAMING", 90s)) << TableError("public.t1");
	ASSERT_TRUE(WaitTableState("public.t2", "STREAMING"));
	ASSERT_TRUE(WaitLakeEqualsSource("public.t1"));
	auto old_id = Scalar("SELECT lake_table_id FROM duckpipe.table_mappings WHERE source_table = 't1'");

	// t1's new copy is held (its slot waits for the locking transaction to end, or its COPY for the
	// lock) for as long as the test needs: t2 must stream meanwhile, and t1's lake table keep its
	// old rows.
	auto holder = Connect();
	holder->Exec("BEGIN");
	holder->Exec("LOCK TABLE public.t1 IN ACCESS EXCLUSIVE MODE");
	DuckpipeOk({"resync-table", "public.t1"});
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT count(*) FROM pg_locks WHERE NOT granted") != "0"; }, 60s))
	    << "t1's copy never waited for the lock: state " << TableState("public.t1") << LogTail();
	for (int i = 1; i <= 50; i++) {
		Sql("INSERT INTO public.t2 VALUES (" + std::to_string(i) + ", 'during the copy')");
	}
	EXPECT_TRUE(WaitLakeEqualsSource("public.t2")) << "t2 stopped streaming while t1 was being copied";
	EXPECT_EQ(LakeCount("public.t1_ducklake"), 100000);
	EXPECT_EQ(Scalar("SELECT lake_table_id FROM duckpipe.table_mappings WHERE source_table = 't1'"), old_id);

	// Poll t1's lake table through the rest of the resync: always the whole 100000 rows (old or new copy).
	holder->Exec("COMMIT");
	int polls = 0;
	int bad = 0;
	std::string bad_example;
	bool swapped = WaitFor(
	    [&] {
		    auto id = Scalar("SELECT lake_table_id FROM duckpipe.table_mappings WHERE source_table = 't1'");
		    int64_t n = LakeCount("public.t1_ducklake");
		    polls++;
		    if (n != 100000) {
			    bad++;
			    bad_example = std::to_string(n);
		    }
		    return id != old_id && id != "<null>" && TableState("public.t1") == "STREAMING";
	    },
	    90s, 50ms);
	EXPECT_TRUE(swapped) << "t1 never finished its resync: state " << TableState("public.t1") << " "
	                     << TableError("public.t1");
	EXPECT_EQ(bad, 0) << bad << " of " << polls << " polls saw t1's lake table with " << bad_example
	                  << " rows instead of 100000";
	Sql("INSERT INTO public.t2 VALUES (51, 'after the copy')");
	EXPECT_TRUE(WaitLakeEqualsSource("public.t1"));
	EXPECT_TRUE(WaitLakeEqualsSource("public.t2"));
	EXPECT_EQ(TableState("public.t2"), "STREAMING");

	// The resynced table streams again.
	Sql("UPDATE public.t1 SET v = 'after' WHERE id <= 100");
	Sql("DELETE FROM public.t1 WHERE id > 99900");
	EXPECT_TRUE(WaitLakeEqualsSource("public.t1"));
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
