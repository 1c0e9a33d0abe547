// The group's slot must not hold WAL back for tables it no longer syncs or when nothing it syncs changes.
#include "core/pg/pg_connection.hpp"
#include "harness/pipeline_fixture.hpp"

#include <thread>

namespace duckpipe::test {

class SlotTest : public PipelineTest {
protected:
	Lsn CurrentWal() { return Lsn::Parse(Scalar("SELECT pg_current_wal_lsn()")); }
	// Waits until the default slot has confirmed at least `lsn`.
	bool WaitConfirmedPast(Lsn lsn, std::chrono::milliseconds timeout) {
		return WaitFor([&] { return SlotConfirmed() >= lsn; }, timeout, 100ms);
	}
};

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
