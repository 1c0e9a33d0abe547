// Tables are routed by OID: renaming a source table or its schema keeps it syncing into the same
// lake table; dropping it is reported on that table alone while the rest of the group streams.
#include "harness/pipeline_fixture.hpp"

namespace duckpipe::test {

class RenameDropTest : public PipelineTest {};

TEST_F(RenameDropTest, RenameTableAndSchemaWhileStreaming) {
	Sql("CREATE SCHEMA app");
	Sql("CREATE TABLE app.orders (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO app.orders SELECT g, 'v' || g FROM generate_series(1, 100) g");
	DuckpipeOk({"add-table", "app.orders"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("app.orders", "STREAMING")) << TableState("app.orders");
	const std::string lake = "app.orders_ducklake";

	// Changes right before and right after the rename, in one transaction and across.
	Sql("BEGIN; INSERT INTO app.orders VALUES (101, 'before'); ALTER TABLE app.orders RENAME TO orders2; "
	    "INSERT INTO app.orders2 VALUES (102, 'after'); COMMIT");
	Sql("UPDATE app.orders2 SET v = 'upd' WHERE id <= 10");
	Sql("DELETE FROM app.orders2 WHERE id BETWEEN 11 AND 20");
	ASSERT_TRUE(WaitLakeEqualsSource("app.orders2", 30s, lake));

	Sql("ALTER SCHEMA app RENAME TO app2");
	Sql("INSERT INTO app2.orders2 SELECT g, 'moved' || g FROM generate_series(200, 299) g");
	Sql("UPDATE app2.orders2 SET v = 'upd2' WHERE id BETWEEN 21 AND 30");
	ASSERT_TRUE(WaitLakeEqualsSource("app2.orders2", 30s, lake));
	// Across a restart too: the table is found by OID, not by its stale name.
	EXPECT_EQ(daemon->Terminate(), 0);
	Sql("INSERT INTO app2.orders2 VALUES (1000, 'while down')");
	daemon = StartDaemon();
	Sql("INSERT INTO app2.orders2 VALUES (1001, 'after restart')");
	ASSERT_TRUE(WaitLakeEqualsSource("app2.orders2", 30s, lake));
	// The mapping still answers to the name it was added under (or the new one) and is healthy.
	auto r = Duckpipe({"status"});
	EXPECT_EQ(r.exit_code, 0) << r.output;
	EXPECT_EQ(Scalar("SELECT state FROM duckpipe.table_mappings"), "STREAMING");
	EXPECT_EQ(daemon->Terminate(), 0);
}

// A renamed table's mapping keeps its old name; a new table may take that name. Removing the old
// mapping must take the renamed table (by OID) out of the publication, not the new one.
TEST_F(RenameDropTest, RemoveAfterRenameLeavesTheNewTableAlone) {
	Sql("CREATE TABLE public.a (id int PRIMARY KEY, v text)");
	DuckpipeOk({"add-table", "public.a"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.a", "STREAMING"));
	Sql("ALTER TABLE public.a RENAME TO a_old");
	Sql("CREATE TABLE public.a (id int PRIMARY KEY, v text)");
	DuckpipeOk({"add-table", "public.a", "public.a_new_lake"});
	ASSERT_TRUE(WaitFor(
	    [&] {
		    return Scalar("SELECT count(*) FROM duckpipe.table_mappings WHERE state = "
		                  "'STREAMING'") == "2";
	    },
	    30s));
	Sql("INSERT INTO public.a_old VALUES (1, 'old')");
	Sql("INSERT INTO public.a VALUES (1, 'new')");
	ASSERT_TRUE(WaitLakeEqualsSource("public.a_old", 30s, "public.a_ducklake"));
	ASSERT_TRUE(WaitLakeEqualsSource("public.a", 30s, "public.a_new_lake"));

	DuckpipeOk({"remove-table", "public.a_ducklake"});
	auto published = [&] {
		return Scalar("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_publication_tables WHERE "
		              "pubname = 'duckpipe_pub_default'");
	};
	ASSERT_TRUE(WaitFor([&] { return published() == "a"; }, 20s)) << published();
	Sql("INSERT INTO public.a VALUES (2, 'still synced')");
	EXPECT_TRUE(WaitLakeEqualsSource("public.a", 30s, "public.a_new_lake"));
	EXPECT_EQ(daemon->Terminate(), 0);
}

TEST_F(RenameDropTest, DroppedSourceTableIsReportedAndOthersKeepStreaming) {
	Sql("CREATE TABLE public.doomed (id int PRIMARY KEY, v text)");
	Sql("CREATE TABLE public.alive (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.doomed SELECT g, 'v' FROM generate_series(1, 100) g");
	DuckpipeOk({"add-table", "public.doomed"});
	DuckpipeOk({"add-table", "public.alive"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.doomed", "STREAMING"));
	ASSERT_TRUE(WaitTableState("public.alive", "STREAMING"));

	ASSERT_TRUE(WaitLakeEqualsSource("public.doomed", 30s));
	// The last changes are committed right before the DROP: they must still reach the lake.
	Sql("INSERT INTO public.doomed VALUES (101, 'last')");
	Sql("UPDATE public.doomed SET v = 'final' WHERE id <= 10");
	Sql("INSERT INTO public.alive VALUES (1, 'a')");
	Sql("DROP TABLE public.doomed");
	Sql("INSERT INTO public.alive VALUES (2, 'b')");

	ASSERT_TRUE(WaitTableState("public.doomed", "ERRORED", 20s)) << TableState("public.doomed");
	std::string error = TableError("public.doomed");
	EXPECT_NE(error.find("public.doomed"), std::string::npos) << error;
	EXPECT_NE(error.find("dropped"), std::string::npos) << error;
	EXPECT_NE(error.find("remove-table"), std::string::npos) << error;
	// The lake table keeps the last synced state; the group goes on.
	EXPECT_EQ(LakeCount("public.doomed_ducklake"), 101);
	EXPECT_EQ(LakeQuery("SELECT count(*) FROM public.doomed_ducklake WHERE v = 'final'")[0][0], "10");
	for (int i = 3; i < 50; i++) {
		Sql("INSERT INTO public.alive VALUES (" + std::to_string(i) + ", 'x')");
	}
	EXPECT_TRUE(WaitLakeEqualsSource("public.alive", 30s));
	auto status = Duckpipe({"status"});
	EXPECT_EQ(status.exit_code, 0) << status.output;
	EXPECT_NE(status.output.find("doomed"), std::string::npos) << status.output;
	// Removing it is then clean, and the rest still streams.
	DuckpipeOk({"remove-table", "public.doomed"});
	Sql("INSERT INTO public.alive VALUES (100, 'after remove')");
	EXPECT_TRUE(WaitLakeEqualsSource("public.alive", 30s));
	EXPECT_EQ(TableState("public.alive"), "STREAMING");
	EXPECT_TRUE(daemon->IsRunning());
	EXPECT_EQ(daemon->Terminate(), 0);
}

// A table dropped while its last changes are held back (the lake commit blocked, here for longer
// than the minute after which it used to be failed regardless) fails only once those changes are
// in the lake: failing it earlier dropped them and let the slot move past them.
TEST_F(RenameDropTest, DroppedTableFailsOnlyOnceDrained) {
	allow_table_failures_ = true;
	Sql("CREATE TABLE public.doomed (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.doomed SELECT g, 'v' FROM generate_series(1, 100) g");
	DuckpipeOk({"add-table", "public.doomed"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.doomed", "STREAMING"));
	ASSERT_TRUE(WaitLakeEqualsSource("public.doomed", 30s));

	// Lake commits wait for this lock (they insert a snapshot row); reads go on.
	auto locker = Connect();
	locker->Exec("BEGIN");
	locker->Exec("LOCK TABLE ducklake.ducklake_snapshot IN EXCLUSIVE MODE");
	Sql("INSERT INTO public.doomed VALUES (101, 'first')");
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT count(*) FROM pg_locks WHERE NOT granted") != "0"; }, 30s))
	    << LogTail();
	Sql("INSERT INTO public.doomed VALUES (102, 'second')");
	Sql("UPDATE public.doomed SET v = 'final' WHERE id <= 10");
	Sql("DROP TABLE public.doomed");
	ASSERT_TRUE(WaitFor([&] { return CountLog("event=table.source_dropped") > 0; }, 30s)) << LogTail();
	EXPECT_FALSE(WaitFor([&] { return TableState("public.doomed") == "ERRORED"; }, 70s, 500ms))
	    << "failed before its changes reached the lake: " << TableError("public.doomed");
	locker->Exec("COMMIT");

	ASSERT_TRUE(WaitTableState("public.doomed", "ERRORED", 30s)) << LogTail();
	EXPECT_NE(TableError("public.doomed").find("dropped"), std::string::npos);
	EXPECT_EQ(LakeCount("public.doomed_ducklake"), 102);
	EXPECT_EQ(LakeQuery("SELECT count(*) FROM public.doomed_ducklake WHERE v = 'final'")[0][0], "10");
	EXPECT_EQ(LakeQuery("SELECT v FROM public.doomed_ducklake WHERE id = 102"), (Rows{{"second"}}));
	EXPECT_EQ(daemon->Terminate(), 0);
}

// Dropped while the daemon was down, with changes committed before the DROP still unflushed (the
// daemon was killed): the restarted daemon applies them from the slot before failing the table.
TEST_F(RenameDropTest, DroppedWhileDownGetsItsLastChangesFirst) {
	allow_table_failures_ = true;
	Sql("CREATE TABLE public.doomed (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.doomed SELECT g, 'v' FROM generate_series(1, 100) g");
	DuckpipeOk({"add-table", "public.doomed"});
	{
		// Flushes a minute apart: the changes below stay buffered until the kill.
		auto daemon = StartDaemon({}, {}, 60000);
		ASSERT_TRUE(WaitTableState("public.doomed", "STREAMING"));
		ASSERT_TRUE(WaitLakeCount("public.doomed_ducklake", 100, 30s));
		Sql("INSERT INTO public.doomed VALUES (101, 'last')");
		Sql("UPDATE public.doomed SET v = 'final' WHERE id <= 10");
		ASSERT_TRUE(WaitFor(
		    [&] {
			    return Scalar("SELECT sum(buffered_rows + queued_changes) FROM "
			                  "duckpipe.table_mappings") != "0";
		    },
		    30s));
		daemon->Kill();
	}
	Sql("DROP TABLE public.doomed");
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.doomed", "ERRORED", 30s)) << LogTail();
	EXPECT_NE(TableError("public.doomed").find("dropped"), std::string::npos) << TableError("public.doomed");
	EXPECT_EQ(LakeCount("public.doomed_ducklake"), 101) << LogTail();
	EXPECT_EQ(LakeQuery("SELECT count(*) FROM public.doomed_ducklake WHERE v = 'final'")[0][0], "10");
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
