// The flush log line carries where each flush spent its time (issue 12): load, compact, write, commit.
#include "harness/pipeline_fixture.hpp"

#include <map>
#include <regex>
#include <sstream>

namespace duckpipe::test {

class FlushPhasesTest : public PipelineTest {
protected:
	// `table` (id bigint, v text) streaming, then the daemon stopped: what is written next is a backlog.
	void StreamedThenStopped(const std::string &table) {
		Sql("CREATE TABLE " + table + " (id bigint PRIMARY KEY, v text)");
		DuckpipeOk({"add-table", table});
		auto daemon = StartDaemon();
		ASSERT_TRUE(WaitTableState(table, "STREAMING")) << TableState(table);
		EXPECT_EQ(daemon->Terminate(), 0);
	}
};

namespace {

// key -> value of every `event=flush.done` line.
std::vector<std::map<std::string, std::string>> FlushLines(const std::string &log) {
	std::vector<std::map<std::string, std::string>> out;
	static const std::regex field(R"(([a-z_]+)=("[^"]*"|\S+))");
	std::istringstream in(log);
	for (std::string line; std::getline(in, line);) {
		if (line.find("event=flush.done") == std::string::npos) {
			continue;
		}
		std::map<std::string, std::string> kv;
		for (std::sregex_iterator it(line.begin(), line.end(), field), end; it != end; ++it) {
			kv[(*it)[1]] = (*it)[2];
		}
		out.push_back(kv);
	}
	return out;
}

} // namespace

TEST_F(FlushPhasesTest, FlushLogLineCarriesEachPhase) {
	Sql("CREATE TABLE public.ph (id bigint PRIMARY KEY, v text)");
	Sql("INSERT INTO public.ph SELECT g, 'v' || g FROM generate_series(1, 1000) g");
	DuckpipeOk({"add-table", "public.ph"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.ph", "STREAMING")) << TableState("public.ph");
	// Inserts, then updates and deletes (a flush that finds rows to delete and writes a delete file).
	Sql("INSERT INTO public.ph SELECT g, 'n' || g FROM generate_series(1001, 3000) g");
	ASSERT_TRUE(WaitLakeEqualsSource("public.ph"));
	Sql("UPDATE public.ph SET v = v || '-u' WHERE id % 3 = 0");
	Sql("DELETE FROM public.ph WHERE id % 5 = 0");
	ASSERT_TRUE(WaitLakeEqualsSource("public.ph"));
	EXPECT_EQ(daemon->Terminate(), 0);

	auto lines = FlushLines(daemon->Log());
	int with_rows = 0;
	for (const auto &kv : lines) {
		for (auto key : {"ms", "rows", "load_ms", "compact_ms", "write_ms", "commit_ms"}) {
			ASSERT_TRUE(kv.count(key)) << "flush.done without " << key << ":\n" << daemon->Log();
		}
		auto load = std::stod(kv.at("load_ms"));
		auto compact = std::stod(kv.at("compact_ms"));
		auto write = std::stod(kv.at("write_ms"));
		auto commit = std::stod(kv.at("commit_ms"));
		auto total = std::stod(kv.at("ms"));
		EXPECT_GE(load, 0);
		EXPECT_GE(compact, 0);
		EXPECT_GE(write, 0);
		// The flush's wall time holds compaction, write and commit (load happened while buffering);
		// its ms is whole milliseconds and the phases are rounded to 0.1.
		EXPECT_LE(compact + write + commit, total + 1.5) << "phases exceed the flush's time";
		if (std::stoll(kv.at("rows")) > 0) {
			with_rows++;
			EXPECT_GT(load, 0) << "rows were buffered, so appending them took time";
			EXPECT_GT(write, 0) << "a flush with rows writes a Parquet file";
			EXPECT_GT(commit, 0) << "a flush with rows commits a lake snapshot";
		}
	}
	EXPECT_GE(with_rows, 2) << daemon->Log();
}

// A backlog of small transactions (what an OLTP source writes) is taken off the queue as fast as it
// comes and flushed together: one flush per interval, not one per few transactions. A worker that
// waited (or napped) between queued items would take ~200 a second and spread 2000 transactions
// over a dozen flushes.
TEST_F(FlushPhasesTest, ABacklogOfSmallTransactionsGoesIntoOneFlush) {
	ASSERT_NO_FATAL_FAILURE(StreamedThenStopped("public.oltp"));
	Sql("DO $$ BEGIN FOR i IN 1..2000 LOOP INSERT INTO public.oltp VALUES (i, 'v' || i); COMMIT; END LOOP; END $$");
	auto restarted = StartDaemon({}, {}, 3000);
	ASSERT_TRUE(WaitLakeEqualsSource("public.oltp"));
	EXPECT_EQ(restarted->Terminate(), 0);
	int flushes = 0;
	for (const auto &kv : FlushLines(restarted->Log())) {
		flushes += kv.at("table") == "public.oltp" && std::stoll(kv.at("rows")) > 0;
	}
	EXPECT_GE(flushes, 1);
	EXPECT_LE(flushes, 2) << restarted->Log();
}

// A backlog larger than the group's queue budget, replayed against it: every row arrives, and the
// worker appends many transactions per DuckDB statement (counted by the flush line's `appends`), not
// one each. Here the consumer keeps usage at the budget's mark, which the old rule (append after
// every item while full) also handled; the case it crawled on, usage held above the mark by rows a
// copy had held back (30 rows a flush in CI), is not reproduced here.
TEST_F(FlushPhasesTest, ABacklogThatFillsTheBudgetIsAppendedABatchAtATime) {
	ASSERT_NO_FATAL_FAILURE(StreamedThenStopped("public.burst"));
	constexpr int kTransactions = 4000;
	Sql("DO $$ BEGIN FOR i IN 1.." + std::to_string(kTransactions) +
	    " LOOP INSERT INTO public.burst VALUES (i, repeat('v', 200) || i); COMMIT; END LOOP; END $$");
	// 256 KB: the backlog's ~1.5 MB of queued transactions fill it many times over.
	auto restarted = StartDaemon({"--max-queued-bytes", "262144"});
	ASSERT_TRUE(WaitLakeEqualsSource("public.burst"));
	EXPECT_EQ(restarted->Terminate(), 0);
	int64_t appends = 0;
	int64_t rows = 0;
	for (const auto &kv : FlushLines(restarted->Log())) {
		if (kv.at("table") == "public.burst") {
			appends += std::stoll(kv.at("appends"));
			rows += std::stoll(kv.at("rows"));
		}
	}
	EXPECT_EQ(rows, kTransactions);
	EXPECT_GE(appends, 1);
	// A batch's worth is an eighth of the budget: ~32 KB, over a hundred of these transactions.
	EXPECT_LE(appends, kTransactions / 20) << restarted->Log();
}

} // namespace duckpipe::test
