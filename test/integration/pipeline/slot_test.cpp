// The group's slot must not hold WAL back for tables it no longer syncs or when nothing it syncs changes.
#include "core/pg/pg_connection.hpp"
#include "harness/pipeline_fixture.hpp"

#include <memory>
#include <thread>

namespace duckpipe::test {

class SlotTest : public PipelineTest {
protected:
	Lsn CurrentWal() { return Lsn::Parse(Scalar("SELECT pg_current_wal_lsn()")); }
	// Waits until the default slot has confirmed at least `lsn`.
	bool WaitConfirmedPast(Lsn lsn, std::chrono::milliseconds timeout) {
		return WaitFor([&] { return SlotConfirmed() >= lsn; }, timeout, 100ms);
	}
	int Generation(const std::string &table) {
		return std::stoi(Scalar("SELECT generation FROM duckpipe.table_mappings WHERE source_schema || '.' || "
		                        "source_table = '" +
		                        table + "'"));
	}
	bool SlotExists() {
		return Scalar("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'duckpipe_slot_default'") == "1";
	}
	// As a user would: end the walsender streaming from the slot, then drop the slot before the
	// daemon reconnects (it retries within a moment, so try until the drop wins).
	void DropSlotUnderDaemon() {
		ASSERT_TRUE(WaitFor(
		    [&] {
			    Sql("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
			        "WHERE slot_name = 'duckpipe_slot_default' AND active_pid IS NOT NULL");
			    // The daemon may win the race and be streaming from the slot again: terminate again.
			    try {
				    Sql("SELECT pg_drop_replication_slot('duckpipe_slot_default')");
				    return true;
			    } catch (const std::exception &e) {
				    if (std::string(e.what()).find("is active") == std::string::npos) {
					    throw;
				    }
				    return false;
			    }
		    },
		    30s, 20ms));
	}
};

// The slot dropped while streaming: the daemon says so, recreates it, copies every table again
// exactly once (not on every retry), and the lake ends equal to the source, rows written after the
// drop included.
TEST_F(SlotTest, DroppedSlotIsRecreatedAndEachTableCopiedOnce) {
	allow_table_failures_ = true; // every table is copied again, on purpose
	Sql("CREATE TABLE public.a (id int PRIMARY KEY, v text)");
	Sql("CREATE TABLE public.b (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.a SELECT g, 'a' || g FROM generate_series(1, 200) g");
	Sql("INSERT INTO public.b SELECT g, 'b' || g FROM generate_series(1, 50) g");
	DuckpipeOk({"add-table", "public.a"});
	DuckpipeOk({"add-table", "public.b"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.a", "STREAMING"));
	ASSERT_TRUE(WaitTableState("public.b", "STREAMING"));
	Sql("UPDATE public.a SET v = 'streamed' WHERE id <= 20");
	ASSERT_TRUE(WaitLakeEqualsSource("public.a"));
	int gen_a = Generation("public.a");
	int gen_b = Generation("public.b");

	DropSlotUnderDaemon();
	Sql("INSERT INTO public.a VALUES (1001, 'after drop')");
	Sql("DELETE FROM public.b WHERE id <= 5");

	ASSERT_TRUE(WaitFor([&] { return SlotExists(); }, 30s)) << LogTail();
	ASSERT_TRUE(
	    WaitFor([&] { return Generation("public.a") == gen_a + 1 && Generation("public.b") == gen_b + 1; }, 30s))
	    << Generation("public.a") << " " << Generation("public.b") << LogTail();
	ASSERT_TRUE(WaitTableState("public.a", "STREAMING"));
	ASSERT_TRUE(WaitTableState("public.b", "STREAMING"));
	Sql("INSERT INTO public.a VALUES (1002, 'after recreate')");
	Sql("UPDATE public.b SET v = 'after recreate' WHERE id = 10");
	EXPECT_TRUE(WaitLakeEqualsSource("public.a"));
	EXPECT_TRUE(WaitLakeEqualsSource("public.b"));
	// No second resync: the slot check runs every few seconds and the stream retries meanwhile.
	EXPECT_FALSE(
	    WaitFor([&] { return Generation("public.a") != gen_a + 1 || Generation("public.b") != gen_b + 1; }, 8s, 250ms))
	    << LogTail();
	EXPECT_EQ(CountLog("event=slot.recreated"), 1) << LogTail();
	auto status = Duckpipe({"status"});
	EXPECT_NE(status.output.find("was dropped"), std::string::npos) << status.output;
	EXPECT_NE(status.output.find("copied again after the replication slot was lost"), std::string::npos)
	    << status.output;
	Sql("INSERT INTO public.a VALUES (1003, 'still streaming')");
	EXPECT_TRUE(WaitLakeEqualsSource("public.a"));
	EXPECT_EQ(daemon->Terminate(), 0);
}

// An append-mode table copied again after the slot was lost keeps its changelog: the I/U/D rows
// already in the lake stay, and the re-copied rows are added once, as 'R'.
TEST_F(SlotTest, AppendTableKeepsHistoryWhenSlotIsLost) {
	allow_table_failures_ = true;
	Sql("CREATE TABLE public.log (id int PRIMARY KEY, v text)");
	DuckpipeOk({"add-table", "--append", "public.log"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.log", "STREAMING"));
	Sql("INSERT INTO public.log VALUES (1, 'a'), (2, 'b')");
	Sql("UPDATE public.log SET v = 'a2' WHERE id = 1");
	Sql("DELETE FROM public.log WHERE id = 2");
	ASSERT_TRUE(WaitLakeCount("public.log_ducklake", 4));
	int gen = Generation("public.log");

	DropSlotUnderDaemon();
	Sql("INSERT INTO public.log VALUES (3, 'c')");
	ASSERT_TRUE(WaitFor([&] { return Generation("public.log") == gen + 1; }, 30s)) << LogTail();
	ASSERT_TRUE(WaitTableState("public.log", "STREAMING"));
	Sql("INSERT INTO public.log VALUES (4, 'd')");
	ASSERT_TRUE(WaitLakeCount("public.log_ducklake", 7)) << LakeCount("public.log_ducklake") << LogTail();
	// A delete carries the key only (REPLICA IDENTITY DEFAULT).
	auto rows = LakeQuery("SELECT duckpipe_op || ':' || id || ':' || coalesce(v, '-') FROM public.log_ducklake "
	                      "ORDER BY duckpipe_lsn, duckpipe_op, id");
	Rows expected = {{"I:1:a"}, {"I:2:b"}, {"U:1:a2"}, {"D:2:-"}, {"R:1:a2"}, {"R:3:c"}, {"I:4:d"}};
	EXPECT_EQ(rows, expected) << LogTail();
	auto status = Duckpipe({"status"});
	EXPECT_NE(status.output.find("duckpipe_op 'R'"), std::string::npos) << status.output;
	EXPECT_EQ(daemon->Terminate(), 0);
}

// max_slot_wal_keep_size invalidated the slot while the daemon was stopped (wal_status 'lost'): the
// next start says so, drops and recreates the slot and copies the table again, once.
TEST_F(SlotTest, InvalidatedSlotIsRecreated) {
	allow_table_failures_ = true;
	Sql("CREATE TABLE public.w (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.w SELECT g, 'w' FROM generate_series(1, 100) g");
	DuckpipeOk({"add-table", "public.w"});
	{
		auto daemon = StartDaemon();
		ASSERT_TRUE(WaitTableState("public.w", "STREAMING"));
		ASSERT_TRUE(WaitLakeEqualsSource("public.w"));
		EXPECT_EQ(daemon->Terminate(), 0);
	}
	int gen = Generation("public.w");
	// The cluster is shared by the binary's tests: put the setting back whatever happens.
	std::shared_ptr<void> reset(nullptr, [this](void *) {
		Sql("ALTER SYSTEM RESET max_slot_wal_keep_size");
		Sql("SELECT pg_reload_conf()");
	});
	Sql("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
	Sql("SELECT pg_reload_conf()");
	ASSERT_TRUE(WaitFor(
	    [&] {
		    Sql("INSERT INTO public.w SELECT g, 'gap' FROM generate_series(1000 + (SELECT count(*) FROM public.w), "
		        "1010 + (SELECT count(*) FROM public.w)) g");
		    Sql("SELECT pg_switch_wal()");
		    Sql("CHECKPOINT");
		    return Scalar("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'duckpipe_slot_default'") ==
		           "lost";
	    },
	    60s, 200ms));
	Sql("ALTER SYSTEM RESET max_slot_wal_keep_size");
	Sql("SELECT pg_reload_conf()");

	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitFor([&] { return Generation("public.w") == gen + 1; }, 30s)) << LogTail();
	ASSERT_TRUE(WaitTableState("public.w", "STREAMING"));
	Sql("INSERT INTO public.w VALUES (5000, 'after')");
	EXPECT_TRUE(WaitLakeEqualsSource("public.w"));
	EXPECT_EQ(Scalar("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'duckpipe_slot_default'"),
	          "reserved");
	EXPECT_GE(CountLog("wal_status 'lost'"), 1) << LogTail();
	EXPECT_EQ(Generation("public.w"), gen + 1);
	EXPECT_EQ(daemon->Terminate(), 0);
}

TEST_F(SlotTest, RemovedTableDoesNotHoldSlotBack) {
	Sql("CREATE TABLE public.keep (id int PRIMARY KEY, v text)");
	Sql("CREATE TABLE public.gone (id int PRIMARY KEY, v text)");
	Sql("CREATE TABLE public.dropme (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.keep SELECT g, 'k' FROM generate_series(1, 100) g");
	Sql("INSERT INTO public.gone SELECT g, 'g' FROM generate_series(1, 100) g");
	Sql("INSERT INTO public.dropme SELECT g, 'd' FROM generate_series(1, 10) g");
	for (auto t : {"public.keep", "public.gone", "public.dropme"}) {
		DuckpipeOk({"add-table", t});
	}
	auto daemon = StartDaemon();
	for (auto t : {"public.keep", "public.gone", "public.dropme"}) {
		ASSERT_TRUE(WaitTableState(t, "STREAMING")) << t << ": " << TableState(t);
	}
	Sql("INSERT INTO public.gone VALUES (101, 'before removal')");
	ASSERT_TRUE(WaitLakeEqualsSource("public.gone"));

	DuckpipeOk({"remove-table", "public.gone"});
	DuckpipeOk({"remove-table", "--drop-target", "public.dropme"});
	EXPECT_EQ(TableState("public.gone"), "<absent>");
	// Writes to the removed table only, right away (the daemon may still route them for a moment)
	// and for a few seconds after.
	auto conn = Connect();
	for (int i = 0; i < 40; i++) {
		conn->Exec("INSERT INTO public.gone VALUES (" + std::to_string(1000 + i) + ", 'after removal')");
		conn->Exec("UPDATE public.gone SET v = 'upd' WHERE id = " + std::to_string(i + 1));
		std::this_thread::sleep_for(50ms);
	}
	Lsn after = CurrentWal();
	EXPECT_TRUE(WaitConfirmedPast(after, 15s))
	    << "slot confirmed " << SlotConfirmed().ToString() << ", WAL after the writes " << after.ToString();
	// The removed table's lake table stays as it was; the dropped one is gone from the lake.
	EXPECT_EQ(LakeCount("public.gone_ducklake"), 101);
	EXPECT_EQ(LakeCount("public.dropme_ducklake"), -1);
	// The remaining table still streams.
	Sql("UPDATE public.keep SET v = 'still' WHERE id <= 50");
	EXPECT_TRUE(WaitLakeEqualsSource("public.keep"));
	EXPECT_EQ(daemon->Terminate(), 0);
}

TEST_F(SlotTest, IdleGroupFollowsWal) {
	Sql("CREATE TABLE public.synced (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.synced SELECT g, 's' FROM generate_series(1, 100) g");
	Sql("CREATE TABLE public.unsynced (id serial PRIMARY KEY, v text)");
	DuckpipeOk({"add-table", "public.synced"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.synced", "STREAMING"));
	ASSERT_TRUE(WaitLakeEqualsSource("public.synced"));

	// Writes only to a table no group syncs, for several seconds: the slot must keep following.
	auto conn = Connect();
	Lsn begin = CurrentWal();
	int64_t worst_lag = 0;
	auto start = std::chrono::steady_clock::now();
	for (int i = 0; std::chrono::steady_clock::now() - start < 8s; i++) {
		conn->Exec("INSERT INTO public.unsynced(v) SELECT repeat('x', 200) FROM generate_series(1, 20)");
		std::this_thread::sleep_for(20ms);
		if (std::chrono::steady_clock::now() - start > 5s) {
			worst_lag = std::max(worst_lag, SlotLagBytes());
		}
	}
	Lsn after = CurrentWal();
	EXPECT_TRUE(WaitConfirmedPast(after, 5s))
	    << "slot confirmed " << SlotConfirmed().ToString() << ", WAL after the writes " << after.ToString();
	// While writing (after a start-up margin) the slot trailed by a few seconds of writes at most,
	// not by everything written since the start.
	int64_t written = static_cast<int64_t>(after.value - begin.value);
	EXPECT_LT(worst_lag, written / 2) << "worst lag " << worst_lag << " bytes of " << written << " written";
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
