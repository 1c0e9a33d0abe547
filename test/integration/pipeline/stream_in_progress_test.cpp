// Transactions the server streams while they run (pgoutput protocol 2, streaming = on): with
// logical_decoding_work_mem at its 64kB minimum every transaction of more than a few hundred rows is
// streamed in chunks. Whatever commits arrives exactly once, whatever aborts (whole, or a
// subtransaction rolled back to a savepoint) leaves nothing, and a daemon killed mid-stream loses and
// duplicates nothing.
#include "harness/pipeline_fixture.hpp"

#include <string>

namespace duckpipe::test {

class StreamInProgressTest : public PipelineTest {
protected:
	void SetUp() override {
		PipelineTest::SetUp();
		Sql("ALTER SYSTEM SET logical_decoding_work_mem = '64kB'");
		Sql("SELECT pg_reload_conf()");
		Sql("CREATE TABLE public.s (id bigint PRIMARY KEY, payload text, n int)");
		Sql("INSERT INTO public.s SELECT g, 'seed' || g, 0 FROM generate_series(1, 100) g");
		DuckpipeOk({"add-table", "public.s"});
	}
	void TearDown() override {
		Sql("ALTER SYSTEM RESET logical_decoding_work_mem");
		Sql("SELECT pg_reload_conf()");
		PipelineTest::TearDown();
	}
	static std::string Rows(int64_t from, int64_t to, const std::string &tag) {
		return "INSERT INTO public.s SELECT g, '" + tag + "' || repeat('x', 100) || g, g % 7 FROM generate_series(" +
		       std::to_string(from) + ", " + std::to_string(to) + ") g";
	}
	// Transactions the slot's walsender streamed while in progress (the server's own statistics,
	// reported with a delay: awaited).
	bool WaitStreamed(int64_t at_least) {
		return WaitFor(
		    [&] {
			    auto n = Scalar("SELECT coalesce(sum(stream_txns), 0) FROM pg_stat_replication_slots WHERE slot_name "
			                    "= 'duckpipe_slot_default'");
			    return std::stoll(n) >= at_least;
		    },
		    30s, 100ms);
	}
	// A small committed marker row, to know the stream went past what came before it.
	void Marker(int64_t id) { Sql("INSERT INTO public.s VALUES (" + std::to_string(id) + ", 'marker', -1)"); }
	bool WaitMarker(int64_t id) {
		return WaitFor(
		    [&] { return !LakeQuery("SELECT 1 FROM public.s_ducklake WHERE id = " + std::to_string(id)).empty(); }, 60s,
		    100ms);
	}
};

// A 60k-row transaction streamed in chunks through a 2 MB queue budget (the kept chunks spill past
// 256 kB): it arrives whole, once.
TEST_F(StreamInProgressTest, LargeStreamedTransactionArrivesOnce) {
	auto daemon = StartDaemon({"--max-queued-bytes", "2000000"});
	ASSERT_TRUE(WaitTableState("public.s", "STREAMING"));
	Sql("BEGIN; " + Rows(1001, 61000, "big") +
	    "; UPDATE public.s SET n = n + 100 WHERE id % 10 = 0; DELETE FROM "
	    "public.s WHERE id % 100 = 1; COMMIT");
	EXPECT_TRUE(WaitLakeEqualsSource("public.s", 120s));
	EXPECT_TRUE(WaitStreamed(1));
	EXPECT_GT(CountLog("event=stream.spill"), 0) << LogTail(20);
	EXPECT_GT(CountLog("stream_in_progress=true"), 0) << LogTail(20);
	EXPECT_EQ(daemon->Terminate(), 0);
}

// A streamed transaction rolled back leaves nothing; committed work around it arrives.
TEST_F(StreamInProgressTest, RolledBackStreamedTransactionLeavesNothing) {
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.s", "STREAMING"));
	Sql("BEGIN; " + Rows(1001, 21000, "aborted") + "; UPDATE public.s SET n = 99 WHERE id <= 100; ROLLBACK");
	EXPECT_TRUE(WaitStreamed(1));
	Marker(5000000);
	ASSERT_TRUE(WaitMarker(5000000));
	EXPECT_TRUE(LakeEqualsSource("public.s"));
	EXPECT_EQ(LakeQuery("SELECT count(*) FROM public.s_ducklake WHERE payload LIKE 'aborted%' OR n = 99"),
	          (duckpipe::test::Rows{{"0"}}));
	EXPECT_EQ(daemon->Terminate(), 0);
}

// ROLLBACK TO SAVEPOINT inside a streamed transaction drops that subtransaction's changes alone
// (nested ones with it); the rest of the transaction, before and after, arrives.
TEST_F(StreamInProgressTest, RollbackToSavepointDropsOnlyThatPart) {
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.s", "STREAMING"));
	auto conn = Connect();
	conn->Exec("BEGIN");
	conn->Exec(Rows(1001, 6000, "top"));
	conn->Exec("SAVEPOINT a");
	conn->Exec(Rows(6001, 11000, "gone_a"));
	conn->Exec("UPDATE public.s SET n = 77 WHERE id <= 2000");
	conn->Exec("SAVEPOINT b");
	conn->Exec(Rows(11001, 14000, "gone_b"));
	conn->Exec("ROLLBACK TO SAVEPOINT a"); // a and b
	conn->Exec(Rows(14001, 18000, "after"));
	conn->Exec("SAVEPOINT c");
	conn->Exec(Rows(18001, 21000, "kept_c"));
	conn->Exec("RELEASE SAVEPOINT c");
	conn->Exec("SAVEPOINT d");
	conn->Exec("DELETE FROM public.s WHERE id <= 50");
	conn->Exec("ROLLBACK TO SAVEPOINT d");
	conn->Exec("UPDATE public.s SET n = 55 WHERE id BETWEEN 1001 AND 1500");
	conn->Exec("COMMIT");
	EXPECT_TRUE(WaitLakeEqualsSource("public.s", 120s));
	EXPECT_EQ(LakeQuery("SELECT count(*) FROM public.s_ducklake WHERE payload LIKE 'gone%' OR n = 77"),
	          (duckpipe::test::Rows{{"0"}}));
	EXPECT_EQ(LakeCount("public.s_ducklake"), 100 + 5000 + 4000 + 3000);
	EXPECT_TRUE(WaitStreamed(1));
	EXPECT_EQ(daemon->Terminate(), 0);
}

// Two large transactions streamed in alternating chunks, committed in the other order than they
// began, with a small transaction committed in between; then one of two interleaved ones aborts.
TEST_F(StreamInProgressTest, InterleavedStreamedTransactions) {
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.s", "STREAMING"));
	auto a = Connect();
	auto b = Connect();
	a->Exec("BEGIN");
	b->Exec("BEGIN");
	for (int i = 0; i < 6; i++) {
		int64_t base = 100000 + i * 4000;
		a->Exec(Rows(base + 1, base + 2000, "a"));
		b->Exec(Rows(base + 2001, base + 4000, "b"));
		if (i == 2) {
			Marker(4000000);
		}
	}
	b->Exec("UPDATE public.s SET n = -5 WHERE id BETWEEN 1 AND 50");
	a->Exec("DELETE FROM public.s WHERE id BETWEEN 51 AND 60");
	b->Exec("COMMIT");
	a->Exec("COMMIT");
	EXPECT_TRUE(WaitLakeEqualsSource("public.s", 120s));
	EXPECT_TRUE(WaitStreamed(2));

	a->Exec("BEGIN");
	b->Exec("BEGIN");
	for (int i = 0; i < 4; i++) {
		int64_t base = 200000 + i * 4000;
		a->Exec(Rows(base + 1, base + 2000, "a2"));
		b->Exec(Rows(base + 2001, base + 4000, "b2_aborted"));
	}
	b->Exec("ROLLBACK");
	a->Exec("COMMIT");
	Marker(4000001);
	ASSERT_TRUE(WaitMarker(4000001));
	EXPECT_TRUE(LakeEqualsSource("public.s"));
	EXPECT_EQ(LakeQuery("SELECT count(*) FROM public.s_ducklake WHERE payload LIKE 'b2%'"),
	          (duckpipe::test::Rows{{"0"}}));
	EXPECT_EQ(daemon->Terminate(), 0);
}

// The daemon is killed while a transaction is being streamed (its first chunks kept, uncommitted),
// and again right after a streamed transaction committed; each restart gets the transaction again
// from the server, whole: nothing lost, nothing twice.
TEST_F(StreamInProgressTest, KilledMidStreamLosesAndDuplicatesNothing) {
	auto daemon = StartDaemon({"--max-queued-bytes", "2000000"});
	ASSERT_TRUE(WaitTableState("public.s", "STREAMING"));
	auto open = Connect();
	open->Exec("BEGIN");
	open->Exec(Rows(1001, 21000, "first"));
	ASSERT_TRUE(WaitStreamed(1));
	Marker(6000000); // committed while the streamed transaction is open: confirmed past its start
	ASSERT_TRUE(WaitMarker(6000000));
	EXPECT_EQ(daemon->Kill(), 128 + 9);
	open->Exec(Rows(21001, 31000, "first_more"));
	open->Exec("COMMIT");
	daemon = StartDaemon({"--max-queued-bytes", "2000000"});
	EXPECT_TRUE(WaitLakeEqualsSource("public.s", 120s));

	// Killed as soon as a streamed transaction committed: while it is replayed, flushed or confirmed.
	Sql("BEGIN; " + Rows(31001, 71000, "second") + "; UPDATE public.s SET n = n + 1 WHERE id <= 20000; COMMIT");
	EXPECT_EQ(daemon->Kill(), 128 + 9);
	daemon = StartDaemon({"--max-queued-bytes", "2000000"});
	EXPECT_TRUE(WaitLakeEqualsSource("public.s", 120s));
	EXPECT_EQ(daemon->Terminate(), 0);
}

// stream_in_progress = 0 (here for the group) reads the slot as before: protocol 1, the server
// decodes each transaction whole, and nothing is streamed.
TEST_F(StreamInProgressTest, SettingTurnsStreamingOff) {
	DuckpipeOk({"set-config", "stream_in_progress", "0", "--group", "default"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.s", "STREAMING"));
	Sql("BEGIN; " + Rows(1001, 21000, "whole") + "; COMMIT");
	EXPECT_TRUE(WaitLakeEqualsSource("public.s", 120s));
	EXPECT_EQ(Scalar("SELECT coalesce(sum(stream_txns), 0) FROM pg_stat_replication_slots WHERE slot_name = "
	                 "'duckpipe_slot_default'"),
	          "0");
	EXPECT_GT(CountLog("stream_in_progress=false"), 0) << LogTail(20);
	EXPECT_EQ(CountLog("stream_in_progress=true"), 0) << LogTail(20);
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
