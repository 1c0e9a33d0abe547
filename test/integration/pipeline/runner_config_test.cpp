// Stored settings at each scope, applied by a running daemon without a restart; the group modes and
// the one-runner rule (one process per group, enforced by an advisory lock).
#include "harness/pipeline_fixture.hpp"

#include <filesystem>

namespace duckpipe::test {

class RunnerConfigTest : public PipelineTest {
protected:
	// A second daemon with its own log (to tell the two apart); returns once it is ready.
	std::unique_ptr<DaemonProcess> StartSecondDaemon(const std::string &log) {
		std::string ready = dir_->Path() + "/ready-second";
		auto daemon = std::make_unique<DaemonProcess>(
		    WithGlobals({"run", "--flush-interval", "300", "--ready-file", ready}), log);
		EXPECT_TRUE(WaitFor([&] { return std::filesystem::exists(ready) || !daemon->IsRunning(); }, 60s, 20ms))
		    << daemon->Log();
		return daemon;
	}
	static int Count(const std::string &text, const std::string &what) {
		int n = 0;
		for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
			n++;
		}
		return n;
	}
};

// The process flushes once an hour; the group's setting (200 ms) makes its tables flush at once,
// but a table's own setting (an hour) wins over its group's. Set and reset while the daemon runs.
TEST_F(RunnerConfigTest, GroupAndTableSettingsApplyWithoutRestart) {
	Sql("CREATE TABLE public.slow (id int PRIMARY KEY, v text)");
	Sql("CREATE TABLE public.fast (id int PRIMARY KEY, v text)");
	DuckpipeOk({"add-table", "public.slow"});
	DuckpipeOk({"add-table", "public.fast"});
	auto daemon = StartDaemon({}, {}, 3600000);
	ASSERT_TRUE(WaitTableState("public.slow", "STREAMING"));
	ASSERT_TRUE(WaitTableState("public.fast", "STREAMING"));
	ASSERT_EQ(LakeCount("public.fast_ducklake"), 0);

	DuckpipeOk({"set-config", "flush_interval_ms", "200", "--group", "default"});
	DuckpipeOk({"set-config", "flush_interval_ms", "3600000", "--table", "public.slow"});
	auto shown = Duckpipe({"get-config", "flush_interval_ms", "--table", "public.slow", "--format", "csv"});
	EXPECT_EQ(shown.exit_code, 0) << shown.output;
	EXPECT_NE(shown.output.find("flush_interval_ms,3600000,table,"), std::string::npos) << shown.output;
	shown = Duckpipe({"get-config", "flush_interval_ms", "--table", "public.fast", "--format", "csv"});
	EXPECT_NE(shown.output.find("flush_interval_ms,200,group,"), std::string::npos) << shown.output;
	// Both tables have taken their settings (logged by the control loop when it applies them).
	ASSERT_TRUE(WaitFor(
	    [&] {
		    return CountLog("event=table.settings table=public.slow flush_interval_ms=3600000") > 0 &&
		           CountLog("event=table.settings table=public.fast flush_interval_ms=200") > 0;
	    },
	    30s))
	    << LogTail();

	Sql("BEGIN; INSERT INTO public.slow VALUES (1, 'a'); INSERT INTO public.fast VALUES (1, 'a'); COMMIT");
	ASSERT_TRUE(WaitLakeCount("public.fast_ducklake", 1, 30s)) << LogTail();
	// The same transaction reached both workers; only the group's interval has elapsed.
	EXPECT_EQ(LakeCount("public.slow_ducklake"), 0);

	// Without its own setting the table follows its group's again.
	DuckpipeOk({"set-config", "flush_interval_ms", "--reset", "--table", "public.slow"});
	EXPECT_TRUE(WaitLakeEqualsSource("public.slow", 30s));

	// A global setting applies under the group's: with the group's gone, global 200 ms still flushes.
	DuckpipeOk({"set-config", "flush_interval_ms", "200"});
	DuckpipeOk({"set-config", "flush_interval_ms", "--reset", "--group", "default"});
	ASSERT_TRUE(
	    WaitFor([&] { return CountLog("event=table.settings table=public.fast flush_interval_ms=200") >= 1; }, 30s));
	Sql("INSERT INTO public.fast VALUES (2, 'b')");
	EXPECT_TRUE(WaitLakeEqualsSource("public.fast", 30s));
	EXPECT_EQ(Scalar("SELECT snapshot_rows IS NOT NULL AND snapshot_duration_ms >= 0 FROM duckpipe.table_mappings "
	                 "WHERE source_table = 'fast'"),
	          "t");
	EXPECT_EQ(daemon->Terminate(), 0);
}

