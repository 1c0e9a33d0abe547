// SIGTERM while the stream is being lost or is in the middle of a transaction: the daemon exits
// within its shutdown timeout (exit code 0) every time, and the lake is exact after a restart.
#include "harness/pipeline_fixture.hpp"

#include <chrono>
#include <thread>

namespace duckpipe::test {

class ShutdownTest : public PipelineTest {
protected:
	static constexpr int kShutdownTimeoutMs = 3000;

	std::vector<std::string> Flags(std::vector<std::string> extra = {}) const {
		extra.insert(extra.begin(), {"--shutdown-timeout", std::to_string(kShutdownTimeoutMs)});
		return extra;
	}
	// SIGTERM; the daemon must exit 0, which it does only within its shutdown timeout (past it, it exits
	// 1 by itself): the bound is checked by the daemon, not by a wall clock on a loaded machine.
	void ExpectStopsInTime(DaemonProcess &daemon, const std::string &when) {
		auto start = std::chrono::steady_clock::now();
		int rc = daemon.Terminate(30s);
		auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
		EXPECT_EQ(rc, 0) << "SIGTERM " << when << ": exit " << rc << " after " << ms.count() << " ms\n" << LogTail(30);
	}
	// What the running daemon reported last; ResetFigures() before a daemon starts, so a figure is
	// this daemon's.
	void ResetFigures() { Sql("UPDATE duckpipe.table_mappings SET buffered_rows = 0, queued_changes = 0"); }
	int64_t BufferedRows(const std::string &table) {
		return std::stoll(Scalar("SELECT coalesce(buffered_rows, 0) + coalesce(queued_changes, 0) FROM "
		                         "duckpipe.table_mappings WHERE source_table = '" +
		                         table + "'"));
	}
	// Row count, distinct keys and a sum over every column: exact enough for these insert-mostly
	// tables, and light enough for the harness's in-memory DuckDB (a row digest of 500k rows is not).
	::testing::AssertionResult WaitLakeMatches(const std::string &table, const std::string &columns_sum) {
		std::string sql = "SELECT count(*), count(DISTINCT id), " + columns_sum + " FROM public." + table;
		Rows source;
		Rows lake;
		bool same = WaitFor(
		    [&] {
			    source = Sql(sql);
			    lake = LakeQuery(sql + "_ducklake");
			    return source == lake;
		    },
		    180s, 500ms);
		if (same) {
			return ::testing::AssertionSuccess();
		}
		auto out = ::testing::AssertionFailure() << table << " source";
		for (auto &v : source.at(0)) {
			out << " " << v;
		}
		out << ", lake";
		for (auto &v : lake.empty() ? std::vector<std::string>{} : lake.at(0)) {
			out << " " << v;
		}
		return out;
	}
	// A transaction holding a lock on the lake catalog's snapshot table: every flush waits for it
	// (until COMMIT), and the worker stops taking changes from its queue.
	std::unique_ptr<PgConnection> LockLakeSnapshots() {
		auto holder = Connect();
		holder->Exec("BEGIN");
		holder->Exec("LOCK TABLE ducklake.ducklake_snapshot IN SHARE ROW EXCLUSIVE MODE");
		return holder;
	}
	// A flush is waiting for that lock.
	bool WaitFlushStuck() {
		return WaitFor(
		    [&] {
			    return Scalar("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE NOT "
			                  "l.granted AND c.relname = 'ducklake_snapshot'") != "0";
		    },
		    60s, 10ms);
	}
	void WriteRounds(int from, int to) {
		auto conn = Connect();
		for (int r = from; r < to; r++) {
			std::string n = std::to_string(r);
			conn->Exec("BEGIN");
			conn->Exec("INSERT INTO public.acct VALUES (" + std::to_string(1000000 + r) + ", " + n + ", 'r" + n + "')");
			conn->Exec("UPDATE public.acct SET balance = balance + 1 WHERE id = " + std::to_string(r % 500 + 1));
			conn->Exec("DELETE FROM public.acct WHERE id = " + std::to_string(r + 600));
			conn->Exec("COMMIT");
		}
	}
};

// The source stops (the consumer cannot pause, it reconnects in a loop) or restarts (the consumer
// is resetting the workers after the stream broke) right when SIGTERM arrives. A stopping server
// also waits for its logical walsender until the client confirmed everything sent; changes not yet
// in the lake (which lives on that server) cannot be: the consumer lets it go.
TEST_F(ShutdownTest, SigtermWhileTheSourceRestarts) {
	Sql("CREATE TABLE public.acct (id bigint PRIMARY KEY, balance bigint NOT NULL, note text)");
	Sql("INSERT INTO public.acct SELECT g, 1000, 'init' FROM generate_series(1, 2000) g");
	DuckpipeOk({"add-table", "public.acct"});
	for (int i = 0; i < 6; i++) {
		auto daemon = StartDaemon(Flags());
		ASSERT_TRUE(WaitTableState("public.acct", "STREAMING")) << TableState("public.acct");
		WriteRounds(i * 20, i * 20 + 20);
		if (i % 3 == 0) {
			ASSERT_TRUE(WaitLakeEqualsSource("public.acct")); // else the stop finds changes not flushed yet
		}
		int losses = CountLog("event=slot.error");
		if (i % 2 == 0) {
			Cluster().Stop("fast");
			ASSERT_TRUE(WaitFor([&] { return CountLog("event=slot.error") > losses; }, 30s)) << LogTail(20);
			ExpectStopsInTime(*daemon, "with the source down");
			Cluster().Start();
		} else {
			std::thread restart([&] { Cluster().Restart(); });
			EXPECT_TRUE(WaitFor([&] { return CountLog("event=slot.error") > losses; }, 30s)) << LogTail(20);
			ExpectStopsInTime(*daemon, "as the stream broke in a restart");
			restart.join();
		}
		conn_ = Connect();
	}
	WriteRounds(200, 250);
	auto daemon = StartDaemon(Flags());
	EXPECT_TRUE(WaitLakeEqualsSource("public.acct"));
	EXPECT_EQ(daemon->Terminate(), 0);
}

// A 100k-row transaction is being received through a small queue budget when SIGTERM arrives: the
// daemon does not wait for all of it, and the next run replays it whole. The test holds a lock on
// the lake catalog's snapshot table, so a flush is stuck, the worker stops taking changes, the
// budget fills and the transaction cannot arrive whole; the lock goes once the group stopped waiting
// for it. So every stop lands half way, on any machine.
TEST_F(ShutdownTest, SigtermWhileALargeTransactionIsHalfDecoded) {
	Sql("CREATE TABLE public.big (id bigint PRIMARY KEY, payload text)");
	Sql("INSERT INTO public.big VALUES (0, 'seed')");
	DuckpipeOk({"add-table", "public.big"});
	int64_t total = 1;
	for (int i = 0; i < 3; i++) {
		ResetFigures();
		auto daemon = StartDaemon(Flags({"--max-queued-bytes", "1000000"}));
		ASSERT_TRUE(WaitTableState("public.big", "STREAMING")) << TableState("public.big");
		// The previous iteration's transaction, replayed whole.
		ASSERT_TRUE(WaitLakeCount("public.big_ducklake", total, 120s)) << LakeCount("public.big_ducklake");
		auto holder = LockLakeSnapshots();
		// One small transaction whose flush then waits for the lock.
		int64_t small_id = 10000000 + i;
		Sql("INSERT INTO public.big VALUES (" + std::to_string(small_id) + ", 'small')");
		total += 1;
		ASSERT_TRUE(WaitFlushStuck()) << LogTail(20);
		Sql("INSERT INTO public.big SELECT g, repeat('x', 300) || g FROM generate_series(" +
		    std::to_string(i * 100000 + 1) + ", " + std::to_string((i + 1) * 100000) + ") g");
		total += 100000;
		// Being received: the walsender waits for the consumer, which waits for the budget.
		ASSERT_TRUE(WaitFor(
		    [&] {
			    return Scalar("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender' AND "
			                  "application_name = 'pg_duckpipe default' AND wait_event = 'WalSenderWriteData'") == "1";
		    },
		    60s, 10ms))
		    << LogTail(20);
		int stopping = CountLog("event=group.stopping");
		auto start = std::chrono::steady_clock::now();
		kill(daemon->Pid(), SIGTERM);
		ASSERT_TRUE(WaitFor([&] { return CountLog("event=group.stopping") > stopping; }, 10s, 5ms)) << LogTail(20);
		holder->Exec("COMMIT");
		int rc = daemon->Terminate(30s);
		auto ms =
		    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
		EXPECT_EQ(rc, 0) << "SIGTERM in the middle of a large transaction: exit " << rc << " after " << ms << " ms\n"
		                 << LogTail(30);
		// The small transaction was flushed at the stop; the large one was not half applied.
		EXPECT_EQ(LakeQuery("SELECT count(*) FROM public.big_ducklake WHERE id = " + std::to_string(small_id)),
		          (Rows{{"1"}}));
		EXPECT_EQ(LakeCount("public.big_ducklake"), total - 100000);
	}
	auto daemon = StartDaemon(Flags({"--max-queued-bytes", "1000000"}));
	EXPECT_TRUE(WaitLakeMatches("big", "sum(id), sum(length(payload))"));
	EXPECT_EQ(daemon->Terminate(), 0);
}

// Whole transactions the worker has not taken from its queue yet when SIGTERM arrives go into the
// final flush: a clean stop leaves every committed change it received in the lake. The test holds a
// lock on the lake catalog's snapshot table, so the worker is stuck in a flush while a second
// transaction is queued behind it; the lock goes once the group stopped reading.
TEST_F(ShutdownTest, TransactionsQueuedAtTheStopAreInTheFinalFlush) {
	Sql("CREATE TABLE public.acct (id bigint PRIMARY KEY, balance bigint NOT NULL, note text)");
	Sql("INSERT INTO public.acct VALUES (0, 0, 'seed')");
	DuckpipeOk({"add-table", "public.acct"});
	ResetFigures();
	auto daemon = StartDaemon(Flags());
	ASSERT_TRUE(WaitTableState("public.acct", "STREAMING")) << TableState("public.acct");
	ASSERT_TRUE(WaitLakeCount("public.acct_ducklake", 1)) << LogTail(20);
	auto holder = LockLakeSnapshots();
	Sql("INSERT INTO public.acct VALUES (1, 1, 'first')");
	ASSERT_TRUE(WaitFlushStuck()) << LogTail(20);
	Sql("INSERT INTO public.acct SELECT g, g, 'queued' FROM generate_series(2, 3001) g");
	Sql("UPDATE public.acct SET balance = -1 WHERE id = 1");
	// Both transactions routed to the table and waiting in its queue behind the stuck flush.
	ASSERT_TRUE(WaitFor([&] { return BufferedRows("acct") >= 3001; }, 60s)) << LogTail(20);
	int stopping = CountLog("event=group.stopping");
	kill(daemon->Pid(), SIGTERM);
	ASSERT_TRUE(WaitFor([&] { return CountLog("event=group.stopping") > stopping; }, 10s, 5ms)) << LogTail(20);
	holder->Exec("COMMIT");
	EXPECT_EQ(daemon->Terminate(30s), 0) << LogTail(30);
	// Read with no daemon running: only the final flush can have put them there.
	EXPECT_EQ(LakeQuery("SELECT count(*), sum(balance) FROM public.acct_ducklake"),
	          (Rows{{"3002", std::to_string(3001L * 3002 / 2 - 1 - 1)}}));
	EXPECT_TRUE(LakeEqualsSource("public.acct"));
	// The slot confirmed them: the next run applies nothing twice and goes on from there.
	int flushes = CountLog("event=flush.done");
	daemon = StartDaemon(Flags());
	Sql("UPDATE public.acct SET note = 'after' WHERE id = 2");
	EXPECT_TRUE(WaitLakeEqualsSource("public.acct")) << LogTail(20);
	EXPECT_EQ(LakeQuery("SELECT count(*) FROM public.acct_ducklake WHERE note = 'queued'"), (Rows{{"2999"}}));
	EXPECT_EQ(daemon->Terminate(), 0);
	EXPECT_EQ(CountLog("event=flush.done"), flushes + 1) << LogTail(20);
}

// The stream breaks while the workers make their final flush: the consumer used to reset a worker
// that had left its loop and waited for it forever.
TEST_F(ShutdownTest, StreamLostDuringTheFinalFlush) {
	Sql("CREATE TABLE public.acct (id bigint PRIMARY KEY, balance bigint NOT NULL, note text)");
	Sql("INSERT INTO public.acct SELECT g, 1000, 'init' FROM generate_series(1, 2000) g");
	DuckpipeOk({"add-table", "public.acct"});
	for (int i = 0; i < 3; i++) {
		ResetFigures();
		int flushes = CountLog("event=flush.done");
		// Nothing flushes before the stop: the final flush has a whole large transaction to write.
		auto daemon = StartDaemon(Flags({"--flush-batch-threshold", "100000000"}), {}, 600000);
		ASSERT_TRUE(WaitTableState("public.acct", "STREAMING")) << TableState("public.acct");
		int64_t from = 2000000 + i * 400000;
		Sql("INSERT INTO public.acct SELECT g, 1, repeat('n', 20) FROM generate_series(" + std::to_string(from) + ", " +
		    std::to_string(from + 399999) + ") g");
		ASSERT_TRUE(WaitFor([&] { return BufferedRows("acct") >= 400000; }, 60s)) << LogTail(20);
		kill(daemon->Pid(), SIGTERM);
		// The group stops (the consumer paused): the workers' final flush starts now.
		ASSERT_TRUE(WaitFor([&] { return CountLog("event=group.stopping") > i; }, 10s, 5ms)) << LogTail(20);
		Sql("SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name = 'pg_duckpipe "
		    "default'");
		ExpectStopsInTime(*daemon, "with the stream lost during the final flush");
		EXPECT_EQ(CountLog("event=flush.done"), flushes + 1) << "the final flush did not happen";
	}
	WriteRounds(0, 50);
	auto daemon = StartDaemon(Flags());
	EXPECT_TRUE(WaitLakeMatches("acct", "sum(id), sum(balance), sum(length(note))"));
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
