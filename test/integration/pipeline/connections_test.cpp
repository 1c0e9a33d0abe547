// A running daemon keeps its connections (no connection per poll or per table start), and the
// harness tells a lake that cannot be read from one that is not there yet.
#include "harness/pipeline_fixture.hpp"

#include <gtest/gtest-spi.h>

#include <filesystem>

namespace duckpipe::test {

class ConnectionsTest : public PipelineTest {
protected:
	int64_t Sessions() {
		return std::stoll(Scalar("SELECT sessions FROM pg_stat_database WHERE datname = current_database()"));
	}
	// The daemon's backends, as "pid started-at" lines.
	std::string DaemonBackends() {
		std::string out;
		for (auto &row : Sql("SELECT pid, backend_start FROM pg_stat_activity WHERE datname = current_database() "
		                     "AND application_name LIKE 'pg_duckpipe%' ORDER BY pid")) {
			out += row[0] + " " + row[1] + "\n";
		}
		return out;
	}
};

TEST_F(ConnectionsTest, IdleStreamingOpensNoConnections) {
	Sql("CREATE TABLE public.a (id int PRIMARY KEY, v text)");
	Sql("CREATE TABLE public.b (id int PRIMARY KEY, v text)");
	DuckpipeOk({"add-table", "public.a"});
	DuckpipeOk({"add-table", "public.b"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.a", "STREAMING"));
	ASSERT_TRUE(WaitTableState("public.b", "STREAMING"));
	Sql("INSERT INTO public.a VALUES (1, 'x')");
	ASSERT_TRUE(WaitLakeEqualsSource("public.a"));
	// The compaction scheduler keeps one catalog session, opened at its first pass over streaming
	// tables: part of the daemon's steady set.
	ASSERT_TRUE(WaitFor(
	    [&] {
		    return Scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_duckpipe compaction'") ==
		           "1";
	    },
	    20s));
	// Settled: the connections of the test's own commands and lake reads are counted.
	int64_t last = Sessions();
	ASSERT_TRUE(WaitFor(
	    [&] {
		    int64_t now = Sessions();
		    bool same = now == last;
		    last = now;
		    return same;
	    },
	    20s, 1500ms));
	auto backends = DaemonBackends();
	EXPECT_NE(backends, "");
	int64_t before = Sessions();
	// A few seconds of idle streaming: not one new session.
	EXPECT_FALSE(WaitFor([&] { return Sessions() != before; }, 5s, 250ms))
	    << Sessions() - before << " sessions opened while idle";
	EXPECT_EQ(DaemonBackends(), backends);
	EXPECT_EQ(daemon->Terminate(), 0);
}

class HarnessTest : public PipelineTest {};

// A lake that cannot be read (its Parquet files gone) fails a wait at once, with DuckDB's reason,
// instead of looking like a lake that is not there yet until the timeout.
TEST_F(HarnessTest, AnUnreadableLakeFailsTheWaitAtOnce) {
	Sql("CREATE TABLE public.u (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.u SELECT g, 'u' FROM generate_series(1, 100) g");
	DuckpipeOk({"add-table", "public.u"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitLakeEqualsSource("public.u"));
	EXPECT_EQ(daemon->Terminate(), 0);
	for (const auto &entry : std::filesystem::recursive_directory_iterator(data_path_)) {
		if (entry.path().extension() == ".parquet") {
			std::filesystem::remove(entry.path());
		}
	}
	::testing::TestPartResultArray failures;
	bool ok = true;
	auto start = std::chrono::steady_clock::now();
	{
		::testing::ScopedFakeTestPartResultReporter reporter(
		    ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
		ok = WaitFor([&] { return LakeCount("public.u_ducklake") == 101; }, 30s);
	}
	EXPECT_FALSE(ok);
	EXPECT_LT(std::chrono::steady_clock::now() - start, 10s) << "the wait ran into its timeout";
	ASSERT_EQ(failures.size(), 1);
	std::string message = failures.GetTestPartResult(0).message();
	EXPECT_NE(message.find("awaited condition failed"), std::string::npos) << message;
	EXPECT_NE(message.find(".parquet"), std::string::npos) << message;
}

} // namespace duckpipe::test
