#include "harness/pipeline_fixture.hpp"

#include <regex>
#include <sstream>

namespace duckpipe::test {

class BackpressureTest : public PipelineTest {};

// With a queue budget far below one transaction's size, the slot consumer stops reading whenever the
// budget is full and resumes as the flush worker drains it: the data still arrives whole and
// exact, and the group's slot keeps being confirmed.
TEST_F(BackpressureTest, TinyQueueBudgetStillDeliversEverything) {
	Sql("CREATE TABLE public.bp (id int PRIMARY KEY, payload text)");
	DuckpipeOk({"add-table", "public.bp"});
	auto daemon = StartDaemon({"--max-queued-bytes", "200000"});
	ASSERT_TRUE(WaitTableState("public.bp", "STREAMING", 30s)) << TableState("public.bp");
	Sql("INSERT INTO public.bp SELECT g, repeat('x', 100) || g FROM generate_series(1, 100000) g");
	Sql("UPDATE public.bp SET payload = 'u' || id WHERE id % 3 = 0");
	EXPECT_TRUE(WaitLakeEqualsSource("public.bp", 120s));
	EXPECT_NE(daemon->Log().find("event=flush.done"), std::string::npos);
	EXPECT_TRUE(WaitFor([&] { return SlotLagBytes() < 1024 * 1024; }, 30s)) << SlotLagBytes();
	EXPECT_EQ(daemon->Terminate(), 0);
}

// The largest `key=<n>` of the log lines with `event`, -1 if none.
static int64_t MaxLogged(const std::string &log, const std::string &event, const std::string &key) {
	int64_t max = -1;
	std::regex re("event=" + event + " .*\\b" + key + "=([0-9]+)");
	std::smatch m;
	std::istringstream in(log);
	for (std::string line; std::getline(in, line);) {
		if (std::regex_search(line, m, re)) {
			max = std::max<int64_t>(max, std::stoll(m[1]));
		}
	}
	return max;
}

// A table being copied holds the rows streamed before its snapshot LSN is known; its copy's slot
// waits here for a transaction left open. Those rows count against the group's budget: the
// consumer stops reading instead of holding them all in memory, and everything arrives once.
TEST_F(BackpressureTest, RowsHeldForASnapshotCountAgainstTheBudget) {
	constexpr int64_t kBudget = 300000;
	Sql("CREATE TABLE public.steady (id int PRIMARY KEY, v text)");
	DuckpipeOk({"add-table", "public.steady"});
	auto daemon = StartDaemon({"--max-queued-bytes", std::to_string(kBudget)});
	ASSERT_TRUE(WaitTableState("public.steady", "STREAMING", 30s)) << TableState("public.steady");

	Sql("CREATE TABLE public.held (id int PRIMARY KEY, payload text)");
	Sql("INSERT INTO public.held SELECT g, 'copied' FROM generate_series(1, 1000) g");
	auto blocker = Connect();
	blocker->Exec("BEGIN");
	blocker->Exec("SELECT txid_current()"); // the copy's CREATE_REPLICATION_SLOT waits for it to end
	DuckpipeOk({"add-table", "--append", "public.held"});
	ASSERT_TRUE(WaitFor(
	    [&] {
		    return Scalar("SELECT count(*) FROM pg_publication_tables WHERE pubname = 'duckpipe_pub_default' AND "
		                  "tablename = 'held'") == "1" &&
		           Scalar("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'duckpipe_copy_%'") == "1";
	    },
	    30s));
	// About 3 MB streamed while the copy waits: ten times the budget.
	for (int i = 0; i < 10; i++) {
		Sql("INSERT INTO public.held SELECT g, repeat('h', 250) FROM generate_series(" +
		    std::to_string(1001 + i * 1000) + ", " + std::to_string(2000 + i * 1000) + ") g");
		Sql("INSERT INTO public.steady VALUES (" + std::to_string(i) + ", 'during')");
	}
	Lsn written = Lsn::Parse(Scalar("SELECT pg_current_wal_lsn()"));
	// The consumer has read all it will: everything (rows held outside the budget), or the budget
	// is full (the walsender then waits for it).
	ASSERT_TRUE(WaitFor(
	    [&] {
		    auto sent = Scalar("SELECT sent_lsn FROM pg_stat_replication WHERE application_name = "
		                       "'pg_duckpipe default'");
		    return (sent != "<null>" && Lsn::Parse(sent) >= written) ||
		           MaxLogged(daemon->Log(), "group.queue_peak", "bytes") >= kBudget * 3 / 4;
	    },
	    30s))
	    << LogTail(20);
	blocker->Exec("COMMIT");
	ASSERT_TRUE(WaitTableState("public.held", "STREAMING", 60s)) << TableState("public.held");
	Sql("INSERT INTO public.held VALUES (20000, 'after')");
	// Append mode: every row exactly once, from the copy or from the stream.
	EXPECT_TRUE(WaitLakeCount("public.held_ducklake", 11001, 60s)) << LakeCount("public.held_ducklake");
	EXPECT_EQ(LakeQuery("SELECT count(DISTINCT id) FROM public.held_ducklake")[0][0], "11001");
	EXPECT_TRUE(WaitLakeEqualsSource("public.steady"));
	EXPECT_EQ(daemon->Terminate(), 0);

	auto log = daemon->Log();
	int64_t held = MaxLogged(log, "table.held_released", "bytes");
	EXPECT_GT(held, 0) << "no rows were held for the copy: the test did not test anything";
	// One message (a row, its commit) past the budget at most.
	EXPECT_LE(held, kBudget + 16384) << "rows held for the snapshot went past the budget";
	int64_t peak = MaxLogged(log, "group.stopped", "queue_peak_bytes");
	EXPECT_GT(peak, 0);
	EXPECT_LE(peak, kBudget + 16384) << "the group's queues went past the budget";
}

} // namespace duckpipe::test
