// The backend's query engine (issue 11): one DuckDB per backend reused across statements, a new
// lake snapshot seen by the next statement (and not within one), views of dropped lake tables gone,
// statement_timeout and cancel interrupting a long DuckDB query, and the memory limit spilling under
// the backend's temp directory. The lake is filled by the real daemon.
#include "core/common/error.hpp"
#include "harness/daemon_lake_fixture.hpp"

#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <future>
#include <sys/file.h>
#include <unistd.h>

namespace duckpipe::test {

namespace {

// The module is preloaded in this binary's cluster (the private PostgreSQL tree).
[[maybe_unused]] const bool kExtensionCluster = [] {
	PgCluster::SharedOptions().extension = true;
	return true;
}();

int ThreadsOf(const std::string &pid) {
	std::ifstream status("/proc/" + pid + "/status");
	std::string line;
	while (std::getline(status, line)) {
		if (line.rfind("Threads:", 0) == 0) {
			return std::stoi(line.substr(8));
		}
	}
	return -1;
}

std::string One(PgConnection &conn, const std::string &sql) {
	return std::string(conn.Exec(sql).Get(0, 0));
}

struct Failure {
	std::string sqlstate;
	std::string message;
	std::chrono::milliseconds took{0};
};

Failure FailureOf(PgConnection &conn, const std::string &sql) {
	auto start = std::chrono::steady_clock::now();
	Failure out{"", "no error"};
	try {
		conn.Exec(sql);
	} catch (const Error &e) {
		out = {e.Context().sqlstate, e.Message()};
	}
	out.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
	return out;
}

} // namespace

class QueryEngineTest : public DaemonLakeTest {
protected:
	// A source table of `rows` rows (id, note) with its lake relation, synced by the daemon.
	void CreateSynced(const std::string &table, int rows) {
		Sql("CREATE TABLE public." + table + " (id int PRIMARY KEY, note text)");
		Sql("INSERT INTO public." + table + " SELECT g, 'n' || g FROM generate_series(1, " + std::to_string(rows) +
		    ") g");
		Sql("SELECT duckpipe.create_target_relation('public." + table + "', 'public', '" + table +
		    "_ducklake', 'upsert')");
		DuckpipeOk({"add-table", "public." + table, "--group", kGroup});
	}

