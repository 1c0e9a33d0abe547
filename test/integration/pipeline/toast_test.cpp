#include "harness/pipeline_fixture.hpp"

namespace duckpipe::test {

class ToastTest : public PipelineTest {};

// PostgreSQL does not send a TOASTed value an UPDATE left unchanged. The lake must keep it: from an
// earlier change of the same key in the buffer, else from the row already in the lake, without
// asking the user for REPLICA IDENTITY FULL.
TEST_F(ToastTest, UnchangedToastValuesSurviveUpdates) {
	// EXTERNAL: stored out of line and uncompressed, so every body is a TOAST pointer.
	Sql("CREATE TABLE public.docs (id int PRIMARY KEY, title text, body text)");
	Sql("ALTER TABLE public.docs ALTER COLUMN body SET STORAGE EXTERNAL");
	Sql("INSERT INTO public.docs SELECT g, 't' || g, repeat(md5(g::text), 200) FROM generate_series(1, 20) g");
	DuckpipeOk({"add-table", "public.docs"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.docs", "STREAMING", 30s)) << TableState("public.docs");
	ASSERT_TRUE(WaitLakeEqualsSource("public.docs"));

	// The body comes from the lake: nothing else about these keys is buffered.
	Sql("UPDATE public.docs SET title = 'x' || id WHERE id <= 10");
	EXPECT_TRUE(WaitLakeEqualsSource("public.docs"));
	EXPECT_EQ(LakeQuery("SELECT count(*) FROM public.docs_ducklake WHERE body IS NULL")[0][0], "0");

	// The body comes from the buffer: inserted and updated inside one flush window.
	Sql("BEGIN; INSERT INTO public.docs VALUES (100, 'a', repeat(md5('hundred'), 300)); COMMIT");
	Sql("UPDATE public.docs SET title = 'b' WHERE id = 100");
	Sql("UPDATE public.docs SET title = 'c' WHERE id = 100");
	EXPECT_TRUE(WaitLakeEqualsSource("public.docs"));

	// A later change of the body itself wins over the stored one.
	Sql("UPDATE public.docs SET body = repeat('z', 5000) WHERE id = 1");
	Sql("UPDATE public.docs SET title = 'after' WHERE id = 1");
	EXPECT_TRUE(WaitLakeEqualsSource("public.docs"));
	EXPECT_EQ(LakeQuery("SELECT length(body) FROM public.docs_ducklake WHERE id = 1")[0][0], "5000");
	EXPECT_EQ(daemon->Terminate(), 0);
}

TEST_F(ToastTest, ReplicaIdentityFullAndUsingIndex) {
	Sql("CREATE TABLE public.full_docs (id int PRIMARY KEY, title text, body text)");
	Sql("ALTER TABLE public.full_docs ALTER COLUMN body SET STORAGE EXTERNAL");
	Sql("ALTER TABLE public.full_docs REPLICA IDENTITY FULL");
	Sql("CREATE TABLE public.idx_docs (id int NOT NULL, code text NOT NULL, body text)");
	Sql("CREATE UNIQUE INDEX idx_docs_code ON public.idx_docs (code)");
	Sql("ALTER TABLE public.idx_docs REPLICA IDENTITY USING INDEX idx_docs_code");
	Sql("ALTER TABLE public.idx_docs ALTER COLUMN body SET STORAGE EXTERNAL");
	for (const char *t : {"full_docs", "idx_docs"}) {
		std::string table = t;
		std::string insert = table == "full_docs" ? "SELECT g, 't' || g, repeat(md5(g::text), 200)"
		                                          : "SELECT g, 'c' || g, repeat(md5(g::text), 200)";
		Sql("INSERT INTO public." + table + " " + insert + " FROM generate_series(1, 10) g");
		DuckpipeOk({"add-table", "public." + table});
	}
	auto daemon = StartDaemon();
	for (const char *t : {"public.full_docs", "public.idx_docs"}) {
		ASSERT_TRUE(WaitTableState(t, "STREAMING", 30s)) << TableState(t);
	}
	Sql("UPDATE public.full_docs SET title = 'u' || id WHERE id % 2 = 0");
	Sql("DELETE FROM public.full_docs WHERE id = 3");
	// With USING INDEX the key is the index column: moving it is a delete plus an insert.
	Sql("UPDATE public.idx_docs SET id = id + 100 WHERE id <= 5");
	Sql("UPDATE public.idx_docs SET code = code || '-moved' WHERE id = 7");
	Sql("DELETE FROM public.idx_docs WHERE code = 'c9'");
	EXPECT_TRUE(WaitLakeEqualsSource("public.full_docs"));
	// Moving code of row 7 left its TOASTed body unsent: it is taken from the lake row of the old key.
	EXPECT_TRUE(WaitLakeEqualsSource("public.idx_docs"));
	EXPECT_EQ(LakeQuery("SELECT count(*) FROM public.idx_docs_ducklake WHERE body IS NULL")[0][0], "0");
	// Moves whose old row is still in the buffer (changed in the same flush), chained moves, and a
	// new row taking a moved-away key right after, all in one transaction.
	Sql("BEGIN; UPDATE public.idx_docs SET id = id + 1 WHERE code = 'c8'; "
	    "UPDATE public.idx_docs SET code = 'c8-a' WHERE code = 'c8'; "
	    "UPDATE public.idx_docs SET code = 'c8-b' WHERE code = 'c8-a'; "
	    "INSERT INTO public.idx_docs VALUES (50, 'c8', 'fresh'); COMMIT");
	Sql("UPDATE public.idx_docs SET code = 'c10-x' WHERE code = 'c10'");
	EXPECT_TRUE(WaitLakeEqualsSource("public.idx_docs"));
	EXPECT_EQ(LakeQuery("SELECT count(*) FROM public.idx_docs_ducklake WHERE body IS NULL")[0][0], "0");
	// No fresh copy was needed (TearDown also fails the test on any table failure).
	EXPECT_EQ(CountLog("event=snapshot.done table=public.idx_docs"), 1);
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
