// A running daemon keeps its connections: no connection is opened per poll or per table start.
#include "harness/pipeline_fixture.hpp"

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

} // namespace duckpipe::test
