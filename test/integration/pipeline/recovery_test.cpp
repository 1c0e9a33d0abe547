// Crashes and restarts: kill -9 mid-stream, crash points around the lake commit, SIGTERM. After a
// restart the lake must equal the source exactly: nothing lost, nothing applied twice.
#include "core/pg/pg_connection.hpp"
#include "harness/pipeline_fixture.hpp"

#include <atomic>
#include <thread>

namespace duckpipe::test {

class RecoveryTest : public PipelineTest {
protected:
	void CreateTable(int rows) {
		Sql("CREATE TABLE public.acct (id bigint PRIMARY KEY, balance bigint NOT NULL, note text)");
		Sql("INSERT INTO public.acct SELECT g, 1000, 'init' FROM generate_series(1, " + std::to_string(rows) + ") g");
	}
	// One transaction: a new row, an update of an old one and a delete, so a replay applied twice or
	// a lost transaction both show in the data.
	static void WriteRound(PgConnection &conn, int round) {
		std::string r = std::to_string(round);
		conn.Exec("BEGIN");
		conn.Exec("INSERT INTO public.acct VALUES (" + std::to_string(1000000 + round) + ", " + r + ", 'round " + r +
		          "')");
		conn.Exec("UPDATE public.acct SET balance = balance + " + r + ", note = 'r" + r +
		          "' WHERE id = " + std::to_string(round % 500 + 1));
		conn.Exec("DELETE FROM public.acct WHERE id = " + std::to_string(round + 600));
		conn.Exec("COMMIT");
	}
	void WriteRounds(int from, int to) {
		auto conn = Connect();
		for (int r = from; r < to; r++) {
			WriteRound(*conn, r);
		}
	}
	// Crash at a named point during streaming, restart without it, and compare.
	void CrashAtFlushPoint(const std::string &point) {
		CreateTable(2000);
		DuckpipeOk({"add-table", "public.acct"});
		auto daemon = StartDaemon({}, {{"DUCKPIPE_CRASH_POINT", point}});
		ASSERT_TRUE(WaitTableState("public.acct", "STREAMING", 60s)) << TableState("public.acct");
		ASSERT_TRUE(LakeEqualsSource("public.acct"));
		WriteRounds(0, 50);
		// The first flush after the copy hits the crash point.
		EXPECT_EQ(daemon->Wait(30s), 137) << "the daemon did not die at " << point;
		WriteRounds(50, 100); // while it is down
		auto restarted = StartDaemon();
		WriteRounds(100, 150);
		EXPECT_TRUE(WaitLakeEqualsSource("public.acct"));
		EXPECT_EQ(restarted->Terminate(), 0);
		EXPECT_NE(daemon->Log().find("crash_point"), std::string::npos);
	}
};

TEST_F(RecoveryTest, SigtermExitsCleanlyAndResumes) {
	CreateTable(3000);
	DuckpipeOk({"add-table", "public.acct"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.acct", "STREAMING"));
	WriteRounds(0, 50);
	ASSERT_TRUE(WaitLakeEqualsSource("public.acct"));
	WriteRounds(50, 80); // possibly still buffered at SIGTERM: flushed or replayed, never lost
	EXPECT_EQ(daemon->Terminate(), 0);
	EXPECT_NE(daemon->Log().find("pipeline.stopped"), std::string::npos);
	WriteRounds(80, 150); // while it is down
	auto restarted = StartDaemon();
	EXPECT_TRUE(WaitLakeEqualsSource("public.acct"));
	WriteRounds(150, 200);
	EXPECT_TRUE(WaitLakeEqualsSource("public.acct"));
	EXPECT_EQ(restarted->Terminate(), 0);
}

TEST_F(RecoveryTest, KillDashNineWhileStreaming) {
	CreateTable(5000);
	DuckpipeOk({"add-table", "public.acct"});
	auto daemon = StartDaemon({}, {}, 200);
	ASSERT_TRUE(WaitTableState("public.acct", "STREAMING"));
	std::atomic<bool> stop{false};
	std::atomic<int> round{0};
	std::thread writer([&] {
		auto conn = Connect();
		while (!stop.load() && round.load() < 3000) {
			WriteRound(*conn, round.fetch_add(1));
			std::this_thread::sleep_for(2ms);
		}
	});
	// Kill it twice while the writer runs, at different moments of the flush cycle.
	for (int kill = 0; kill < 2; kill++) {
		std::this_thread::sleep_for(kill == 0 ? 1500ms : 1100ms);
		EXPECT_EQ(daemon->Kill(), 128 + 9);
		std::this_thread::sleep_for(300ms);
		daemon = StartDaemon({}, {}, 200);
	}
	std::this_thread::sleep_for(1500ms);
	stop.store(true);
	writer.join();
	EXPECT_GT(round.load(), 50);
	EXPECT_TRUE(WaitLakeEqualsSource("public.acct", 90s));
	EXPECT_EQ(daemon->Terminate(), 0);
}

TEST_F(RecoveryTest, CrashBeforeFlushCommit) {
	CrashAtFlushPoint("flush_before_commit");
}

TEST_F(RecoveryTest, CrashAfterFlushCommit) {
	CrashAtFlushPoint("flush_after_commit");
}

TEST_F(RecoveryTest, CrashBeforeCopyCommit) {
	CreateTable(20000);
	DuckpipeOk({"add-table", "public.acct"});
	auto daemon = StartDaemon({}, {{"DUCKPIPE_CRASH_POINT", "copy_before_commit"}});
	EXPECT_EQ(daemon->Wait(60s), 137) << "the daemon did not die at copy_before_commit";
	EXPECT_EQ(LakeCount("public.acct_ducklake"), -1); // the copy never committed
	WriteRounds(0, 50);
	auto restarted = StartDaemon();
	WriteRounds(50, 100);
	ASSERT_TRUE(WaitTableState("public.acct", "STREAMING", 60s)) << TableState("public.acct");
	EXPECT_TRUE(WaitLakeEqualsSource("public.acct"));
	// The temporary copy slot died with the crashed daemon's connection.
	EXPECT_EQ(Scalar("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'duckpipe_copy_%'"), "0");
	EXPECT_EQ(restarted->Terminate(), 0);
}

} // namespace duckpipe::test
