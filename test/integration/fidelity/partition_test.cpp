// A partitioned table is added by its parent: the publication publishes every partition (present
// and future) as the root, so the whole tree lands in one lake table.
//
// What PostgreSQL does not send (documented by the tests below):
// - DETACH PARTITION and DROP of a partition write no change to the WAL: the lake keeps the
//   partition's rows until `duckpipe resync-table <parent>`.
// - TRUNCATE of one partition is not published when publishing via the root (pgoutput skips
//   partitions whose changes publish as another relation), so the lake keeps those rows too until a
//   resync; TRUNCATE of the parent is published and empties the lake table.
// - ATTACH PARTITION of a table that already holds rows writes no change either: those rows reach
//   the lake when they are next updated, or with a resync.
#include "harness/pipeline_fixture.hpp"

namespace duckpipe::test {

class PartitionTest : public PipelineTest {};

TEST_F(PartitionTest, ParentSyncsExistingAndFuturePartitions) {
	Sql("CREATE TABLE public.events (id int, region text, v text, PRIMARY KEY (id, region)) PARTITION BY LIST "
	    "(region)");
	Sql("CREATE TABLE public.events_eu PARTITION OF public.events FOR VALUES IN ('eu')");
	Sql("CREATE TABLE public.events_us PARTITION OF public.events FOR VALUES IN ('us')");
	Sql("INSERT INTO public.events SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, 'v' || g "
	    "FROM generate_series(1, 1000) g");
	DuckpipeOk({"add-table", "public.events"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.events", "STREAMING"))
	    << TableState("public.events") << " " << TableError("public.events");
	ASSERT_TRUE(WaitLakeEqualsSource("public.events"));
	// Only the parent is a lake table.
	EXPECT_EQ(LakeCount("public.events_eu_ducklake"), -1);

	Sql("INSERT INTO public.events VALUES (2000, 'eu', 'stream-eu'), (2001, 'us', 'stream-us')");
	// A partition created after the daemon started, and one created standalone then attached.
	Sql("CREATE TABLE public.events_ap PARTITION OF public.events FOR VALUES IN ('ap')");
	Sql("INSERT INTO public.events SELECT g, 'ap', 'ap' || g FROM generate_series(3000, 3099) g");
	Sql("CREATE TABLE public.events_sa (LIKE public.events INCLUDING ALL)");
	Sql("INSERT INTO public.events_sa VALUES (4000, 'sa', 'pre-attach')");
	Sql("ALTER TABLE public.events ATTACH PARTITION public.events_sa FOR VALUES IN ('sa')");
	Sql("INSERT INTO public.events VALUES (4001, 'sa', 'post-attach')");
	// Direct writes into a partition are published as the parent too.
	Sql("INSERT INTO public.events_eu VALUES (5000, 'eu', 'direct')");
	// Updates inside one partition and across partitions (a delete plus an insert on the source).
	Sql("UPDATE public.events SET v = 'upd' WHERE id BETWEEN 1 AND 20");
	Sql("UPDATE public.events SET region = 'ap', v = 'moved' WHERE id BETWEEN 21 AND 40");
	Sql("UPDATE public.events SET region = 'us' WHERE id = 2000");
	Sql("DELETE FROM public.events WHERE id BETWEEN 41 AND 60");
	// The row that was copied before the attach (4000) is not in the lake: ATTACH writes no change.
	// That is expected PostgreSQL behaviour; everything else must match.
	ASSERT_TRUE(WaitLakeCount("public.events_ducklake",
	                          std::stoll(Scalar("SELECT count(*) FROM public.events WHERE id <> 4000")), 30s))
	    << LakeCount("public.events_ducklake");
	EXPECT_EQ(LakeQuery("SELECT count(*) FROM public.events_ducklake WHERE id = 4000")[0][0], "0");
	EXPECT_EQ(LakeQuery("SELECT region, v FROM public.events_ducklake WHERE id = 2000")[0],
	          (std::vector<std::string>{"us", "stream-eu"}));
	EXPECT_EQ(LakeQuery("SELECT count(*) FROM public.events_ducklake WHERE region = 'ap' AND v = 'moved'")[0][0], "20");
	// Bring 4000 in by touching it; then the lake equals the source.
	Sql("UPDATE public.events SET v = 'touched' WHERE id = 4000");
	ASSERT_TRUE(WaitLakeEqualsSource("public.events", 30s));

	// DETACH and DROP of a partition: no change in the WAL, the lake keeps the rows.
	int64_t before = LakeCount("public.events_ducklake");
	Sql("ALTER TABLE public.events DETACH PARTITION public.events_ap");
	Sql("DROP TABLE public.events_sa");
	Sql("INSERT INTO public.events VALUES (6000, 'us', 'after-detach')");
	ASSERT_TRUE(WaitLakeCount("public.events_ducklake", before + 1, 30s)) << LakeCount("public.events_ducklake");
	// Writes to the detached table are not published any more.
	Sql("INSERT INTO public.events_ap VALUES (7000, 'ap', 'detached')");
	Sql("INSERT INTO public.events VALUES (6001, 'us', 'marker')");
	ASSERT_TRUE(WaitLakeCount("public.events_ducklake", before + 2, 30s));
	EXPECT_EQ(LakeQuery("SELECT count(*) FROM public.events_ducklake WHERE id = 7000")[0][0], "0");
	EXPECT_EQ(TableState("public.events"), "STREAMING") << TableError("public.events");
	// A resync makes the lake equal to the tree again.
	DuckpipeOk({"resync-table", "public.events"});
	ASSERT_TRUE(WaitFor([&] { return TableState("public.events") != "STREAMING"; }, 10s, 50ms) ||
	            TableState("public.events") == "STREAMING");
	ASSERT_TRUE(WaitTableState("public.events", "STREAMING"));
	ASSERT_TRUE(WaitLakeEqualsSource("public.events", 30s));

	// TRUNCATE of one partition: not published when publishing via the root.
	int64_t eu_rows = std::stoll(Scalar("SELECT count(*) FROM public.events_eu"));
	ASSERT_GT(eu_rows, 0);
	Sql("TRUNCATE public.events_eu");
	Sql("INSERT INTO public.events VALUES (8000, 'us', 'marker')");
	ASSERT_TRUE(WaitFor(
	    [&] { return LakeQuery("SELECT count(*) FROM public.events_ducklake WHERE id = 8000")[0][0] == "1"; }, 30s));
	EXPECT_EQ(LakeQuery("SELECT count(*) FROM public.events_ducklake WHERE region = 'eu'")[0][0],
	          std::to_string(eu_rows))
	    << "TRUNCATE of a single partition reached the lake: update the note at the top of this file";

	// TRUNCATE of the parent empties the lake table.
	Sql("TRUNCATE public.events");
	Sql("INSERT INTO public.events VALUES (1, 'eu', 'after-truncate')");
	ASSERT_TRUE(WaitLakeEqualsSource("public.events", 30s));
	EXPECT_EQ(daemon->Terminate(), 0);
}

TEST_F(PartitionTest, SubPartitionedTree) {
	Sql("CREATE TABLE public.m (id bigint, day date, kind text, amount numeric(10,2), PRIMARY KEY (id, day, kind)) "
	    "PARTITION BY RANGE (day)");
	Sql("CREATE TABLE public.m_2024 PARTITION OF public.m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') "
	    "PARTITION BY LIST (kind)");
	Sql("CREATE TABLE public.m_2024_a PARTITION OF public.m_2024 FOR VALUES IN ('a')");
	Sql("CREATE TABLE public.m_2024_b PARTITION OF public.m_2024 FOR VALUES IN ('b')");
	Sql("CREATE TABLE public.m_2025 PARTITION OF public.m FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')");
	Sql("INSERT INTO public.m SELECT g, DATE '2024-01-01' + (g % 700), CASE WHEN g % 3 = 0 THEN 'a' ELSE 'b' END, "
	    "g * 0.5 FROM generate_series(1, 2000) g");
	DuckpipeOk({"add-table", "public.m"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.m", "STREAMING")) << TableError("public.m");
	ASSERT_TRUE(WaitLakeEqualsSource("public.m"));

	// A new sub-partition under an existing middle level and a new sub-partitioned year.
	Sql("CREATE TABLE public.m_2024_c PARTITION OF public.m_2024 FOR VALUES IN ('c')");
	Sql("CREATE TABLE public.m_2026 PARTITION OF public.m FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') "
	    "PARTITION BY LIST (kind)");
	Sql("CREATE TABLE public.m_2026_all PARTITION OF public.m_2026 DEFAULT");
	Sql("INSERT INTO public.m SELECT g, DATE '2024-06-01', 'c', 1 FROM generate_series(3000, 3100) g");
	Sql("INSERT INTO public.m SELECT g, DATE '2026-03-01', 'z', 2 FROM generate_series(4000, 4100) g");
	// Moves across both levels.
	Sql("UPDATE public.m SET kind = 'c' WHERE id BETWEEN 1 AND 30 AND day < '2025-01-01'");
	Sql("UPDATE public.m SET day = DATE '2026-02-02' WHERE id BETWEEN 31 AND 60");
	Sql("UPDATE public.m SET amount = amount + 1 WHERE id BETWEEN 61 AND 90");
	Sql("DELETE FROM public.m WHERE id BETWEEN 91 AND 120");
	ASSERT_TRUE(WaitLakeEqualsSource("public.m", 30s));
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