	static std::string Status(PgConnection &conn, const std::string &column) {
		return One(conn, "SELECT " + column + "::text FROM duckpipe.query_engine_status()");
	}
};

TEST_F(QueryEngineTest, OneDuckDBServesEveryStatementAndFollowsTheLake) {
	CreateSynced("orders", 10);
	CreateSynced("other", 3);
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT count(*) FROM public.orders_ducklake") == "10"; }, 60s, 100ms))
	    << LogTail();
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT count(*) FROM public.other_ducklake") == "3"; }, 60s, 100ms));

	auto reader = Connect();
	std::string pid = One(*reader, "SELECT pg_backend_pid()");
	EXPECT_EQ(Status(*reader, "running"), "false");
	EXPECT_EQ(Status(*reader, "instances_created"), "0");
	// Reads through the relation and through duckpipe.query share one DuckDB and one catalog load.
	for (int i = 0; i < 3; i++) {
		EXPECT_EQ(One(*reader, "SELECT count(*) FROM public.orders_ducklake"), "10");
		EXPECT_EQ(One(*reader, "SELECT q->>'n' FROM duckpipe.query('SELECT count(*) AS n FROM "
		                       "public.orders_ducklake') q"),
		          "10");
	}
	EXPECT_EQ(Status(*reader, "running"), "true");
	EXPECT_EQ(Status(*reader, "instances_created"), "1");
	EXPECT_EQ(Status(*reader, "catalog_loads"), "1");
	EXPECT_EQ(Status(*reader, "memory_mb"), "1024");
	EXPECT_EQ(Status(*reader, "threads"), "2");
	std::string temp = Status(*reader, "temp_directory");
	EXPECT_TRUE(temp.starts_with(Cluster().DataDir() + "/pg_duckpipe/tmp/duckpipe-query-backend_" + pid + "-")) << temp;
	// A join of two lake relations: two scans streaming at once, each on its own connection.
	EXPECT_EQ(One(*reader, "SELECT count(*) FROM public.orders_ducklake o JOIN public.other_ducklake t USING (id)"),
	          "3");

	// A new snapshot: the next statement sees it, with the same DuckDB.
	Sql("INSERT INTO public.orders SELECT g, 'n' || g FROM generate_series(11, 15) g");
	ASSERT_TRUE(
	    WaitFor([&] { return One(*reader, "SELECT count(*) FROM public.orders_ducklake") == "15"; }, 60s, 100ms));
	EXPECT_EQ(Status(*reader, "instances_created"), "1");
	EXPECT_EQ(Status(*reader, "snapshot_id"), Scalar("SELECT max(snapshot_id) FROM ducklake.ducklake_snapshot"));

	// Within one statement every read sees the snapshot of its first: a function reads, waits (holding
	// advisory lock 7 to say so) until the lake has a newer snapshot, and reads again.
	Sql(R"(CREATE FUNCTION public.two_reads() RETURNS text LANGUAGE plpgsql AS $$
DECLARE c1 bigint; c2 bigint; s0 bigint; deadline timestamptz := clock_timestamp() + interval '60 s';
BEGIN
    SELECT count(*) INTO c1 FROM public.orders_ducklake;
    SELECT max(snapshot_id) INTO s0 FROM ducklake.ducklake_snapshot;
    PERFORM pg_advisory_lock(7);
    WHILE (SELECT max(snapshot_id) FROM ducklake.ducklake_snapshot) = s0 AND clock_timestamp() < deadline LOOP
        PERFORM pg_sleep(0.05);
    END LOOP;
    SELECT count(*) INTO c2 FROM public.orders_ducklake;
    PERFORM pg_advisory_unlock(7);
    RETURN c1 || ',' || c2 || ',' || (SELECT count(*) FROM duckpipe.query('SELECT * FROM public.orders_ducklake'));
END $$)");
	auto two = std::async(std::launch::async, [&] { return One(*reader, "SELECT public.two_reads()"); });
	ASSERT_TRUE(WaitFor(
	    [&] {
		    return Scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 7 AND pid = " + pid) ==
		           "1";
	    },
	    30s, 20ms));
	Sql("INSERT INTO public.orders SELECT g, 'n' || g FROM generate_series(16, 20) g");
	ASSERT_EQ(two.wait_for(90s), std::future_status::ready);
	EXPECT_EQ(two.get(), "15,15,15");
	EXPECT_EQ(One(*reader, "SELECT count(*) FROM public.orders_ducklake"), "20");

	// DROP TABLE of a lake relation: its view is gone from the engine's DuckDB at the next statement.
	EXPECT_EQ(One(*reader, "SELECT q->>'n' FROM duckpipe.query('SELECT count(*) AS n FROM public.other_ducklake') q"),
	          "3");
	Sql("DROP TABLE public.other_ducklake");
	auto gone = FailureOf(*reader, "SELECT * FROM duckpipe.query('SELECT count(*) FROM public.other_ducklake')");
	EXPECT_NE(gone.message.find("other_ducklake does not exist"), std::string::npos) << gone.message;
	EXPECT_EQ(One(*reader, "SELECT count(*) FROM public.orders_ducklake"), "20");
	EXPECT_EQ(Status(*reader, "instances_created"), "1");
	EXPECT_EQ(daemon->Terminate(), 0);
}

// A backend's first query binds the views of the tables it reads, not one per lake table (each
// binding reads Parquet footers: in a lake of many tables that was the first query's cost).
TEST_F(QueryEngineTest, AStatementCreatesOnlyTheViewsOfTheLakeTablesItReads) {
	CreateSynced("orders", 10);
	CreateSynced("other", 3);
	CreateSynced("third", 2);
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT count(*) FROM public.orders_ducklake") == "10"; }, 60s, 100ms))
	    << LogTail();
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT count(*) FROM public.other_ducklake") == "3"; }, 60s, 100ms));
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT count(*) FROM public.third_ducklake") == "2"; }, 60s, 100ms));

	auto reader = Connect();
	EXPECT_EQ(One(*reader, "SELECT count(*) FROM public.orders_ducklake"), "10");
	EXPECT_EQ(Status(*reader, "views_created"), "1");
	// A join adds the view of its other table.
	EXPECT_EQ(One(*reader, "SELECT count(*) FROM public.orders_ducklake o JOIN public.other_ducklake t USING (id)"),
	          "3");
	EXPECT_EQ(Status(*reader, "views_created"), "2");
	// duckpipe.query() runs any DuckDB SQL: every table's view, once.
	for (int i = 0; i < 2; i++) {
		EXPECT_EQ(One(*reader, "SELECT q->>'n' FROM duckpipe.query('SELECT count(*) AS n FROM "
		                       "public.third_ducklake') q"),
		          "2");
		EXPECT_EQ(Status(*reader, "views_created"), "3");
	}
	// A new snapshot of one table: its view is re-created when it is read, the others' are kept.
	Sql("INSERT INTO public.orders SELECT g, 'n' || g FROM generate_series(11, 15) g");
	ASSERT_TRUE(
	    WaitFor([&] { return One(*reader, "SELECT count(*) FROM public.orders_ducklake") == "15"; }, 60s, 100ms));
	EXPECT_EQ(Status(*reader, "views_created"), "4");
	EXPECT_EQ(One(*reader, "SELECT count(*) FROM public.orders_ducklake o JOIN public.other_ducklake t USING (id)"),
	          "3");
	EXPECT_EQ(One(*reader, "SELECT q->>'n' FROM duckpipe.query('SELECT count(*) AS n FROM public.orders_ducklake') q"),
	          "15");
	EXPECT_EQ(Status(*reader, "views_created"), "4");
	EXPECT_EQ(Status(*reader, "instances_created"), "1");
	EXPECT_EQ(daemon->Terminate(), 0);
}

// DuckDB starts on a thread of its own at a backend's first read, while the catalog loads. A first
// read that finds no lake leaves it started, unused; the read once the lake exists uses it if the
// settings are still those it was started with, else a DuckDB of the new settings: one instance
// either way.
TEST_F(QueryEngineTest, TheDuckDBStartedBeforeTheLakeExistedServesItsFirstRead) {
	auto reader = Connect();
	auto none = FailureOf(*reader, "SELECT * FROM duckpipe.query('SELECT 1 AS one')");
	ASSERT_NE(none.message.find("no lake yet"), std::string::npos) << none.message;
	EXPECT_EQ(Status(*reader, "running"), "false");
	auto other = Connect();
	EXPECT_NE(FailureOf(*other, "SELECT * FROM duckpipe.query('SELECT 1 AS one')").message.find("no lake yet"),
	          std::string::npos);
	other->Exec("SET duckpipe.query_memory_mb = 64");

	CreateSynced("orders", 10);
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT count(*) FROM public.orders_ducklake") == "10"; }, 60s, 100ms))
	    << LogTail();
	// Started with the settings in force: used.
	EXPECT_EQ(One(*reader, "SELECT sum(id) FROM public.orders_ducklake"), "55");
	EXPECT_EQ(Status(*reader, "instances_created"), "1");
	EXPECT_EQ(Status(*reader, "memory_mb"), "1024");
	// Started at 1024 MB, read at 64 MB: that one closed, one of 64 MB.
	EXPECT_EQ(One(*other, "SELECT sum(id) FROM public.orders_ducklake"), "55");
	EXPECT_EQ(Status(*other, "instances_created"), "1");
	EXPECT_EQ(Status(*other, "memory_mb"), "64");
	EXPECT_EQ(daemon->Terminate(), 0);
}

TEST_F(QueryEngineTest, StatementTimeoutAndCancelInterruptALongDuckDBQuery) {
	CreateSynced("big", 3000);
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT count(*) FROM public.big_ducklake") == "3000"; }, 60s, 100ms))
	    << LogTail();
	EXPECT_EQ(daemon->Terminate(), 0);
	// 2.7e10 rows to count: far longer than any test.
	const std::string endless = "SELECT * FROM duckpipe.query('SELECT count(*) FROM public.big_ducklake a, "
	                            "public.big_ducklake b, public.big_ducklake c')";
	auto reader = Connect();
	std::string pid = One(*reader, "SELECT pg_backend_pid()");
	reader->Exec("SET statement_timeout = '500ms'");
	auto timeout = FailureOf(*reader, endless);
	EXPECT_EQ(timeout.sqlstate, "57014");
	EXPECT_NE(timeout.message.find("canceling statement due to statement timeout"), std::string::npos)
	    << timeout.message;
	EXPECT_LT(timeout.took, 2500ms);
	reader->Exec("RESET statement_timeout");
	// The backend and its DuckDB go on.
	EXPECT_EQ(One(*reader, "SELECT count(*) FROM public.big_ducklake"), "3000");
	EXPECT_EQ(One(*reader, "SELECT q->>'n' FROM duckpipe.query('SELECT count(*) AS n FROM public.big_ducklake') q"),
	          "3000");

	// Ctrl-C (pg_cancel_backend) while DuckDB works.
	auto cancelled = std::async(std::launch::async, [&] { return FailureOf(*reader, endless); });
	ASSERT_TRUE(WaitFor(
	    [&] {
		    return Scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid +
		                  " AND state = 'active' AND clock_timestamp() - query_start > interval '300 ms'") == "1";
	    },
	    30s, 10ms));
	auto cancelled_at = std::chrono::steady_clock::now();
	Sql("SELECT pg_cancel_backend(" + pid + ")");
	ASSERT_EQ(cancelled.wait_for(10s), std::future_status::ready) << "the query did not end within 10 s of the cancel";
	auto ended_in = std::chrono::steady_clock::now() - cancelled_at;
	auto failure = cancelled.get();
	EXPECT_EQ(failure.sqlstate, "57014");
	EXPECT_NE(failure.message.find("canceling statement due to user request"), std::string::npos) << failure.message;
	EXPECT_LT(ended_in, 2s);
	EXPECT_EQ(One(*reader, "SELECT count(*) FROM public.big_ducklake"), "3000");
	EXPECT_EQ(Status(*reader, "instances_created"), "1");
	// The backend's threads: its own, the one its DuckDB calls run on while it waits (DuckWait), and
	// DuckDB's one worker (duckpipe.query_threads = 2), no more.
	EXPECT_EQ(ThreadsOf(pid), 3);

