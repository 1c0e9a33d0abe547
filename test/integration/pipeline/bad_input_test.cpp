// Bad input: a clear message naming the problem and how to fix it, and a non-zero exit code.
#include "harness/pipeline_fixture.hpp"

namespace duckpipe::test {

class BadInputTest : public PipelineTest {};

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
