// Crashes and restarts: kill -9 mid-stream and SIGTERM. After a restart the lake must equal the
// source exactly: nothing lost, nothing applied twice. Crash points: crash_matrix_test.cpp.
#include "core/pg/pg_connection.hpp"
#include "harness/pipeline_fixture.hpp"

#include <atomic>
#include <filesystem>
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
	// The change buffers' private directories in the daemon's temp dir.
	std::vector<std::string> BufferDirectories() const {
		std::vector<std::string> out;
		for (const auto &entry : std::filesystem::directory_iterator(temp_path_)) {
			if (entry.path().filename().string().starts_with("duckpipe-buffer-")) {
				out.push_back(entry.path().string());
			}
		}
		return out;
	}
	void WriteRounds(int from, int to) {
		auto conn = Connect();
		for (int r = from; r < to; r++) {
			WriteRound(*conn, r);
		}
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

// A runner killed while it buffers runs no destructor: its buffer's private directory, with whatever
// spilled, stays in the temp dir. The next start removes it (it would pile up until the disk fills)
// and keeps the rows: they come again from the slot.
TEST_F(RecoveryTest, AKilledRunnersSpillDirectoryIsRemovedAtTheNextStart) {
	CreateTable(1000);
	DuckpipeOk({"add-table", "public.acct"});
	// Flushes far apart: the buffer of the rounds below stays open until the kill.
	auto daemon = StartDaemon({}, {}, 600000);
	ASSERT_TRUE(WaitTableState("public.acct", "STREAMING"));
	ASSERT_TRUE(WaitLakeEqualsSource("public.acct"));
	WriteRounds(0, 40);
	// More than the worker keeps in memory before it opens its DuckDB buffer (256 KB).
	Sql("INSERT INTO public.acct SELECT 2000000 + g, g, repeat('x', 100) FROM generate_series(1, 20000) g");
	ASSERT_TRUE(WaitFor([&] { return !BufferDirectories().empty(); }, 30s)) << LogTail();
	auto left = BufferDirectories();
	EXPECT_EQ(daemon->Kill(), 128 + 9);
	for (const auto &dir : left) {
		EXPECT_TRUE(std::filesystem::exists(dir)) << dir << " was removed by a killed process";
	}
	daemon = StartDaemon();
	EXPECT_TRUE(WaitLakeEqualsSource("public.acct"));
	for (const auto &dir : left) {
		EXPECT_FALSE(std::filesystem::exists(dir)) << dir << " outlived its killed owner";
	}
	EXPECT_EQ(CountLog("event=temp.swept"), 1) << LogTail();
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
