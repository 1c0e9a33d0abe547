// The extension's background workers on a real server with pg_duckpipe preloaded: streaming into
// the lake, wake-ups, restart recovery (fast and immediate stops mid-stream) and a failing worker
// restarted alone. Tables are added with the daemon's add-table and the worker is woken with
// duckpipe.wake_worker(), as add_table does: the worker is tested apart from the SQL API (which the
// regress suite and extension_ops drive).
#include "core/lake/catalog_loader.hpp"
#include "core/lake/lake_reader.hpp"
#include "core/meta/group_lock.hpp"
#include "core/pg/pg_connection.hpp"
#include "harness/daemon_process.hpp"
#include "harness/extension_fixture.hpp"
#include "harness/lake_text.hpp"
#include "harness/pg_cluster.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace duckpipe::test {
namespace {

using namespace std::chrono_literals;
using Rows = std::vector<std::vector<std::string>>;

class ExtensionWorkerTest : public ExtensionTest {
protected:
	ExtensionWorkerTest() : ExtensionTest("ext_worker") {}

	// Waits until the lake table holds exactly the source table's rows (id, v as text).
	::testing::AssertionResult WaitLakeEqualsSource(const std::string &table, std::chrono::milliseconds timeout = 60s,
	                                                const std::string &db = "") {
		Rows source;
		Rows lake;
		bool same = WaitFor(
		    [&] {
			    source = Sql("SELECT id::text, coalesce(v, 'NULL') FROM " + table + " ORDER BY id", db);
			    // QueryAsText wraps the query: its order is lost, compare as sorted multisets.
			    lake = Lake("SELECT CAST(id AS VARCHAR), v FROM " + table + "_ducklake", db);
			    std::sort(source.begin(), source.end());
			    std::sort(lake.begin(), lake.end());
			    return source == lake;
		    },
		    timeout);
		if (same) {
			return ::testing::AssertionSuccess();
		}
		auto first = [](const Rows &rows) {
			return rows.empty() ? std::string("(none)") : rows[0][0] + "|" + rows[0][1];
		};
		return ::testing::AssertionFailure()
		       << "source has " << source.size() << " rows, lake " << lake.size() << "; first source row "
		       << first(source) << ", first lake row " << first(lake);
	}

	// The server log's last lines, for failure messages.
	static std::string LogTail(size_t lines = 150) {
		auto log = Cluster().ServerLog();
		size_t at = log.size();
		for (size_t n = 0; n <= lines && at != std::string::npos && at > 0; n++) {
			at = log.rfind('\n', at - 1);
		}
		return at == std::string::npos ? log : log.substr(at);
	}

	// The worker's lake data path (the default: one directory per database under $PGDATA).
	std::string LakePath() {
		return Cluster().DataDir() + "/pg_duckpipe/lake/" +
		       Scalar("SELECT oid FROM pg_database WHERE datname = current_database()") + "/";
	}

	void AddTable(const std::string &table) {
		auto result = RunDuckpipe({"--source", Conninfo(), "add-table", table});
		ASSERT_EQ(result.exit_code, 0) << result.output;
		Sql("SELECT duckpipe.wake_worker('default')");
	}

