// Bad input: a clear message naming the problem and how to fix it, and a non-zero exit code.
#include "harness/pipeline_fixture.hpp"

#include <memory>
#include <vector>

namespace duckpipe::test {

class BadInputTest : public PipelineTest {};

// What the relation is comes first: a view, materialized view or foreign table is named as such
// (not given the primary-key hint), and unlogged and temporary tables, whose changes never reach
// the WAL, are refused with the fix.
TEST_F(BadInputTest, AddTableRefusesWhatIsNotALoggedTable) {
	Sql("CREATE TABLE public.base (id int PRIMARY KEY, v text)");
	Sql("CREATE VIEW public.a_view AS SELECT * FROM public.base");
	Sql("CREATE MATERIALIZED VIEW public.a_matview AS SELECT * FROM public.base");
	Sql("CREATE FOREIGN DATA WRAPPER dummy_fdw");
	Sql("CREATE SERVER dummy_server FOREIGN DATA WRAPPER dummy_fdw");
	Sql("CREATE FOREIGN TABLE public.a_foreign (id int) SERVER dummy_server");
	Sql("CREATE UNLOGGED TABLE public.an_unlogged (id int PRIMARY KEY)");
	Sql("CREATE TEMP TABLE a_temp (id int PRIMARY KEY)");
	std::string temp_schema = Scalar("SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
	                                 "WHERE c.relname = 'a_temp'");
	struct Case {
		std::string table;
		std::string says;
	};
	for (const auto &c : std::vector<Case>{{"public.a_view", "is a view"},
	                                       {"public.a_matview", "is a materialized view"},
	                                       {"public.a_foreign", "is a foreign table"},
	                                       {"public.an_unlogged", "is an unlogged table"},
	                                       {temp_schema + ".a_temp", "is a temporary table"}}) {
		auto r = Duckpipe({"add-table", c.table});
		EXPECT_NE(r.exit_code, 0) << c.table << ": " << r.output;
		EXPECT_NE(r.output.find(c.says), std::string::npos) << c.table << ": " << r.output;
		EXPECT_EQ(r.output.find("primary key"), std::string::npos) << c.table << ": " << r.output;
	}
	EXPECT_NE(Duckpipe({"add-table", "public.an_unlogged"}).output.find("SET LOGGED"), std::string::npos);
	EXPECT_EQ(Scalar("SELECT count(*) FROM duckpipe.table_mappings"), "0");
	Sql("DROP TABLE a_temp");
}

// A table PostgreSQL refuses to publish (here made unlogged after add-table) fails alone, with
// the reason; the group's other tables are copied and stream.
TEST_F(BadInputTest, UnpublishableTableFailsAlone) {
	allow_table_failures_ = true;
	Sql("CREATE TABLE public.bad (id int PRIMARY KEY, v text)");
	Sql("CREATE TABLE public.good (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.good SELECT g, 'g' FROM generate_series(1, 100) g");
	DuckpipeOk({"add-table", "public.bad"});
	DuckpipeOk({"add-table", "public.good"});
	Sql("ALTER TABLE public.bad SET UNLOGGED");
	auto daemon = StartDaemon();
	auto error = WaitTableError("public.bad", 30s);
	EXPECT_NE(error.find("publication"), std::string::npos) << error << LogTail();
	ASSERT_TRUE(WaitTableState("public.good", "STREAMING", 30s)) << TableState("public.good") << LogTail();
	Sql("INSERT INTO public.good VALUES (101, 'streamed')");
	EXPECT_TRUE(WaitLakeEqualsSource("public.good", 30s));
	EXPECT_EQ(daemon->Terminate(), 0);
}

// No free replication slot is a failure of the whole group: `status` shows it (table and json)
// on a row of the group's own, and clears it once the group works again.
TEST_F(BadInputTest, GroupFailureShownInStatus) {
	Sql("CREATE TABLE public.t (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.t VALUES (1, 'x')");
	DuckpipeOk({"add-table", "public.t"});
	int free = std::stoi(Scalar("SELECT current_setting('max_replication_slots')::int - count(*) "
	                            "FROM pg_replication_slots"));
	std::shared_ptr<void> release(nullptr, [this](void *) {
		Sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'hog_%'");
	});
	for (int i = 0; i < free; i++) {
		Sql("SELECT pg_create_physical_replication_slot('hog_" + std::to_string(i) + "')");
	}
	auto daemon = StartDaemon();
	std::string json;
	ASSERT_TRUE(WaitFor(
	    [&] {
		    json = Duckpipe({"status", "--format", "json"}).output;
		    return json.find("replication slots are in use") != std::string::npos;
	    },
	    30s))
	    << json << LogTail();
	EXPECT_NE(json.find("\"state\":\"ERRORED\""), std::string::npos) << json;
	auto table = Duckpipe({"status"});
	EXPECT_NE(table.output.find("replication slots are in use"), std::string::npos) << table.output;
	release.reset();
	ASSERT_TRUE(WaitTableState("public.t", "STREAMING", 60s)) << LogTail();
	EXPECT_TRUE(WaitLakeEqualsSource("public.t"));
	EXPECT_TRUE(WaitFor([&] { return Duckpipe({"status"}).output.find("in use") == std::string::npos; }, 10s));
	EXPECT_EQ(daemon->Terminate(), 0);
}

// A failure of the group's replication stream (here its publication dropped under the running
// daemon) is shown by `status` on the group's row, not only in the log.
TEST_F(BadInputTest, StreamFailureShownInStatus) {
	allow_table_failures_ = true;
	Sql("CREATE TABLE public.t (id int PRIMARY KEY, v text)");
	DuckpipeOk({"add-table", "public.t"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.t", "STREAMING", 30s)) << LogTail();
	Sql("DROP PUBLICATION duckpipe_pub_default");
	Sql("INSERT INTO public.t VALUES (1, 'after the drop')");
	std::string json;
	ASSERT_TRUE(WaitFor(
	    [&] {
		    json = Duckpipe({"status", "--format", "json"}).output;
		    return json.find("duckpipe_pub_default") != std::string::npos &&
		           json.find("does not exist") != std::string::npos;
	    },
	    30s))
	    << json << LogTail();
	EXPECT_NE(Duckpipe({"status"}).output.find("replication stream of slot duckpipe_slot_default"), std::string::npos);
	daemon->Terminate();
}

// create-group writes metadata only: it says which of the publication and slot the daemon will
// create, and never claims a slot that does not exist.
TEST_F(BadInputTest, CreateGroupDoesNotClaimASlot) {
	auto r = Duckpipe({"create-group", "g2"});
	EXPECT_EQ(r.exit_code, 0) << r.output;
	EXPECT_EQ(Scalar("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'duckpipe_slot_g2'"), "0");
	EXPECT_NE(r.output.find("creates its publication duckpipe_pub_g2 and replication slot duckpipe_slot_g2"),
	          std::string::npos)
	    << r.output;
	Sql("SELECT pg_create_logical_replication_slot('mine', 'pgoutput')");
	auto existing = Duckpipe({"create-group", "g3", "--slot", "mine"});
	EXPECT_NE(existing.output.find("uses the existing replication slot mine"), std::string::npos) << existing.output;
	Sql("SELECT pg_drop_replication_slot('mine')");
}

TEST_F(BadInputTest, RunRefusesSourceWithoutLogicalWal) {
	PgCluster replica_only(PgCluster::Options{.settings = {{"wal_level", "replica"}}});
	std::string db = replica_only.CreateDatabase("nolog");
	DaemonProcess daemon({"--source", replica_only.Conninfo(db), "--data-path", data_path_, "--temp-dir", temp_path_,
	                      "run", "--flush-interval", "300"},
	                     log_path_);
	int code = daemon.Wait(30s);
	EXPECT_NE(code, -1) << "duckpipe run kept running against a wal_level=replica source:\n" << daemon.Log();
	EXPECT_NE(code, 0);
	EXPECT_NE(daemon.Log().find("wal_level"), std::string::npos) << daemon.Log();
	EXPECT_NE(daemon.Log().find("logical"), std::string::npos) << daemon.Log();
}

TEST_F(BadInputTest, UnreachableSource) {
	auto r = RunDuckpipe({"--source", "host=127.0.0.1 port=1 dbname=nowhere user=postgres connect_timeout=3",
	                      "--data-path", data_path_, "run"});
	EXPECT_EQ(r.exit_code, 69) << r.output; // EX_UNAVAILABLE
	EXPECT_NE(r.output.find("127.0.0.1"), std::string::npos) << r.output;

	auto add = RunDuckpipe({"--source", "host=127.0.0.1 port=1 dbname=nowhere connect_timeout=3", "add-table", "t"});
	EXPECT_NE(add.exit_code, 0) << add.output;
	EXPECT_NE(add.output.find("duckpipe:"), std::string::npos) << add.output;
}

TEST_F(BadInputTest, AddMissingTable) {
	auto r = Duckpipe({"add-table", "public.does_not_exist"});
	EXPECT_EQ(r.exit_code, 64) << r.output;
	EXPECT_NE(r.output.find("does_not_exist"), std::string::npos) << r.output;
}

// add-table refuses a table without a primary key in upsert mode, naming the table and the fixes,
// and refuses any keyless table without REPLICA IDENTITY FULL (published, it would make UPDATE and
// DELETE fail on the source). With FULL it syncs in append mode: every change is a row.
TEST_F(BadInputTest, TableWithoutPrimaryKeyInUpsertMode) {
	Sql("CREATE TABLE public.nokey (a int, b text)");
	Sql("INSERT INTO public.nokey SELECT g, 'b' || g FROM generate_series(1, 20) g");
	Sql("CREATE TABLE public.nokey_log (a int, b text)");
	Sql("INSERT INTO public.nokey_log SELECT g, 'b' || g FROM generate_series(1, 20) g");
	auto add = Duckpipe({"add-table", "public.nokey"});
	EXPECT_EQ(add.exit_code, 64) << add.output; // EX_USAGE
	EXPECT_NE(add.output.find("public.nokey"), std::string::npos) << add.output;
	EXPECT_NE(add.output.find("primary key"), std::string::npos) << add.output;
	EXPECT_NE(add.output.find("--append"), std::string::npos) << add.output;
	EXPECT_EQ(TableState("public.nokey"), "<absent>");
	auto add_append = Duckpipe({"add-table", "--append", "public.nokey_log"});
	EXPECT_EQ(add_append.exit_code, 64) << add_append.output;
	EXPECT_NE(add_append.output.find("REPLICA IDENTITY FULL"), std::string::npos) << add_append.output;
	// The source still accepts updates: the table was not published.
	Sql("UPDATE public.nokey_log SET b = b WHERE a = 1");

	Sql("ALTER TABLE public.nokey_log REPLICA IDENTITY FULL");
	DuckpipeOk({"add-table", "--append", "public.nokey_log"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.nokey_log", "STREAMING", 30s)) << TableState("public.nokey_log");
	ASSERT_TRUE(WaitLakeCount("public.nokey_log_ducklake", 20, 30s)) << LakeCount("public.nokey_log_ducklake");
	Sql("INSERT INTO public.nokey_log VALUES (100, 'new')");
	Sql("UPDATE public.nokey_log SET b = 'changed' WHERE a = 100");
	Sql("DELETE FROM public.nokey_log WHERE a = 1");
	ASSERT_TRUE(WaitLakeCount("public.nokey_log_ducklake", 23, 30s)) << LakeCount("public.nokey_log_ducklake");
	// The copy is 20 inserts at the snapshot LSN; then one row per change, with its commit time,
	// in commit order; a delete keeps the whole old row (REPLICA IDENTITY FULL).
	auto rows = LakeQuery("SELECT duckpipe_op || ':' || a || ':' || b || ':' || (duckpipe_commit_time IS NOT NULL) "
	                      "FROM public.nokey_log_ducklake WHERE a IN (1, 100) ORDER BY duckpipe_lsn, duckpipe_op");
	std::vector<std::string> expected = {"I:1:b1:false", "I:100:new:true", "U:100:changed:true", "D:1:b1:true"};
	ASSERT_EQ(rows.size(), expected.size());
	for (size_t i = 0; i < rows.size(); i++) {
		EXPECT_EQ(rows[i][0], expected[i]) << i;
	}
	EXPECT_EQ(LakeQuery("SELECT count(DISTINCT duckpipe_lsn) FROM public.nokey_log_ducklake")[0][0], "4");
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