TEST_F(RunnerConfigTest, BadSettingsAreRefusedWithTheFix) {
	Sql("CREATE TABLE public.t (id int PRIMARY KEY)");
	DuckpipeOk({"add-table", "public.t"});
	auto r = Duckpipe({"set-config", "flush_intervall", "5"});
	EXPECT_EQ(r.exit_code, 64) << r.output;
	EXPECT_NE(r.output.find("unknown configuration key 'flush_intervall'"), std::string::npos) << r.output;
	EXPECT_NE(r.output.find("flush_interval_ms"), std::string::npos) << r.output;
	r = Duckpipe({"set-config", "max_queued_bytes", "8388608", "--table", "public.t"});
	EXPECT_EQ(r.exit_code, 64) << r.output;
	EXPECT_NE(r.output.find("set it at the global or group level"), std::string::npos) << r.output;
	r = Duckpipe({"set-config", "duckdb_threads", "0", "--group", "default"});
	EXPECT_EQ(r.exit_code, 64) << r.output;
	EXPECT_NE(r.output.find("from 1 to 256"), std::string::npos) << r.output;
	EXPECT_EQ(Scalar("SELECT count(*) FROM duckpipe.global_config"), "0");
	EXPECT_EQ(Scalar("SELECT config::text FROM duckpipe.sync_groups WHERE name = 'default'"), "{}");
	DuckpipeOk({"set-config", "max_queued_bytes", "8388608", "--group", "default"});
	auto shown = Duckpipe({"get-config", "--group", "default", "--format", "csv"});
	EXPECT_NE(shown.output.find("max_queued_bytes,8388608,group,"), std::string::npos) << shown.output;
	EXPECT_NE(shown.output.find("duckdb_threads,1,default,"), std::string::npos) << shown.output;
}

// A group of mode bgworker belongs to the extension's worker: the daemon leaves it alone and says so
// when asked to run it.
TEST_F(RunnerConfigTest, TheDaemonRunsOnlyGroupsOfItsMode) {
	Sql("CREATE TABLE public.t (id int PRIMARY KEY)");
	DuckpipeOk({"create-group", "w", "--mode", "bgworker"});
	DuckpipeOk({"add-table", "public.t", "--group", "w"});
	EXPECT_EQ(Scalar("SELECT mode FROM duckpipe.sync_groups WHERE name = 'w'"), "bgworker");
	auto r = Duckpipe({"run", "--group", "w"});
	EXPECT_EQ(r.exit_code, 64) << r.output;
	EXPECT_NE(r.output.find("belongs to the pg_duckpipe extension's background worker"), std::string::npos) << r.output;
	EXPECT_NE(r.output.find("mode => 'daemon'"), std::string::npos) << r.output;
	EXPECT_NE(r.output.find("UPDATE duckpipe.sync_groups SET mode = 'daemon' WHERE name = 'w'"), std::string::npos)
	    << r.output;

	Sql("CREATE TABLE public.d (id int PRIMARY KEY)");
	DuckpipeOk({"add-table", "public.d"});
	EXPECT_EQ(Scalar("SELECT mode FROM duckpipe.sync_groups WHERE name = 'default'"), "daemon");
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.d", "STREAMING"));
	// Ready means every group it runs has been prepared (slot created): w's never was.
	EXPECT_EQ(Scalar("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'duckpipe_slot_w'"), "0");
	EXPECT_EQ(TableState("public.t"), "PENDING");
	// Handed over to the daemon, the group starts without a restart.
	Sql("UPDATE duckpipe.sync_groups SET mode = 'daemon' WHERE name = 'w'");
	EXPECT_TRUE(WaitTableState("public.t", "STREAMING"));
	EXPECT_EQ(daemon->Terminate(), 0);
}

