// `duckpipe resync-table` copies one table again into a fresh lake table that replaces the old one
// at one lake snapshot: readers see the old rows until then, never an empty or partial table, and
// the other tables of the group keep streaming.
#include "harness/pipeline_fixture.hpp"

#include <atomic>
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

	// t2 receives writes throughout.
	std::atomic<bool> stop{false};
	std::atomic<int> written{0};
	std::thread writer([&] {
		auto conn = Connect();
		for (int i = 1; !stop.load(); i++) {
			conn->Exec("INSERT INTO public.t2 VALUES (" + std::to_string(i) + ", 'w')");
			written.store(i);
			std::this_thread::sleep_for(20ms);
		}
	});

	DuckpipeOk({"resync-table", "public.t1"});
	// Poll t1's lake table through the resync: always the whole 100000 rows (old or new copy).
	int polls = 0;
	int bad = 0;
	std::string bad_example;
	int64_t t2_before = LakeCount("public.t2_ducklake");
	int t2_grew = 0;
	bool swapped = false;
	auto deadline = std::chrono::steady_clock::now() + 90s;
	while (std::chrono::steady_clock::now() < deadline) {
		auto id = Scalar("SELECT lake_table_id FROM duckpipe.table_mappings WHERE source_table = 't1'");
		int64_t n = LakeCount("public.t1_ducklake");
		polls++;
		if (n != 100000) {
			bad++;
			bad_example = std::to_string(n);
		}
		int64_t t2 = LakeCount("public.t2_ducklake");
		if (t2 > t2_before) {
			t2_grew++;
			t2_before = t2;
		}
		if (id != old_id && id != "<null>" && TableState("public.t1") == "STREAMING") {
			swapped = true;
			break;
		}
		std::this_thread::sleep_for(100ms);
	}
	stop.store(true);
	writer.join();
	EXPECT_TRUE(swapped) << "t1 never finished its resync: state " << TableState("public.t1") << " "
	                     << TableError("public.t1");
	EXPECT_EQ(bad, 0) << bad << " of " << polls << " polls saw t1's lake table with " << bad_example
	                  << " rows instead of 100000";
	EXPECT_GE(polls, 3);
	// t2 kept moving while t1 was being copied.
	EXPECT_GE(t2_grew, 2) << "t2 grew " << t2_grew << " times in " << polls << " polls";
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