	void Reload(const std::string &alter) {
		Cluster().Psql(db_, alter);
		Cluster().Psql(db_, "SELECT pg_reload_conf()");
	}
};

TEST_F(ExtensionWorkerTest, StreamsSnapshotUpdatesAndDeletes) {
	Sql("CREATE TABLE public.items (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.items SELECT g, 'v' || g FROM generate_series(1, 50) g");
	AddTable("public.items");
	ASSERT_TRUE(WaitLakeEqualsSource("public.items"));
	EXPECT_EQ(Workers(), 1);
	Sql("UPDATE public.items SET v = 'u' || id WHERE id <= 10");
	Sql("DELETE FROM public.items WHERE id > 40");
	Sql("INSERT INTO public.items VALUES (100, 'new'), (101, NULL)");
	ASSERT_TRUE(WaitLakeEqualsSource("public.items"));
	EXPECT_EQ(Lake("SELECT count(*) FROM public.items_ducklake WHERE v LIKE 'u%'"), Rows({{"10"}}));
	// Monitoring sees the table and the running worker.
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT state FROM duckpipe.status()") == "STREAMING"; }, 30s));
	EXPECT_EQ(Sql("SELECT sync_group, source_table, target_table FROM duckpipe.status()"),
	          Rows({{"default", "public.items", "public.items_ducklake"}}));
	EXPECT_EQ(Scalar("SELECT running FROM duckpipe.worker_status() WHERE sync_group = 'default'"), "t");
	EXPECT_EQ(Scalar("SELECT jsonb_array_length(duckpipe.metrics()->'tables')"), "1");
	// Live figures come from shared memory, refreshed by the worker every second at most.
	EXPECT_TRUE(WaitFor(
	    [&] { return Scalar("SELECT (duckpipe.metrics()->'tables'->0->>'flush_count')::int > 0") == "t"; }, 10s));
}

// A change through the API reaches a running worker at once, whatever duckpipe.poll_interval says.
TEST_F(ExtensionWorkerTest, WakeReachesWorkerWithLongPollInterval) {
	Reload("ALTER SYSTEM SET duckpipe.poll_interval = '1h'");
	Sql("CREATE TABLE public.first (id int PRIMARY KEY, v text)");
	Sql("CREATE TABLE public.second (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.first VALUES (1, 'a')");
	Sql("INSERT INTO public.second VALUES (1, 'b'), (2, 'c')");
	AddTable("public.first");
	EXPECT_TRUE(WaitLakeEqualsSource("public.first", 30s));
	AddTable("public.second");
	EXPECT_TRUE(WaitLakeEqualsSource("public.second", 30s));
	Reload("ALTER SYSTEM RESET duckpipe.poll_interval");
}

// pg_ctl stop -m fast and -m immediate while changes are in flight: the worker comes back by
// itself after each start, and the lake ends with every row exactly once.
TEST_F(ExtensionWorkerTest, RestartRecoveryLosesAndDuplicatesNothing) {
	Sql("CREATE TABLE public.events (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.events SELECT g, 'snap' FROM generate_series(1, 100) g");
	AddTable("public.events");
	ASSERT_TRUE(WaitLakeEqualsSource("public.events"));
	int next = 101;
	auto write = [&](int transactions) {
		for (int t = 0; t < transactions; t++, next += 50) {
			Sql("INSERT INTO public.events SELECT g, 'w' || g FROM generate_series(" + std::to_string(next) + ", " +
			    std::to_string(next + 49) + ") g");
			Sql("UPDATE public.events SET v = 'u' || id WHERE id % 7 = " + std::to_string(t % 7));
		}
	};
	for (const char *mode : {"fast", "immediate"}) {
		SCOPED_TRACE(mode);
		auto started = Scalar("SELECT pg_postmaster_start_time()");
		write(20);
		Cluster().Stop(mode);
		Cluster().Start();
		ASSERT_NE(Scalar("SELECT pg_postmaster_start_time()"), started);
		// Nobody calls start_worker: the launcher brings the worker back.
		ASSERT_TRUE(WaitFor([&] { return Workers() == 1; }, 60s)) << Cluster().ServerLog();
		write(5);
		ASSERT_TRUE(WaitLakeEqualsSource("public.events")) << LogTail();
		EXPECT_EQ(Lake("SELECT count(*) = count(DISTINCT id) FROM public.events_ducklake"), Rows({{"true"}}));
	}
}

// A backend killed while its lake query has spilled (the OOM killer, kill -9) takes the server through
// crash recovery and runs no destructor: its spill directory stays, unlocked. The group worker the
// restarted server brings back sweeps it, and the pipeline goes on with nothing lost.
TEST_F(ExtensionWorkerTest, AKilledBackendsQuerySpillIsSweptWhenTheWorkerRestarts) {
	Sql("CREATE TABLE public.spilt (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.spilt SELECT g, 'v' || g FROM generate_series(1, 10) g");
	AddTable("public.spilt");
	ASSERT_TRUE(WaitLakeEqualsSource("public.spilt"));
	// An earlier test's immediate stop may have logged a sweep already: this one must add its own.
	auto sweeps = [] {
		auto log = Cluster().ServerLog();
		size_t n = 0;
		for (size_t at = log.find("event=temp.swept"); at != std::string::npos;
		     at = log.find("event=temp.swept", at + 1)) {
			n++;
		}
		return n;
	};
	size_t sweeps_before = sweeps();
	std::string dir;
	std::string pid;
	{
		PgConnection reader(Conninfo());
		pid = reader.Exec("SELECT pg_backend_pid()").Get(0, 0);
		reader.Exec("SET duckpipe.query_memory_mb = '64MB'");
		// A sort of ~90 MB under a 64 MB limit spills.
		auto n = reader.Exec("SELECT q->>'n' FROM duckpipe.query('SELECT count(*) AS n FROM (SELECT i, row_number() "
		                     "OVER (ORDER BY s) AS r FROM (SELECT i, md5(CAST(i AS VARCHAR)) || repeat(''x'', 40) AS "
		                     "s FROM range(1000000) t(i)))') q");
		ASSERT_EQ(std::string(n.Get(0, 0)), "1000000");
		dir = reader.Exec("SELECT temp_directory FROM duckpipe.query_engine_status()").Get(0, 0);
		ASSERT_TRUE(std::filesystem::exists(dir + "/spill")) << dir;
		Cluster().ExpectKilled(std::stoi(pid));
		ASSERT_EQ(kill(std::stoi(pid), SIGKILL), 0);
	}
	// The server restarts every backend, then the launcher the worker.
	ASSERT_TRUE(WaitFor(
	    [&] {
		    try {
			    return Workers() == 1 && !std::filesystem::exists(dir);
		    } catch (const std::exception &) {
			    return false; // the server is restarting
		    }
	    },
	    90s))
	    << dir << " outlived its killed backend\n"
	    << LogTail();
	EXPECT_GT(sweeps(), sweeps_before) << LogTail();
	Sql("INSERT INTO public.spilt SELECT g, 'after' FROM generate_series(11, 20) g");
	ASSERT_TRUE(WaitLakeEqualsSource("public.spilt")) << LogTail();
	EXPECT_EQ(Lake("SELECT count(*) = count(DISTINCT id) FROM public.spilt_ducklake"), Rows({{"true"}}));
}

// SIGTERM to the worker alone (pg_terminate_backend) mid-stream: it stops cleanly, is not restarted
// by the postmaster, and start_worker() resumes with nothing lost or duplicated.
TEST_F(ExtensionWorkerTest, TerminatedWorkerResumesWithStartWorker) {
	Sql("CREATE TABLE public.orders (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.orders SELECT g, 'snap' FROM generate_series(1, 20) g");
	AddTable("public.orders");
	ASSERT_TRUE(WaitLakeEqualsSource("public.orders"));
	for (int t = 0; t < 10; t++) {
		Sql("INSERT INTO public.orders SELECT g, 'w' FROM generate_series(" + std::to_string(100 + t * 100) + ", " +
		    std::to_string(199 + t * 100) + ") g");
	}
	EXPECT_EQ(Scalar("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = "
	                 "'pg_duckpipe: default' AND datname = current_database()"),
	          "t");
	ASSERT_TRUE(WaitFor([&] { return Workers() == 0; }, 30s));
	EXPECT_EQ(Scalar("SELECT running FROM duckpipe.worker_status() WHERE sync_group = 'default'"), "f");
	Sql("UPDATE public.orders SET v = 'after' WHERE id % 3 = 0");
	Sql("SELECT duckpipe.start_worker()");
	ASSERT_TRUE(WaitLakeEqualsSource("public.orders")) << LogTail();
	EXPECT_EQ(Lake("SELECT count(*) = count(DISTINCT id) FROM public.orders_ducklake"), Rows({{"true"}}));
	EXPECT_EQ(Workers(), 1);
}

// A worker that fails (an unwritable lake path) exits and is restarted alone: the postmaster keeps
// running and nothing crashes; once the setting is fixed the next restart streams.
TEST_F(ExtensionWorkerTest, FailingWorkerIsRestartedWithoutTheCluster) {
	auto started = Scalar("SELECT pg_postmaster_start_time()");
	// The postmaster's lines for exits of a group worker with status 1, from this test on.
	size_t log_start = Cluster().ServerLog().size();
	auto exits = [&] {
		std::istringstream log(Cluster().ServerLog().substr(log_start));
		int n = 0;
		for (std::string line; std::getline(log, line);) {
			n += line.find("background worker \"pg_duckpipe: default\"") != std::string::npos &&
			     line.find("exited with exit code 1") != std::string::npos;
		}
		return n;
	};
	Reload("ALTER SYSTEM SET duckpipe.data_path = '/proc/duckpipe-unwritable/'");
	Sql("CREATE TABLE public.broken (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.broken VALUES (1, 'x')");
	AddTable("public.broken");
	// Two failures: the second is the restart of the first (bgw_restart_time), not a new start.
	ASSERT_TRUE(WaitFor([&] { return exits() >= 2; }, 60s)) << Cluster().ServerLog();
	EXPECT_NE(Cluster().ServerLog().find("duckpipe-unwritable"), std::string::npos);
	Reload("ALTER SYSTEM RESET duckpipe.data_path");
	EXPECT_TRUE(WaitLakeEqualsSource("public.broken", 60s));
	EXPECT_EQ(Scalar("SELECT pg_postmaster_start_time()"), started);
	EXPECT_FALSE(Cluster().LogHasCrash());
}

// A worker that cannot reach its server says which setting to change.
TEST_F(ExtensionWorkerTest, UnreachableServerNamesTheConninfoSetting) {
	size_t log_start = Cluster().ServerLog().size();
	Reload("ALTER SYSTEM SET duckpipe.conninfo = 'host=/nonexistent-duckpipe-socket-dir'");
	Sql("CREATE TABLE public.lonely (id int PRIMARY KEY, v text)");
	AddTable("public.lonely");
	bool hinted = WaitFor(
	    [&] {
		    auto log = Cluster().ServerLog().substr(log_start);
		    return log.find("nonexistent-duckpipe-socket-dir") != std::string::npos &&
		           log.find("HINT:  the worker connects to this server") != std::string::npos &&
		           log.find("set duckpipe.conninfo") != std::string::npos;
	    },
	    30s);
	Reload("ALTER SYSTEM RESET duckpipe.conninfo");
	EXPECT_TRUE(hinted) << LogTail();
	// Once the setting is fixed the worker's next restart streams.
	Sql("INSERT INTO public.lonely VALUES (1, 'x')");
	EXPECT_TRUE(WaitLakeEqualsSource("public.lonely", 60s)) << LogTail();
}

// Exactly one runner per group, and a group handed over between the worker and the daemon (its mode
// changed) and back: while the old runner still holds the group's lock (frozen with SIGSTOP here, so
// it cannot notice the change) the new one waits, says so in its log and in the group's last_error,
// and streams nothing; once the old one lets go the new one takes over with every row exactly once.
TEST_F(ExtensionWorkerTest, GroupHandedFromWorkerToDaemonAndBackWaitsForTheLockAndLosesNothing) {
	// The daemon runs as this test's user: what it creates in the lake must stay writable for the
	// server's user that takes over again.
	struct Umask {
		mode_t old = ::umask(0);
		~Umask() { ::umask(old); }
	} umask_zero;
	Sql("CREATE TABLE public.handed (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.handed SELECT g, 'snap' FROM generate_series(1, 20) g");
	AddTable("public.handed");
	ASSERT_TRUE(WaitLakeEqualsSource("public.handed")) << LogTail();
	std::string group_id = Scalar("SELECT id FROM duckpipe.sync_groups WHERE name = 'default'");
	// The application_name of the session holding the group's lock (meta::GroupLock), or "" when free.
	auto holder = [&] {
		auto rows = Sql("SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
		                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = " +
		                std::to_string(meta::GroupLock::kClassKey) + " AND l.objid = " + group_id);
		return rows.empty() ? std::string() : rows[0][0];
	};
	auto last_error = [&] {
		return Scalar("SELECT coalesce(last_error, '') FROM duckpipe.sync_groups WHERE id = " + group_id);
	};
	auto lake_rows = [&] { return Lake("SELECT count(*) FROM public.handed_ducklake")[0][0]; };
	// The waiting runner tried the lock again after `since` (about once a second; after a refused try
	// it looks up the holder, meta::GroupLock's query): it had its chance to take the group and stream.
	auto retried_after = [&](const std::string &since) {
		return Scalar("SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE 'SELECT "
		              "l.pid, coalesce(a.application_name%' AND query_start > '" +
		              since + "'::timestamptz") != "0";
	};
	auto exactly_once = [&] {
		EXPECT_EQ(Lake("SELECT count(*) = count(DISTINCT id) FROM public.handed_ducklake"), Rows({{"true"}}));
	};
	EXPECT_EQ(holder(), "pg_duckpipe: default");

	// A daemon for every group of mode daemon (none yet).
	TempDir dir("duckpipe-ext-daemon");
	DaemonProcess daemon(
	    {"run", "--source", Conninfo(), "--data-path", LakePath(), "--temp-dir", dir.Path(), "--flush-interval", "200"},
	    dir.Path() + "/daemon.log");
	ASSERT_TRUE(WaitFor([&] { return daemon.Log().find("pipeline.ready") != std::string::npos; }, 30s)) << daemon.Log();

	// Worker -> daemon, while the worker still holds the lock.
	std::string worker_pid =
	    Scalar("SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: default' AND datname = "
	           "current_database()");
	ASSERT_EQ(::kill(std::stoi(worker_pid), SIGSTOP), 0);
	Sql("UPDATE duckpipe.sync_groups SET mode = 'daemon' WHERE name = 'default'");
	ASSERT_TRUE(
	    WaitFor([&] { return daemon.Log().find("event=group.locked group=default") != std::string::npos; }, 30s))
	    << daemon.Log();
	EXPECT_NE(last_error().find("is run by another process"), std::string::npos) << last_error();
	EXPECT_NE(last_error().find("this daemon waits"), std::string::npos) << last_error();
	Sql("INSERT INTO public.handed SELECT g, 'while-daemon-waits' FROM generate_series(21, 30) g");
	Sql("UPDATE public.handed SET v = 'u1' WHERE id <= 5");
	// The waiting daemon tried the lock again after those writes and still streams nothing.
	std::string written = Scalar("SELECT clock_timestamp()");
	ASSERT_TRUE(WaitFor([&] { return retried_after(written); }, 30s)) << daemon.Log();
	EXPECT_EQ(lake_rows(), "20");
	EXPECT_EQ(holder(), "pg_duckpipe: default");
	EXPECT_EQ(daemon.Log().find("event=table.started"), std::string::npos) << daemon.Log();
	ASSERT_EQ(::kill(std::stoi(worker_pid), SIGCONT), 0);
	// The worker sees the group is the daemon's now, stops at a transaction boundary and lets go.
	ASSERT_TRUE(WaitFor([&] { return Workers() == 0; }, 30s)) << LogTail();
	ASSERT_TRUE(
	    WaitFor([&] { return daemon.Log().find("event=group.lock_acquired group=default") != std::string::npos; }, 30s))
	    << daemon.Log();
	Sql("INSERT INTO public.handed SELECT g, 'daemon' FROM generate_series(31, 40) g");
	Sql("DELETE FROM public.handed WHERE id IN (2, 22)");
	ASSERT_TRUE(WaitLakeEqualsSource("public.handed")) << daemon.Log();
	exactly_once();
	EXPECT_TRUE(WaitFor([&] { return last_error().empty(); }, 10s)) << last_error();
	EXPECT_EQ(holder(), "pg_duckpipe daemon default");

	// Daemon -> worker, while the daemon still holds the lock.
	size_t log_start = Cluster().ServerLog().size();
	ASSERT_EQ(::kill(daemon.Pid(), SIGSTOP), 0);
	Sql("UPDATE duckpipe.sync_groups SET mode = 'bgworker' WHERE name = 'default'");
	Sql("SELECT duckpipe.start_worker('default')");
	ASSERT_TRUE(WaitFor(
	    [&] { return Cluster().ServerLog().find("event=group.locked group=default", log_start) != std::string::npos; },
	    30s))
	    << LogTail();
	EXPECT_NE(last_error().find("this bgworker waits"), std::string::npos) << last_error();
	EXPECT_EQ(Workers(), 1);
	Sql("INSERT INTO public.handed SELECT g, 'while-worker-waits' FROM generate_series(41, 50) g");
	Sql("UPDATE public.handed SET v = 'u2' WHERE id BETWEEN 30 AND 35");
	written = Scalar("SELECT clock_timestamp()");
	ASSERT_TRUE(WaitFor([&] { return retried_after(written); }, 30s)) << LogTail();
	EXPECT_EQ(lake_rows(), "38");
	EXPECT_EQ(holder(), "pg_duckpipe daemon default");
	EXPECT_EQ(Cluster().ServerLog().find("event=table.started", log_start), std::string::npos) << LogTail();
	ASSERT_EQ(::kill(daemon.Pid(), SIGCONT), 0);
	ASSERT_TRUE(WaitFor(
	    [&] {
		    return Cluster().ServerLog().find("event=group.lock_acquired group=default", log_start) !=
		           std::string::npos;
	    },
	    30s))
	    << LogTail() << daemon.Log();
	Sql("INSERT INTO public.handed SELECT g, 'worker' FROM generate_series(51, 60) g");
	ASSERT_TRUE(WaitLakeEqualsSource("public.handed")) << LogTail();
	exactly_once();
	EXPECT_EQ(holder(), "pg_duckpipe: default");
	// The daemon let the group go and keeps running (no group of mode daemon left).
	EXPECT_NE(daemon.Log().find("reason=\"its mode changed\""), std::string::npos) << daemon.Log();
	EXPECT_TRUE(daemon.IsRunning());
	EXPECT_EQ(daemon.Terminate(), 0) << daemon.Log();
}

// metrics() shows the DuckDB memory a table's change buffer holds while changes wait for their
// flush, and 0 once they are in the lake (the buffer's DuckDB is closed after each flush).
TEST_F(ExtensionWorkerTest, MetricsShowTheDuckdbMemoryOfBufferedChanges) {
	Sql("CREATE TABLE public.held (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.held VALUES (0, 'snap')");
	AddTable("public.held");
	ASSERT_TRUE(WaitLakeEqualsSource("public.held")) << LogTail();
	auto memory = [&] {
		return std::stoll(
		    Scalar("SELECT t->>'duckdb_memory_bytes' FROM jsonb_array_elements(duckpipe.metrics()->'tables') "
		           "t WHERE t->>'source_table' = 'public.held'"));
	};
	EXPECT_TRUE(WaitFor([&] { return memory() == 0; }, 10s));
	// Changes stay buffered: no flush for an hour or a million rows.
	Sql("SELECT duckpipe.set_table_config('public.held', 'flush_interval_ms', '3600000')");
	Sql("SELECT duckpipe.set_table_config('public.held', 'flush_batch_threshold', '1000000')");
	Sql("INSERT INTO public.held SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g");
	ASSERT_TRUE(WaitFor(
	    [&] {
		    return Scalar(
		               "SELECT l.buffered_rows FROM duckpipe._live_tables() l JOIN duckpipe.table_mappings m ON m.id = "
		               "l.mapping_id WHERE m.source_table = 'held'") == "20000";
	    },
	    30s))
	    << LogTail();
	// 20000 rows of 200 bytes: DuckDB holds at least their blocks.
	EXPECT_TRUE(WaitFor([&] { return memory() >= 1000000; }, 10s)) << memory();
	EXPECT_EQ(Lake("SELECT count(*) FROM public.held_ducklake"), Rows({{"1"}}));
	Sql("SELECT duckpipe.set_table_config('public.held', 'flush_interval_ms', NULL)");
	ASSERT_TRUE(WaitLakeEqualsSource("public.held")) << LogTail();
	EXPECT_TRUE(WaitFor([&] { return memory() == 0; }, 10s)) << memory();
}

// worker_status() and metrics() show a group draining a backlog as catching up (its stream trails
// the server's WAL by background_flush_backlog_mb or more), and as caught up once it has drained.
TEST_F(ExtensionWorkerTest, WorkerStatusShowsAGroupCatchingUpABacklog) {
	Sql("CREATE TABLE public.backlog (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.backlog VALUES (0, 'snap')");
	Sql("SELECT duckpipe.set_config('background_flush_backlog_mb', '1')");
	AddTable("public.backlog");
	ASSERT_TRUE(WaitLakeEqualsSource("public.backlog")) << LogTail();
	auto catching_up = [&] {
		return Scalar("SELECT is_catching_up FROM duckpipe.worker_status() WHERE sync_group = 'default'");
	};
	EXPECT_EQ(catching_up(), "f");
	Sql("SELECT duckpipe.stop_worker()");
	ASSERT_TRUE(WaitFor([&] { return Workers() == 0; }, 30s));
	// About 100 MB of WAL while nothing reads it.
	Sql("INSERT INTO public.backlog SELECT g, 'backlog row ' || g FROM generate_series(1, 1000000) g");
	Sql("SELECT duckpipe.start_worker()");
	// The state lasts from the worker's first look at the server's WAL end until a look after the
	// stream has read the backlog: seconds, polled every 5 ms.
	ASSERT_TRUE(WaitFor(
	    [&] {
		    return catching_up() == "t" &&
		           Scalar("SELECT g->>'is_catching_up' FROM jsonb_array_elements(duckpipe.metrics()->'groups') g "
		                  "WHERE g->>'name' = 'default'") == "true";
	    },
	    60s, 5ms))
	    << LogTail();
	auto lake_count = [&] { return Lake("SELECT count(*), sum(id) FROM public.backlog_ducklake"); };
	auto source_count = Sql("SELECT count(*)::text, sum(id)::text FROM public.backlog");
	ASSERT_TRUE(WaitFor([&] { return lake_count() == source_count; }, 120s)) << LogTail();
	EXPECT_TRUE(WaitFor([&] { return catching_up() == "f"; }, 30s)) << LogTail();
}

// A plain UPDATE of duckpipe.sync_groups (mode, enabled) acts at COMMIT as the API does: the worker
// leaves when its group is disabled or handed to the daemon and comes back when the group is
// enabled or handed back, without start_worker() or a restart; a rolled-back UPDATE does nothing.
TEST_F(ExtensionWorkerTest, UpdatingModeOrEnabledStartsAndStopsTheWorkerAtCommit) {
	Sql("CREATE TABLE public.switched (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.switched SELECT g, 'snap' FROM generate_series(1, 10) g");
	AddTable("public.switched");
	ASSERT_TRUE(WaitLakeEqualsSource("public.switched")) << LogTail();
	ASSERT_EQ(Workers(), 1);

	Sql("UPDATE duckpipe.sync_groups SET enabled = false WHERE name = 'default'");
	ASSERT_TRUE(WaitFor([&] { return Workers() == 0; }, 30s)) << LogTail();
	Sql("INSERT INTO public.switched SELECT g, 'while disabled' FROM generate_series(11, 20) g");
	Sql("BEGIN; UPDATE duckpipe.sync_groups SET enabled = true WHERE name = 'default'; ROLLBACK");
	Sql("UPDATE duckpipe.sync_groups SET enabled = true WHERE name = 'default'");
	ASSERT_TRUE(WaitFor([&] { return Workers() == 1; }, 30s)) << LogTail();
	ASSERT_TRUE(WaitLakeEqualsSource("public.switched")) << LogTail();

	Sql("UPDATE duckpipe.sync_groups SET mode = 'daemon' WHERE name = 'default'");
	ASSERT_TRUE(WaitFor([&] { return Workers() == 0; }, 30s)) << LogTail();
	Sql("INSERT INTO public.switched SELECT g, 'while daemon' FROM generate_series(21, 30) g");
	Sql("UPDATE duckpipe.sync_groups SET mode = 'bgworker' WHERE name = 'default'");
	ASSERT_TRUE(WaitFor([&] { return Workers() == 1; }, 30s)) << LogTail();
	ASSERT_TRUE(WaitLakeEqualsSource("public.switched")) << LogTail();
	EXPECT_EQ(Lake("SELECT count(*) = count(DISTINCT id) FROM public.switched_ducklake"), Rows({{"true"}}));
}

// The daemon runs only groups of mode daemon: asked for the worker's group it refuses, naming how to
// hand the group over, and the worker keeps streaming.
TEST_F(ExtensionWorkerTest, DaemonRefusesAGroupOfModeBgworker) {
	Sql("CREATE TABLE public.mine (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.mine VALUES (1, 'a')");
	AddTable("public.mine");
	ASSERT_TRUE(WaitLakeEqualsSource("public.mine"));
	TempDir dir("duckpipe-ext-daemon");
	DaemonProcess daemon({"run", "--source", Conninfo(), "--data-path", LakePath(), "--temp-dir", dir.Path(), "--group",
	                      "default", "--flush-interval", "200"},
	                     dir.Path() + "/daemon.log");
	EXPECT_NE(daemon.Wait(30s), 0) << daemon.Log();
	EXPECT_NE(daemon.Log().find("belongs to the pg_duckpipe extension's background worker"), std::string::npos)
	    << daemon.Log();
	EXPECT_NE(daemon.Log().find("SET mode = 'daemon'"), std::string::npos) << daemon.Log();
	Sql("INSERT INTO public.mine VALUES (2, 'b')");
	Sql("UPDATE public.mine SET v = 'c' WHERE id = 1");
	EXPECT_TRUE(WaitLakeEqualsSource("public.mine"));
	EXPECT_EQ(Workers(), 1);
}

// Slot names are shared by the databases of a server: two databases with the extension both add a
// table to their `default` group at once and both stream, each from a slot of its own (the first
// one to create it keeps the documented duckpipe_slot_default).
TEST_F(ExtensionWorkerTest, DefaultGroupsOfTwoDatabasesStreamFromSlotsOfTheirOwn) {
	std::string other = Cluster().CreateDatabase("ext_worker_other");
	Cluster().Psql(other, "CREATE EXTENSION pg_duckpipe");
	struct Guard {
		std::function<void()> cleanup;
		~Guard() { cleanup(); }
	} guard{[&] {
		try {
			Sql("UPDATE duckpipe.sync_groups SET enabled = false", other);
			Sql("SELECT duckpipe.stop_worker()", other);
			WaitFor(
			    [&] {
				    return Scalar("SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'pg_duckpipe:%' AND "
				                  "datname = current_database()",
				                  other) == "0";
			    },
			    30s);
			Sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = "
			    "current_database() AND NOT active",
			    other);
		} catch (const std::exception &e) {
			ADD_FAILURE() << "cleanup of " << other << ": " << e.what();
		}
	}};
	for (const auto &db : {db_, other}) {
		Sql("CREATE TABLE public.orders (id int PRIMARY KEY, v text)", db);
		Sql("INSERT INTO public.orders SELECT g, '" + db + "' || g FROM generate_series(1, 30) g", db);
	}
	// Both before either worker created its slot: both groups chose duckpipe_slot_default.
	Sql("SELECT duckpipe.add_table('public.orders')");
	Sql("SELECT duckpipe.add_table('public.orders')", other);
	EXPECT_TRUE(WaitLakeEqualsSource("public.orders")) << LogTail();
	EXPECT_TRUE(WaitLakeEqualsSource("public.orders", 60s, other)) << LogTail();
	for (const auto &db : {db_, other}) {
		Sql("UPDATE public.orders SET v = 'u' WHERE id % 4 = 0", db);
		Sql("INSERT INTO public.orders VALUES (100, 'streamed')", db);
		Sql("DELETE FROM public.orders WHERE id = 1", db);
	}
	EXPECT_TRUE(WaitLakeEqualsSource("public.orders")) << LogTail();
	EXPECT_TRUE(WaitLakeEqualsSource("public.orders", 60s, other)) << LogTail();
	// Each group's slot is in its own database: one kept the documented name, the other has its
	// database's oid appended.
	auto slot = [&](const std::string &db) {
		return Scalar("SELECT g.slot_name || ' ' || coalesce(s.database::text, '<no slot>') FROM "
		              "duckpipe.sync_groups g LEFT JOIN pg_replication_slots s ON s.slot_name = g.slot_name "
		              "WHERE g.name = 'default'",
		              db);
	};
	auto oid = [&](const std::string &db) {
		return Scalar("SELECT oid FROM pg_database WHERE datname = current_database()", db);
	};
	std::set<std::string> slots{slot(db_), slot(other)};
	std::set<std::string> one_way{"duckpipe_slot_default " + db_, "duckpipe_slot_default_" + oid(other) + " " + other};
	std::set<std::string> other_way{"duckpipe_slot_default " + other, "duckpipe_slot_default_" + oid(db_) + " " + db_};
	EXPECT_TRUE(slots == one_way || slots == other_way) << slot(db_) << "; " << slot(other);
	// A group made now, with that name's slot taken by another database, gets the other name at once.
	Sql("SELECT duckpipe.create_group('extra')", other);
	Sql("SELECT pg_create_logical_replication_slot('duckpipe_slot_extra2', 'pgoutput')");
	Sql("SELECT duckpipe.create_group('extra2')", other);
	EXPECT_EQ(Scalar("SELECT string_agg(slot_name, ' ' ORDER BY name) FROM duckpipe.sync_groups WHERE name LIKE "
	                 "'extra%'",
	                 other),
	          "duckpipe_slot_extra duckpipe_slot_extra2_" + oid(other));
	// Dropping a group never drops another database's slot of the same name.
	Sql("SELECT duckpipe.create_group('extra2')");
	Sql("SELECT duckpipe.drop_group('extra2')", other);
	EXPECT_EQ(Scalar("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'duckpipe_slot_extra2'"), "1");
	Sql("SELECT duckpipe.drop_group('extra2')");
	EXPECT_EQ(Scalar("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'duckpipe_slot_extra2'"), "0");
}

} // namespace
} // namespace duckpipe::test
