// Several tables and groups, tables joining while others stream, and one table failing alone.
#include "core/lake/lake_config.hpp"
#include "core/lake/lake_writer.hpp"
#include "harness/pipeline_fixture.hpp"

#include <atomic>
#include <thread>

namespace duckpipe::test {

class GroupsTest : public PipelineTest {
protected:
	void CreateTable(const std::string &name, int rows) {
		Sql("CREATE TABLE " + name + " (id bigint PRIMARY KEY, v text, n int)");
		Sql("INSERT INTO " + name + " SELECT g, 'v' || g, g FROM generate_series(1, " + std::to_string(rows) + ") g");
	}
	// One transaction of mixed DML on a table.
	void Churn(PgConnection &conn, const std::string &table, int round) {
		std::string base = std::to_string(100000 + round * 10);
		conn.Exec("BEGIN");
		conn.Exec("INSERT INTO " + table + " SELECT g, 'r" + std::to_string(round) + "', g FROM generate_series(" +
		          base + ", " + base + " + 4) g");
		conn.Exec("UPDATE " + table + " SET n = n + 1, v = v || '.' WHERE id = " + std::to_string(round % 50 + 1));
		conn.Exec("DELETE FROM " + table + " WHERE id = " + std::to_string(round + 200));
		conn.Exec("COMMIT");
	}
	// Writes `table` in a background thread until stopped.
	struct Writer {
		std::atomic<bool> stop{false};
		std::atomic<int> rounds{0};
		std::thread thread;
		~Writer() { Stop(); }
		void Stop() {
			stop.store(true);
			if (thread.joinable()) {
				thread.join();
			}
		}
	};
	void StartWriter(Writer &w, const std::string &table, int start_round = 0) {
		w.thread = std::thread([this, &w, table, start_round] {
			auto conn = Connect();
			for (int r = start_round; !w.stop.load(); r++) {
				Churn(*conn, table, r);
				w.rounds.fetch_add(1);
				std::this_thread::sleep_for(20ms);
			}
		});
	}
};

TEST_F(GroupsTest, SeveralTablesInSeveralGroups) {
	CreateTable("public.a1", 1000);
	CreateTable("public.a2", 500);
	CreateTable("public.b1", 800);
	Sql("CREATE SCHEMA other");
	CreateTable("other.b2", 300);
	DuckpipeOk({"create-group", "g2"});
	DuckpipeOk({"add-table", "public.a1"});
	DuckpipeOk({"add-table", "public.a2"});
	DuckpipeOk({"add-table", "public.b1", "--group", "g2"});
	DuckpipeOk({"add-table", "other.b2", "other.b2_lake", "--group", "g2"});
	auto daemon = StartDaemon();
	for (auto t : {"public.a1", "public.a2", "public.b1", "other.b2"}) {
		ASSERT_TRUE(WaitTableState(t, "STREAMING")) << t << ": " << TableState(t);
	}
	auto conn = Connect();
	for (int round = 0; round < 20; round++) {
		for (auto t : {"public.a1", "public.a2", "public.b1", "other.b2"}) {
			Churn(*conn, t, round);
		}
	}
	// One transaction spanning tables of both groups.
	conn->Exec("BEGIN; UPDATE public.a1 SET v = 'both' WHERE id < 10; UPDATE public.b1 SET v = 'both' WHERE id < 10; "
	           "COMMIT");
	EXPECT_TRUE(WaitLakeEqualsSource("public.a1"));
	EXPECT_TRUE(WaitLakeEqualsSource("public.a2"));
	EXPECT_TRUE(WaitLakeEqualsSource("public.b1"));
	EXPECT_TRUE(WaitLakeEqualsSource("other.b2", 60s, "other.b2_lake"));
	// Each group streams from its own slot.
	EXPECT_EQ(Scalar("SELECT count(*) FROM pg_replication_slots WHERE slot_name IN ('duckpipe_slot_default', "
	                 "'duckpipe_slot_g2') AND active"),
	          "2");
	EXPECT_EQ(daemon->Terminate(), 0);
}

TEST_F(GroupsTest, AddTableWhileOthersStream) {
	CreateTable("public.s1", 2000);
	DuckpipeOk({"add-table", "public.s1"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.s1", "STREAMING"));
	Writer w1;
	StartWriter(w1, "public.s1");

	CreateTable("public.late", 50000);
	Writer w2;
	StartWriter(w2, "public.late");
	ASSERT_TRUE(WaitFor([&] { return w2.rounds.load() > 5; }, 10s));
	auto s1_before = LakeCount("public.s1_ducklake");
	DuckpipeOk({"add-table", "public.late"});
	ASSERT_TRUE(WaitTableState("public.late", "STREAMING", 90s)) << TableState("public.late");
	// s1 kept flowing while late was copied.
	EXPECT_TRUE(WaitFor([&] { return LakeCount("public.s1_ducklake") > s1_before; }, 20s));
	// late streams for a while: more of its writer's rounds after it reached STREAMING.
	int late_rounds = w2.rounds.load();
	EXPECT_TRUE(WaitFor([&] { return w2.rounds.load() >= late_rounds + 30; }, 20s));
	w1.Stop();
	w2.Stop();
	EXPECT_TRUE(WaitLakeEqualsSource("public.s1"));
	EXPECT_TRUE(WaitLakeEqualsSource("public.late"));
	EXPECT_EQ(daemon->Terminate(), 0);
}

// A transaction in flight while a table is added commits before the copy's snapshot point: it is in
// the copy, and the stream must not keep waiting for it (the table reaches STREAMING and the slot
// moves on) although nothing is written to the table afterwards.
TEST_F(GroupsTest, AddTableWithTransactionInFlight) {
	CreateTable("public.base", 10);
	CreateTable("public.busy", 100);
	DuckpipeOk({"add-table", "public.base"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.base", "STREAMING"));

	auto inflight = Connect();
	inflight->Exec("BEGIN");
	inflight->Exec("SELECT txid_current()"); // holds an xid: the copy's slot waits for it to end
	DuckpipeOk({"add-table", "public.busy"});
	ASSERT_TRUE(WaitFor(
	    [&] {
		    return Scalar("SELECT count(*) FROM pg_publication_tables WHERE pubname = 'duckpipe_pub_default' AND "
		                  "tablename = 'busy'") == "1" &&
		           Scalar("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'duckpipe_copy_%'") == "1";
	    },
	    20s));
	inflight->Exec("INSERT INTO public.busy VALUES (1000, 'in flight', 1)");
	inflight->Exec("COMMIT");
	// The group's stream receives the transaction while the copy's slot still waits for a record of
	// the running transactions; CHECKPOINT writes one, so the slot becomes consistent after it.
	Lsn committed = Lsn::Parse(Scalar("SELECT pg_current_wal_lsn()"));
	EXPECT_TRUE(WaitFor(
	    [&] {
		    auto sent = Scalar("SELECT sent_lsn FROM pg_stat_replication WHERE application_name = "
		                       "'pg_duckpipe default'");
		    return sent != "<null>" && Lsn::Parse(sent) >= committed;
	    },
	    20s));
	Sql("CHECKPOINT");
	EXPECT_TRUE(WaitTableState("public.busy", "STREAMING", 30s)) << TableState("public.busy");
	EXPECT_TRUE(WaitLakeEqualsSource("public.busy"));
	Lsn now = Lsn::Parse(Scalar("SELECT pg_current_wal_lsn()"));
	EXPECT_TRUE(WaitFor([&] { return SlotConfirmed() >= now; }, 20s))
	    << "slot at " << SlotConfirmed().ToString() << ", WAL at " << now.ToString();
	EXPECT_EQ(daemon->Terminate(), 0);
}

// A table whose lake table disappears goes ERRORED alone; resync-table brings it back.
TEST_F(GroupsTest, FailedTableErrorsAloneAndResyncs) {
	allow_table_failures_ = true;
	CreateTable("public.good", 500);
	CreateTable("public.bad", 500);
	DuckpipeOk({"add-table", "public.good"});
	DuckpipeOk({"add-table", "public.bad"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.good", "STREAMING"));
	ASSERT_TRUE(WaitTableState("public.bad", "STREAMING"));
	ASSERT_TRUE(WaitLakeEqualsSource("public.bad"));

	{
		lake::LakeConfig config;
		config.catalog_conninfo = Source();
		config.data_path = data_path_;
		lake::LakeWriter writer(config);
		auto commit = writer.Begin();
		auto table = commit.FindTable("public", "bad_ducklake");
		ASSERT_TRUE(table.has_value());
		commit.DropTable(*table);
		commit.Commit({.author = std::string("test"), .message = std::string("dropped behind duckpipe's back")});
	}
	Writer wg;
	StartWriter(wg, "public.good");
	auto conn = Connect();
	Churn(*conn, "public.bad", 1);
	// ERRORED is retried automatically after a backoff, so watch closely.
	std::string error;
	ASSERT_TRUE(WaitFor(
	    [&] {
		    if (TableState("public.bad") != "ERRORED") {
			    return false;
		    }
		    error = TableError("public.bad");
		    return true;
	    },
	    30s, 50ms))
	    << TableState("public.bad");
	EXPECT_NE(error.find("bad_ducklake"), std::string::npos) << error;
	EXPECT_NE(error.find("resync-table"), std::string::npos) << error;
	// The other table keeps streaming.
	auto good_before = LakeCount("public.good_ducklake");
	EXPECT_TRUE(WaitFor([&] { return LakeCount("public.good_ducklake") > good_before; }, 20s));

	DuckpipeOk({"resync-table", "public.bad"});
	Churn(*conn, "public.bad", 2);
	EXPECT_TRUE(WaitTableState("public.bad", "STREAMING", 60s)) << TableState("public.bad");
	Churn(*conn, "public.bad", 3);
	wg.Stop();
	EXPECT_TRUE(WaitLakeEqualsSource("public.bad"));
	EXPECT_TRUE(WaitLakeEqualsSource("public.good"));
	EXPECT_EQ(Scalar("SELECT generation FROM duckpipe.table_mappings WHERE source_table = 'bad'"), "2");
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
