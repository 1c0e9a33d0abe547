// Background compaction while tables stream at a short flush interval: the lake's active file count
// stays bounded, and the lake still equals the source row for row (compactions racing flushes that
// update and delete rows lose nothing and duplicate nothing).
#include "harness/pipeline_fixture.hpp"

#include <algorithm>
#include <iostream>
#include <thread>

namespace duckpipe::test {

class AutoCompactionTest : public PipelineTest {
protected:
	// Data files of the lake table in the latest snapshot.
	int64_t ActiveFiles(const std::string &lake_table) {
		return std::stoll(Scalar("SELECT count(*) FROM ducklake.ducklake_data_file f JOIN ducklake.ducklake_table t "
		                         "USING (table_id) WHERE t.end_snapshot IS NULL AND f.end_snapshot IS NULL AND "
		                         "t.table_name = " +
		                         Quote(lake_table)));
	}
	static std::string Quote(const std::string &s) { return "'" + s + "'"; }
};

TEST_F(AutoCompactionTest, KeepsFileCountBoundedWhileStreamingUpdatesAndDeletes) {
	Sql("CREATE TABLE public.hot (id bigint PRIMARY KEY, v text, n int)");
	Sql("INSERT INTO public.hot SELECT g, 'v' || g, 0 FROM generate_series(1, 2000) g");
	// Same stream, compaction off for this table alone (table scope over the global settings).
	Sql("CREATE TABLE public.cold (id bigint PRIMARY KEY, v text)");
	DuckpipeOk({"add-table", "public.hot"});
	DuckpipeOk({"add-table", "public.cold"});
	DuckpipeOk({"set-config", "compact_min_files", "6"});
	DuckpipeOk({"set-config", "compact_interval_ms", "4000"});
	DuckpipeOk({"set-config", "auto_compact", "0", "--table", "public.cold"});
	auto daemon = StartDaemon({}, {}, 100);
	ASSERT_TRUE(WaitTableState("public.hot", "STREAMING")) << LogTail();
	ASSERT_TRUE(WaitTableState("public.cold", "STREAMING")) << LogTail();

	// Small transactions, each awaited into a flush of its own (a file each, ~100 without compaction),
	// until the scheduler has compacted a few times: updates and deletes hit rows in files that
	// compactions are merging at the same time.
	const std::string compacted = "event=table.compacted table=public.hot_ducklake";
	int64_t max_files = 0;
	int64_t next_id = 100000;
	auto deadline = std::chrono::steady_clock::now() + 120s;
	for (int i = 0; i < 60 || CountLog(compacted) < 3; i++) {
		ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no third compaction\n" << LogTail();
		auto id = std::to_string(next_id++);
		int flushed = CountLog("event=flush.done table=public.hot ");
		Sql("BEGIN; INSERT INTO public.hot VALUES (" + id + ", 'new', " + std::to_string(i) + "); " +
		    "UPDATE public.hot SET n = n + 1, v = v || '.' WHERE id % 97 = " + std::to_string(i % 97) + "; " +
		    "DELETE FROM public.hot WHERE id = " + std::to_string((i * 37) % 2000 + 1) + "; COMMIT");
		Sql("INSERT INTO public.cold VALUES (" + id + ", 'c')");
		if (i % 5 == 0) {
			Sql("UPDATE public.hot SET n = -n WHERE id IN (SELECT id FROM public.hot WHERE id >= 100000 ORDER BY id "
			    "DESC LIMIT 3)");
		}
		ASSERT_TRUE(WaitFor([&] { return CountLog("event=flush.done table=public.hot ") > flushed; }, 30s))
		    << LogTail();
		if (i % 10 == 0) {
			max_files = std::max(max_files, ActiveFiles("hot_ducklake"));
		}
	}
	int compacted_while_streaming = CountLog(compacted);
	ASSERT_TRUE(WaitLakeEqualsSource("public.hot")) << LogTail();
	ASSERT_TRUE(WaitLakeEqualsSource("public.cold")) << LogTail();

	// Compactions ran while the stream did, and kept the count bounded: without them ~100 files.
	EXPECT_GE(compacted_while_streaming, 2) << LogTail();
	EXPECT_LE(max_files, 20) << LogTail();
	// A flush never lost its commit to a compaction of its table (that would retry it seconds later).
	EXPECT_EQ(CountLog("event=flush.retry"), 0) << LogTail();
	std::cout << "max active files while streaming: " << max_files << ", compactions: " << compacted_while_streaming
	          << ", files of the table without compaction: " << ActiveFiles("cold_ducklake") << std::endl;
	// Once the stream is quiet, the periodic merge leaves one file (the table never reached the target
	// size); the table with compaction off keeps a file per flush.
	EXPECT_TRUE(WaitFor([&] { return ActiveFiles("hot_ducklake") <= 1; }, 30s)) << ActiveFiles("hot_ducklake") << "\n"
	                                                                            << LogTail();
	EXPECT_GE(ActiveFiles("cold_ducklake"), 20);
	EXPECT_EQ(CountLog("event=table.compacted table=public.cold_ducklake"), 0) << LogTail();
	// The metadata (`duckpipe status`, duckpipe.status()) shows every compaction and the one file once
	// the daemon has reported its runtime figures (every 2 s); the table with compaction off none.
	auto figures = [&](const std::string &table) {
		return Scalar("SELECT compaction_count || '|' || coalesce(data_files::text, 'NULL') || '|' || "
		              "(compaction_files_merged >= compaction_count) || '|' || (last_compaction_at IS NOT NULL) "
		              "FROM duckpipe.table_mappings WHERE source_table = " +
		              Quote(table));
	};
	EXPECT_TRUE(WaitFor([&] { return figures("hot") == std::to_string(CountLog(compacted)) + "|1|true|true"; }, 30s))
	    << figures("hot") << "\n"
	    << LogTail();
	EXPECT_EQ(figures("cold"), "0|NULL|true|false");
	auto status = Duckpipe({"status", "--format", "csv"}).output;
	EXPECT_NE(status.find("data_files,compaction_count,compaction_files_merged,last_compaction_at"), std::string::npos)
	    << status;
	EXPECT_TRUE(LakeEqualsSource("public.hot"));
	EXPECT_TRUE(LakeEqualsSource("public.cold"));

	// The stream goes on after compactions, and a restart replays nothing twice.
	Sql("UPDATE public.hot SET v = 'after' WHERE id % 3 = 0");
	Sql("DELETE FROM public.hot WHERE id % 11 = 0");
	ASSERT_TRUE(WaitLakeEqualsSource("public.hot")) << LogTail();
	EXPECT_EQ(daemon->Terminate(), 0);
	auto again = StartDaemon({}, {}, 100);
	Sql("INSERT INTO public.hot VALUES (1, 'back', 1) ON CONFLICT (id) DO UPDATE SET v = 'back'");
	ASSERT_TRUE(WaitLakeEqualsSource("public.hot")) << LogTail();
	EXPECT_EQ(again->Terminate(), 0);
}

} // namespace duckpipe::test
