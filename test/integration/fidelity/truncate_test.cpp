// TRUNCATE reaches the lake in order with the changes around it: in one transaction, across
// transactions, over several tables in one statement, with CASCADE and RESTART IDENTITY, in
// append mode (recorded, not applied), and without holding back the other tables of the group.
#include "harness/pipeline_fixture.hpp"

#include <thread>

namespace duckpipe::test {

class TruncateTest : public PipelineTest {};

TEST_F(TruncateTest, InOneTransactionAndAcrossTransactions) {
	Sql("CREATE TABLE public.tr (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.tr SELECT g, 'copy' || g FROM generate_series(1, 1000) g");
	DuckpipeOk({"add-table", "public.tr"});
	// A long flush interval: every transaction below lands in the same buffered flush, so the
	// truncate sits in the middle of it.
	auto daemon = StartDaemon({}, {}, 2500);
	ASSERT_TRUE(WaitTableState("public.tr", "STREAMING")) << TableState("public.tr");
	ASSERT_TRUE(WaitLakeEqualsSource("public.tr"));

	// One transaction: rows before the truncate vanish, rows after it stay.
	Sql("BEGIN; INSERT INTO public.tr VALUES (5000, 'gone'); UPDATE public.tr SET v = 'upd' WHERE id <= 10; "
	    "TRUNCATE public.tr; INSERT INTO public.tr VALUES (1, 'after1'), (2, 'after2'); "
	    "UPDATE public.tr SET v = 'after2-upd' WHERE id = 2; INSERT INTO public.tr VALUES (3, 'after3'); "
	    "DELETE FROM public.tr WHERE id = 3; COMMIT");
	// Across transactions, all in the same flush window.
	Sql("INSERT INTO public.tr SELECT g, 'later' || g FROM generate_series(100, 199) g");
	Sql("TRUNCATE public.tr");
	Sql("INSERT INTO public.tr SELECT g, 'final' || g FROM generate_series(150, 260) g");
	Sql("UPDATE public.tr SET v = v || '!' WHERE id % 2 = 0");
	Sql("DELETE FROM public.tr WHERE id % 5 = 0");
	ASSERT_TRUE(WaitLakeEqualsSource("public.tr", 30s));
	EXPECT_EQ(LakeQuery("SELECT min(id), max(id) FROM public.tr_ducklake")[0],
	          (std::vector<std::string>{"151", "259"}));

	// A truncate that ends a flush window (nothing after it) and one right after a flush.
	Sql("INSERT INTO public.tr VALUES (9000, 'x')");
	Sql("TRUNCATE public.tr");
	EXPECT_TRUE(WaitLakeCount("public.tr_ducklake", 0, 30s)) << LakeCount("public.tr_ducklake");
	Sql("INSERT INTO public.tr VALUES (1, 'again')");
	ASSERT_TRUE(WaitLakeEqualsSource("public.tr", 30s));
	// Truncating an already empty table and a rolled back truncate change nothing.
	Sql("BEGIN; TRUNCATE public.tr; ROLLBACK");
	Sql("INSERT INTO public.tr VALUES (2, 'two')");
	ASSERT_TRUE(WaitLakeEqualsSource("public.tr", 30s));
	EXPECT_EQ(daemon->Terminate(), 0);
}

TEST_F(TruncateTest, SeveralTablesInOneStatement) {
	for (auto t : {"a", "b", "c"}) {
		Sql(std::string("CREATE TABLE public.") + t + " (id int PRIMARY KEY, v text)");
		Sql(std::string("INSERT INTO public.") + t + " SELECT g, 'v' || g FROM generate_series(1, 200) g");
		DuckpipeOk({"add-table", std::string("public.") + t});
	}
	auto daemon = StartDaemon();
	for (auto t : {"public.a", "public.b", "public.c"}) {
		ASSERT_TRUE(WaitTableState(t, "STREAMING")) << t << ": " << TableState(t);
	}
	// a and b truncated together (c untouched), with inserts before and after in the same transaction.
	Sql("BEGIN; INSERT INTO public.a VALUES (1000, 'pre'); INSERT INTO public.c VALUES (1000, 'c-pre'); "
	    "TRUNCATE public.a, public.b; INSERT INTO public.b VALUES (7, 'b-post'); COMMIT");
	for (auto t : {"public.a", "public.b", "public.c"}) {
		EXPECT_TRUE(WaitLakeEqualsSource(t, 30s));
	}
	EXPECT_EQ(LakeCount("public.a_ducklake"), 0);
	EXPECT_EQ(LakeCount("public.b_ducklake"), 1);
	EXPECT_EQ(LakeCount("public.c_ducklake"), 201);
	EXPECT_EQ(daemon->Terminate(), 0);
}

TEST_F(TruncateTest, CascadeOverForeignKey) {
	Sql("CREATE TABLE public.parent (id int PRIMARY KEY, v text)");
	Sql("CREATE TABLE public.child (id int PRIMARY KEY, parent_id int REFERENCES public.parent(id), v text)");
	Sql("INSERT INTO public.parent SELECT g, 'p' || g FROM generate_series(1, 50) g");
	Sql("INSERT INTO public.child SELECT g, 1 + g % 50, 'c' || g FROM generate_series(1, 500) g");
	DuckpipeOk({"add-table", "public.parent"});
	DuckpipeOk({"add-table", "public.child"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.parent", "STREAMING"));
	ASSERT_TRUE(WaitTableState("public.child", "STREAMING"));
	// The message names only parent; CASCADE adds child to the same TRUNCATE message.
	Sql("BEGIN; TRUNCATE public.parent CASCADE; INSERT INTO public.parent VALUES (1, 'new'); "
	    "INSERT INTO public.child VALUES (1, 1, 'new-child'); COMMIT");
	EXPECT_TRUE(WaitLakeEqualsSource("public.parent", 30s));
	EXPECT_TRUE(WaitLakeEqualsSource("public.child", 30s));
	EXPECT_EQ(LakeCount("public.child_ducklake"), 1);
	EXPECT_EQ(daemon->Terminate(), 0);
}

TEST_F(TruncateTest, RestartIdentityReusesKeys) {
	Sql("CREATE TABLE public.ser (id serial PRIMARY KEY, v text)");
	Sql("INSERT INTO public.ser (v) SELECT 'first' || g FROM generate_series(1, 100) g");
	DuckpipeOk({"add-table", "public.ser"});
	auto daemon = StartDaemon({}, {}, 1500);
	ASSERT_TRUE(WaitTableState("public.ser", "STREAMING"));
	ASSERT_TRUE(WaitLakeEqualsSource("public.ser"));
	// The same keys come back right after the truncate, in the same flush window and in the same
	// transaction: each must end once, with its new value.
	Sql("INSERT INTO public.ser (v) SELECT 'second' || g FROM generate_series(1, 20) g");
	Sql("TRUNCATE public.ser RESTART IDENTITY");
	Sql("INSERT INTO public.ser (v) SELECT 'third' || g FROM generate_series(1, 60) g");
	Sql("BEGIN; TRUNCATE public.ser RESTART IDENTITY; INSERT INTO public.ser (v) SELECT 'fourth' || g FROM "
	    "generate_series(1, 30) g; UPDATE public.ser SET v = v || '-u' WHERE id <= 5; COMMIT");
	ASSERT_TRUE(WaitLakeEqualsSource("public.ser", 30s));
	EXPECT_EQ(LakeQuery("SELECT count(*), min(id), max(id), count(DISTINCT id) FROM public.ser_ducklake")[0],
	          (std::vector<std::string>{"30", "1", "30", "30"}));
	// Upserts on the reused keys after the truncate has been flushed.
	Sql("UPDATE public.ser SET v = 'later' WHERE id BETWEEN 10 AND 20");
	Sql("INSERT INTO public.ser (v) VALUES ('thirty-one')");
	ASSERT_TRUE(WaitLakeEqualsSource("public.ser", 30s));
	EXPECT_EQ(daemon->Terminate(), 0);
}

TEST_F(TruncateTest, OtherTableKeepsStreamingWhileOneIsTruncatedRepeatedly) {
	Sql("CREATE TABLE public.hot (id int PRIMARY KEY, v text)");
	Sql("CREATE TABLE public.steady (id int PRIMARY KEY, v text)");
	DuckpipeOk({"add-table", "public.hot"});
	DuckpipeOk({"add-table", "public.steady"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.hot", "STREAMING"));
	ASSERT_TRUE(WaitTableState("public.steady", "STREAMING"));

	auto writer = Connect();
	int64_t seen_progress = 0;
	int64_t last_count = 0;
	for (int round = 0; round < 20; round++) {
		writer->Exec("INSERT INTO public.hot SELECT g, 'r" + std::to_string(round) +
		             "' FROM generate_series(1, 500) g");
		writer->Exec("TRUNCATE public.hot");
		writer->Exec("INSERT INTO public.hot VALUES (" + std::to_string(1000 + round) + ", 'survivor')");
		writer->Exec("INSERT INTO public.steady SELECT g, 'v' FROM generate_series(" + std::to_string(round * 100) +
		             ", " + std::to_string(round * 100 + 99) + ") g");
		std::this_thread::sleep_for(150ms);
		int64_t n = LakeCount("public.steady_ducklake");
		if (n > last_count) {
			seen_progress++;
			last_count = n;
		}
	}
	// steady moved on during the rounds, not only at the end.
	EXPECT_GE(seen_progress, 3) << "steady's lake table grew only " << seen_progress << " times during 20 rounds";
	EXPECT_TRUE(WaitLakeEqualsSource("public.steady", 30s));
	EXPECT_TRUE(WaitLakeEqualsSource("public.hot", 30s));
	EXPECT_EQ(LakeCount("public.hot_ducklake"), 1);
	EXPECT_EQ(daemon->Terminate(), 0);
}

// Append mode keeps a changelog: a TRUNCATE becomes one row with duckpipe_op = 'T' and the
// rows recorded before it stay.
TEST_F(TruncateTest, AppendModeRecordsTruncate) {
	Sql("CREATE TABLE public.log (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.log SELECT g, 'copy' || g FROM generate_series(1, 10) g");
	DuckpipeOk({"add-table", "--append", "public.log"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.log", "STREAMING"))
	    << TableState("public.log") << " " << TableError("public.log");
	ASSERT_TRUE(WaitLakeCount("public.log_ducklake", 10));
	Sql("BEGIN; INSERT INTO public.log VALUES (100, 'pre'); TRUNCATE public.log; INSERT INTO public.log VALUES (1, "
	    "'post'); COMMIT");
	// 10 copied + I(100) + T + I(1).
	bool ok = WaitLakeCount("public.log_ducklake", 13, 30s);
	auto ops = LakeQuery("SELECT duckpipe_op, count(*) FROM public.log_ducklake GROUP BY 1 ORDER BY 1");
	std::string dump;
	for (const auto &r : ops) {
		dump += r[0] + "=" + r[1] + " ";
	}
	EXPECT_TRUE(ok) << "lake rows: " << LakeCount("public.log_ducklake") << " by op: " << dump;
	EXPECT_EQ(ops, (Rows{{"I", "12"}, {"T", "1"}})) << dump;
	// The truncate sits between the rows around it in commit order (same LSN, one transaction),
	// and the copied rows were not erased.
	EXPECT_EQ(LakeQuery("SELECT count(*) FROM public.log_ducklake WHERE v LIKE 'copy%'")[0][0], "10");
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