	// pg_terminate_backend while DuckDB works: the backend exits (closing its DuckDB, whose worker
	// thread is alive) without crashing the server.
	std::string started = Scalar("SELECT pg_postmaster_start_time()");
	auto doomed = Connect();
	std::string doomed_pid = One(*doomed, "SELECT pg_backend_pid()");
	auto terminated = std::async(std::launch::async, [&] { return FailureOf(*doomed, endless); });
	ASSERT_TRUE(WaitFor(
	    [&] {
		    return Scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = " + doomed_pid +
		                  " AND state = 'active' AND clock_timestamp() - query_start > interval '300 ms'") == "1";
	    },
	    30s, 10ms));
	Sql("SELECT pg_terminate_backend(" + doomed_pid + ")");
	ASSERT_EQ(terminated.wait_for(10s), std::future_status::ready);
	terminated.get(); // libpq reports the connection closed
	// PostgreSQL's own exit path ran (the FATAL is logged), and nothing crashed.
	EXPECT_NE(Cluster().ServerLog().find("FATAL:  terminating connection due to administrator command"),
	          std::string::npos);
	EXPECT_TRUE(WaitFor(
	    [&] { return Scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = " + doomed_pid) == "0"; }, 10s, 20ms));
	EXPECT_EQ(Scalar("SELECT pg_postmaster_start_time()"), started);
	EXPECT_EQ(Cluster().ServerLog().find("terminated by signal"), std::string::npos);
	EXPECT_EQ(One(*reader, "SELECT count(*) FROM public.big_ducklake"), "3000");
}

// A streaming result whose first rows come at once and whose next chunk takes DuckDB "forever" (a
// selective three-way cross join after a UNION ALL's fast branch): the fetch of that chunk, inside
// which DuckDB's tasks run with no check of PostgreSQL's between them, is interrupted by
// statement_timeout and by pg_cancel_backend, and the backend then answers the next query.
TEST_F(QueryEngineTest, StatementTimeoutAndCancelInterruptTheFetchOfAChunk) {
	CreateSynced("wide", 3000);
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT count(*) FROM public.wide_ducklake") == "3000"; }, 60s, 100ms))
	    << LogTail();
	EXPECT_EQ(daemon->Terminate(), 0);
	// Run whole in DuckDB (only lake relations), streamed: 1M rows of the first branch fill DuckDB's
	// result buffer, then 2.7e10 combinations yield none.
	const std::string slow = "SELECT a.id FROM public.wide_ducklake a, public.wide_ducklake b WHERE b.id <= 334 "
	                         "UNION ALL SELECT a.id FROM public.wide_ducklake a, public.wide_ducklake b, "
	                         "public.wide_ducklake c WHERE a.id + b.id + c.id = 0";
	auto reader = Connect();
	std::string pid = One(*reader, "SELECT pg_backend_pid()");
	auto plan = reader->Exec("EXPLAIN (COSTS OFF) " + slow);
	ASSERT_NE(std::string(plan.Get(0, 0)).find("DuckDB"), std::string::npos) << plan.Get(0, 0);
	// Ends in any case (SIGKILL once it is clear that the query cannot be interrupted), so that a
	// failure does not leave the test hanging on a backend stuck in DuckDB.
	auto outcome = [&](std::future<Failure> &running) {
		bool ended = running.wait_for(60s) == std::future_status::ready;
		if (!ended) {
			kill(std::stoi(pid), SIGKILL);
		}
		return ended;
	};

	reader->Exec("SET statement_timeout = '4s'");
	auto timed = std::async(std::launch::async, [&] { return FailureOf(*reader, slow); });
	ASSERT_TRUE(outcome(timed)) << "statement_timeout did not interrupt the fetch";
	auto timeout = timed.get();
	EXPECT_EQ(timeout.sqlstate, "57014");
	EXPECT_NE(timeout.message.find("canceling statement due to statement timeout"), std::string::npos)
	    << timeout.message;
	reader->Exec("RESET statement_timeout");
	EXPECT_EQ(One(*reader, "SELECT count(*) FROM public.wide_ducklake"), "3000");

	// Cancelled once past the fast branch (running 4 s), within the chunk that never comes.
	auto cancelled = std::async(std::launch::async, [&] { return FailureOf(*reader, slow); });
	ASSERT_TRUE(WaitFor(
	    [&] {
		    return Scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid +
		                  " AND state = 'active' AND clock_timestamp() - query_start > interval '4 s'") == "1";
	    },
	    60s, 50ms));
	Sql("SELECT pg_cancel_backend(" + pid + ")");
	ASSERT_TRUE(outcome(cancelled)) << "pg_cancel_backend did not interrupt the fetch";
	auto failure = cancelled.get();
	EXPECT_EQ(failure.sqlstate, "57014");
	EXPECT_NE(failure.message.find("canceling statement due to user request"), std::string::npos) << failure.message;
	EXPECT_EQ(One(*reader, "SELECT count(*) FROM public.wide_ducklake"), "3000");
}

TEST_F(QueryEngineTest, AQueryLargerThanTheMemoryLimitSpillsUnderTheBackendsTempDirectory) {
	CreateSynced("small", 5);
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT count(*) FROM public.small_ducklake") == "5"; }, 60s, 100ms))
	    << LogTail();
	EXPECT_EQ(daemon->Terminate(), 0);
	auto reader = Connect();
	std::string pid = One(*reader, "SELECT pg_backend_pid()");
	EXPECT_EQ(One(*reader, "SELECT count(*) FROM public.small_ducklake"), "5");
	std::string first = Status(*reader, "temp_directory");
	EXPECT_TRUE(first.starts_with(Cluster().DataDir() + "/pg_duckpipe/tmp/duckpipe-query-backend_" + pid + "-"))
	    << first;
	EXPECT_FALSE(std::filesystem::exists(first + "/spill")) << "nothing spilled yet";
	// A sort of ~90 MB under a 64 MB limit: a new DuckDB with the new limit, spilling under temp.
	reader->Exec("SET duckpipe.query_memory_mb = '64MB'");
	auto got = One(*reader, "SELECT (q->>'n') || ',' || (q->>'h') FROM duckpipe.query('SELECT count(*) AS n, "
	                        "sum(r * (i % 7)) AS h FROM (SELECT i, row_number() OVER (ORDER BY s) AS r FROM (SELECT "
	                        "i, md5(CAST(i AS VARCHAR)) || repeat(''x'', 40) AS s FROM range(1000000) t(i)))') q");
	EXPECT_EQ(got, Scalar("SELECT count(*) || ',' || sum(r * (i % 7)) FROM (SELECT i, row_number() OVER (ORDER BY "
	                      "md5(i::text) || repeat('x', 40) COLLATE \"C\") AS r FROM generate_series(0, 999999) i) t"));
	std::string temp = Status(*reader, "temp_directory");
	EXPECT_NE(temp, first);
	EXPECT_FALSE(std::filesystem::exists(first)) << "the replaced instance's directory stayed";
	EXPECT_TRUE(std::filesystem::exists(temp + "/spill")) << "DuckDB spilled elsewhere";
	EXPECT_EQ(Status(*reader, "memory_mb"), "64");
	EXPECT_EQ(Status(*reader, "instances_created"), "2");
	EXPECT_EQ(One(*reader, "SELECT count(*) FROM public.small_ducklake"), "5");
	// Locked while the backend lives: a sweep leaves it alone.
	{
		int fd = open(temp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ASSERT_GE(fd, 0) << temp;
		EXPECT_NE(flock(fd, LOCK_EX | LOCK_NB), 0) << "no process holds " << temp;
		close(fd);
	}
	// The temp directory goes with the backend.
	reader.reset();
	EXPECT_TRUE(WaitFor([&] { return !std::filesystem::exists(temp); }, 10s, 50ms)) << temp << " left behind";
}

} // namespace duckpipe::test