// Two daemons on one group: the second waits (and says who runs the group), takes over when the
// first stops, and the lake has every row exactly once (a keyless table would show a duplicate).
TEST_F(RunnerConfigTest, OneRunnerPerGroup) {
	Sql("CREATE TABLE public.ev (id bigint, v text)");
	Sql("ALTER TABLE public.ev REPLICA IDENTITY FULL");
	Sql("INSERT INTO public.ev SELECT g, 'v' || g FROM generate_series(1, 100) g");
	DuckpipeOk({"add-table", "public.ev"});
	auto first = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.ev", "STREAMING"));
	std::string second_log = dir_->Path() + "/second.log";
	auto second = StartSecondDaemon(second_log);
	ASSERT_TRUE(second->IsRunning()) << second->Log();
	ASSERT_TRUE(WaitFor([&] { return second->Log().find("event=group.locked") != std::string::npos; }, 30s))
	    << second->Log();
	EXPECT_NE(second->Log().find("application_name pg_duckpipe daemon default"), std::string::npos) << second->Log();
	EXPECT_TRUE(WaitFor(
	    [&] {
		    return Scalar("SELECT coalesce(last_error, '') FROM duckpipe.sync_groups WHERE name = 'default'")
		               .find("is run by another process (pid ") != std::string::npos;
	    },
	    30s));

	Sql("INSERT INTO public.ev SELECT g, 'w' || g FROM generate_series(101, 200) g");
	ASSERT_TRUE(WaitLakeEqualsSource("public.ev", 60s));
	// Only the first streams: one walsender on the slot, and the second never started a table.
	EXPECT_EQ(Scalar("SELECT count(*) FROM pg_stat_replication WHERE application_name = 'pg_duckpipe default'"), "1");
	EXPECT_EQ(Count(second->Log(), "event=table.started"), 0) << second->Log();

	EXPECT_EQ(first->Terminate(), 0);
	Sql("INSERT INTO public.ev SELECT g, 'x' || g FROM generate_series(201, 300) g");
	ASSERT_TRUE(WaitFor([&] { return second->Log().find("event=group.lock_acquired") != std::string::npos; }, 30s))
	    << second->Log();
	EXPECT_TRUE(WaitLakeEqualsSource("public.ev", 60s)) << second->Log();
	EXPECT_EQ(LakeQuery("SELECT count(*), count(DISTINCT id) FROM public.ev_ducklake"), (Rows{{"300", "300"}}));
	// Running it clears the waiting message.
	EXPECT_TRUE(WaitFor(
	    [&] { return Scalar("SELECT last_error IS NULL FROM duckpipe.sync_groups WHERE name = 'default'") == "t"; },
	    30s));
	EXPECT_EQ(second->Terminate(), 0);
}

// The session holding the lock dies under the first daemon while a second one waits: whichever takes
// the lock runs the group, the other stops it (group.lock_lost) or keeps waiting, and the lake still
// has every row exactly once.
TEST_F(RunnerConfigTest, LockSessionLostWhileAnotherWaits) {
	allow_table_failures_ = true; // the stopped runner's consumer may see its stream cut
	Sql("CREATE TABLE public.ev (id bigint, v text)");
	Sql("ALTER TABLE public.ev REPLICA IDENTITY FULL");
	Sql("INSERT INTO public.ev SELECT g, 'v' || g FROM generate_series(1, 100) g");
	DuckpipeOk({"add-table", "public.ev"});
	auto first = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.ev", "STREAMING"));
	auto second = StartSecondDaemon(dir_->Path() + "/second.log");
	ASSERT_TRUE(WaitFor([&] { return second->Log().find("event=group.locked") != std::string::npos; }, 30s))
	    << second->Log();
	auto holder = [&] {
		return Scalar("SELECT coalesce(max(pid), 0) FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
		              "classid = 1685090418");
	};
	std::string before = holder();
	ASSERT_NE(before, "0");
	Sql("SELECT pg_terminate_backend(" + before + ")");
	Sql("INSERT INTO public.ev SELECT g, 'w' || g FROM generate_series(101, 200) g");
	// Someone runs the group again, in a new session.
	ASSERT_TRUE(WaitFor([&] { return holder() != "0" && holder() != before; }, 30s));
	EXPECT_TRUE(WaitLakeEqualsSource("public.ev", 90s)) << LogTail() << second->Log();
	bool second_runs = second->Log().find("event=group.lock_acquired") != std::string::npos;
	if (second_runs) {
		// The first one saw its lock taken and stopped the group.
		EXPECT_TRUE(WaitFor([&] { return CountLog("event=group.lock_lost") > 0; }, 30s)) << LogTail();
	}
	Sql("INSERT INTO public.ev SELECT g, 'x' || g FROM generate_series(201, 300) g");
	EXPECT_TRUE(WaitLakeEqualsSource("public.ev", 90s)) << LogTail() << second->Log();
	EXPECT_EQ(LakeQuery("SELECT count(*), count(DISTINCT id) FROM public.ev_ducklake"), (Rows{{"300", "300"}}));
	EXPECT_TRUE(WaitFor(
	    [&] {
		    return Scalar("SELECT count(*) FROM pg_stat_replication WHERE application_name = 'pg_duckpipe default'") ==
		           "1";
	    },
	    30s));
	EXPECT_EQ(first->Terminate(), 0);
	EXPECT_EQ(second->Terminate(), 0);
}

} // namespace duckpipe::test
