#include "harness/pipeline_fixture.hpp"

#include <thread>

namespace duckpipe::test {

// Tables without a key but with REPLICA IDENTITY FULL, synced in upsert mode: the lake table mirrors
// the source, and every UPDATE/DELETE removes exactly one lake row equal to the old row.
class KeylessTest : public PipelineTest {
protected:
	// Updates or deletes exactly one of possibly several identical rows, as a client would (by ctid).
	std::string OneRow(const std::string &table, const std::string &where) {
		return "ctid = (SELECT ctid FROM " + table + " WHERE " + where + " LIMIT 1)";
	}
};

TEST_F(KeylessTest, DuplicatesNullsAndManyChangesPerFlush) {
	Sql("CREATE TABLE public.k (a int, b text, n numeric(10,2))");
	Sql("ALTER TABLE public.k REPLICA IDENTITY FULL");
	Sql("INSERT INTO public.k VALUES (1, 'x', 1.5), (1, 'x', 1.5), (2, NULL, NULL), (NULL, NULL, NULL), "
	    "(NULL, NULL, NULL), (3, 'three', 0)");
	// Same shape in append mode, still a changelog.
	Sql("CREATE TABLE public.k_log (a int, b text)");
	Sql("ALTER TABLE public.k_log REPLICA IDENTITY FULL");
	Sql("INSERT INTO public.k_log VALUES (1, 'x'), (1, 'x')");
	auto add = Duckpipe({"add-table", "public.k"});
	ASSERT_EQ(add.exit_code, 0) << add.output;
	EXPECT_NE(add.output.find("matched by full value"), std::string::npos) << add.output;
	DuckpipeOk({"add-table", "--append", "public.k_log"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.k", "STREAMING", 30s)) << TableState("public.k") << LogTail();
	ASSERT_TRUE(WaitLakeEqualsSource("public.k"));
	// The lake table mirrors the source: no changelog columns.
	EXPECT_EQ(LakeQuery("SELECT count(*) FROM (DESCRIBE public.k_ducklake)")[0][0], "3");

	Sql("INSERT INTO public.k VALUES (1, 'x', 1.5)"); // a third copy
	Sql("UPDATE public.k SET b = 'y' WHERE " + OneRow("public.k", "a = 1"));
	Sql("DELETE FROM public.k WHERE " + OneRow("public.k", "a IS NULL"));
	Sql("UPDATE public.k SET a = NULL, n = NULL WHERE a = 3"); // sets NULLs
	Sql("UPDATE public.k SET b = 'was null' WHERE a = 2");     // old row has NULLs
	ASSERT_TRUE(WaitLakeEqualsSource("public.k")) << LogTail();
	EXPECT_EQ(LakeQuery("SELECT count(*) FROM public.k_ducklake WHERE a = 1 AND b = 'x'")[0][0], "2");

	// Many changes to the same rows inside one flush window (and one transaction), including a row
	// that is inserted, updated several times and deleted again, and identical rows diverging.
	Sql("BEGIN;"
	    "INSERT INTO public.k VALUES (7, 'v0', 7), (7, 'v0', 7), (8, 'gone', 8);"
	    "UPDATE public.k SET b = 'v1' WHERE " +
	    OneRow("public.k", "a = 7") +
	    ";"
	    "UPDATE public.k SET b = 'v2' WHERE a = 7 AND b = 'v1';"
	    "UPDATE public.k SET b = 'v0' WHERE a = 7 AND b = 'v2';" // back to the duplicate value
	    "UPDATE public.k SET n = n + 1 WHERE a = 1;"
	    "DELETE FROM public.k WHERE a = 8;"
	    "COMMIT");
	Sql("UPDATE public.k SET n = n - 1 WHERE a = 1");
	Sql("DELETE FROM public.k WHERE " + OneRow("public.k", "a = 7"));
	ASSERT_TRUE(WaitLakeEqualsSource("public.k")) << LogTail();
	EXPECT_EQ(LakeQuery("SELECT count(*) FROM public.k_ducklake WHERE a = 7")[0][0], "1");

	// TRUNCATE empties the table; identical rows after it are kept apart.
	Sql("BEGIN; TRUNCATE public.k; INSERT INTO public.k VALUES (9, 'z', 9), (9, 'z', 9); COMMIT");
	Sql("DELETE FROM public.k WHERE " + OneRow("public.k", "a = 9"));
	ASSERT_TRUE(WaitLakeEqualsSource("public.k")) << LogTail();

	// The append-mode table still records every change.
	Sql("DELETE FROM public.k_log WHERE " + OneRow("public.k_log", "a = 1"));
	ASSERT_TRUE(WaitLakeCount("public.k_log_ducklake", 3, 30s)) << LakeCount("public.k_log_ducklake");
	EXPECT_EQ(
	    LakeQuery("SELECT string_agg(duckpipe_op, '' ORDER BY duckpipe_op DESC) FROM public.k_log_ducklake")[0][0],
	    "IID");
	EXPECT_EQ(TableState("public.k"), "STREAMING") << TableError("public.k");
	EXPECT_EQ(daemon->Terminate(), 0);
}

TEST_F(KeylessTest, ToastedValuesComeFromTheFullOldRow) {
	Sql("CREATE TABLE public.docs (title text, body text)");
	Sql("ALTER TABLE public.docs ALTER COLUMN body SET STORAGE EXTERNAL"); // every body out of line
	Sql("ALTER TABLE public.docs REPLICA IDENTITY FULL");
	Sql("INSERT INTO public.docs SELECT 't' || g, repeat(md5(g::text), 200) FROM generate_series(1, 10) g");
	Sql("INSERT INTO public.docs SELECT 't1', repeat(md5('1'), 200)"); // a TOASTed duplicate
	DuckpipeOk({"add-table", "public.docs"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.docs", "STREAMING", 30s)) << TableState("public.docs") << LogTail();
	ASSERT_TRUE(WaitLakeEqualsSource("public.docs"));
	// The body is not sent with the new row: it comes from the old one.
	Sql("UPDATE public.docs SET title = 'u' || title WHERE title IN ('t2', 't3', 't4')");
	Sql("UPDATE public.docs SET title = 'one' WHERE " + OneRow("public.docs", "title = 't1'"));
	Sql("DELETE FROM public.docs WHERE title = 't5'");
	Sql("UPDATE public.docs SET body = repeat('z', 5000) WHERE title = 't6'");
	ASSERT_TRUE(WaitLakeEqualsSource("public.docs")) << LogTail();
	EXPECT_EQ(LakeQuery("SELECT count(*) FROM public.docs_ducklake WHERE body IS NULL")[0][0], "0");
	EXPECT_EQ(daemon->Terminate(), 0);
}

TEST_F(KeylessTest, RestartInTheMiddle) {
	Sql("CREATE TABLE public.r (a int, b text)");
	Sql("ALTER TABLE public.r REPLICA IDENTITY FULL");
	Sql("INSERT INTO public.r SELECT g % 50, 'b' || (g % 7) FROM generate_series(1, 500) g");
	DuckpipeOk({"add-table", "public.r"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.r", "STREAMING", 30s)) << TableState("public.r") << LogTail();
	ASSERT_TRUE(WaitLakeEqualsSource("public.r"));
	for (int i = 0; i < 20; i++) {
		Sql("UPDATE public.r SET b = b || 'u' WHERE " + OneRow("public.r", "a = " + std::to_string(i)));
		Sql("DELETE FROM public.r WHERE " + OneRow("public.r", "a = " + std::to_string(i + 20)));
		Sql("INSERT INTO public.r VALUES (" + std::to_string(i) + ", 'b1')");
	}
	daemon->Kill(); // whatever was flushed stays, the rest is replayed exactly once
	Sql("UPDATE public.r SET b = NULL WHERE a BETWEEN 40 AND 45");
	Sql("DELETE FROM public.r WHERE " + OneRow("public.r", "a = 49"));
	daemon = StartDaemon();
	ASSERT_TRUE(WaitLakeEqualsSource("public.r")) << LogTail();
	EXPECT_EQ(daemon->Terminate(), 0);
	// Stopped cleanly, changes while down, then again.
	Sql("UPDATE public.r SET a = a + 100 WHERE a < 5");
	daemon = StartDaemon();
	ASSERT_TRUE(WaitLakeEqualsSource("public.r")) << LogTail();
	EXPECT_EQ(TableState("public.r"), "STREAMING") << TableError("public.r");
	EXPECT_EQ(daemon->Terminate(), 0);
}

// Values the text digest cannot compare (NaN, jsonb, bytea, arrays with NULLs) still match their
// lake rows: every update and delete finds its row, and the counts per kind of value agree.
TEST_F(KeylessTest, AwkwardTypesMatch) {
	Sql("CREATE TABLE public.w (f float8, j jsonb, bin bytea, arr int[], ts timestamptz)");
	Sql("ALTER TABLE public.w REPLICA IDENTITY FULL");
	std::string row = "('NaN', '{\"a\": [1, null]}', '\\x0001', '{1,NULL}', '2024-01-01 00:00:00+02')";
	Sql("INSERT INTO public.w VALUES " + row + ", " + row +
	    ", (1.5, NULL, NULL, '{}', NULL), (NULL, 'null', '', NULL, NULL)");
	DuckpipeOk({"add-table", "public.w"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.w", "STREAMING", 30s)) << TableState("public.w") << LogTail();
	ASSERT_TRUE(WaitLakeCount("public.w_ducklake", 4, 30s));
	Sql("UPDATE public.w SET f = 2 WHERE " + OneRow("public.w", "f = 'NaN'"));
	Sql("UPDATE public.w SET arr = '{NULL}' WHERE arr = '{}'");
	Sql("DELETE FROM public.w WHERE j = 'null'::jsonb");
	Sql("INSERT INTO public.w VALUES " + row);
	Sql("DELETE FROM public.w WHERE " + OneRow("public.w", "f = 'NaN'"));
	Sql("UPDATE public.w SET bin = '\\x02' WHERE f = 'NaN'");
	auto counts = [&] {
		return LakeQuery("SELECT count(*), count(*) FILTER (WHERE isnan(f)), count(*) FILTER (WHERE f = 2), "
		                 "count(*) FILTER (WHERE arr = [NULL]), count(*) FILTER (WHERE bin = '\\x02'::BLOB), "
		                 "count(*) FILTER (WHERE j IS NULL) FROM public.w_ducklake")[0];
	};
	std::vector<std::string> expected{"3", "1", "1", "1", "1", "1"};
	WaitFor([&] { return counts() == expected; }, 20s, 200ms);
	EXPECT_EQ(counts(), expected) << LogTail();
	EXPECT_EQ(Scalar("SELECT count(*) FROM public.w"), "3");
	EXPECT_EQ(TableState("public.w"), "STREAMING") << TableError("public.w");
	EXPECT_EQ(daemon->Terminate(), 0);
}

// A bulk update of a tenth of a larger table is one flush: one delete pass over the lake files.
TEST_F(KeylessTest, BulkChanges) {
	Sql("CREATE TABLE public.bulk (a int, b text)");
	Sql("ALTER TABLE public.bulk REPLICA IDENTITY FULL");
	Sql("INSERT INTO public.bulk SELECT g % 5000, md5(g::text) FROM generate_series(1, 20000) g");
	DuckpipeOk({"add-table", "public.bulk"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.bulk", "STREAMING", 30s)) << TableState("public.bulk") << LogTail();
	ASSERT_TRUE(WaitLakeEqualsSource("public.bulk"));
	Sql("UPDATE public.bulk SET b = 'u' WHERE a % 10 = 0");
	Sql("DELETE FROM public.bulk WHERE a % 10 = 1");
	Sql("INSERT INTO public.bulk SELECT g % 5000, 'new' FROM generate_series(1, 2000) g");
	ASSERT_TRUE(WaitLakeEqualsSource("public.bulk")) << LogTail();
	EXPECT_EQ(TableState("public.bulk"), "STREAMING") << TableError("public.bulk");
	EXPECT_EQ(daemon->Terminate(), 0);
}

// Without FULL the source would refuse UPDATE/DELETE once published: still refused, saying why.
TEST_F(KeylessTest, WithoutReplicaIdentityFullRefused) {
	Sql("CREATE TABLE public.plain (a int, b text)");
	auto add = Duckpipe({"add-table", "public.plain"});
	EXPECT_EQ(add.exit_code, 64) << add.output;
	EXPECT_NE(add.output.find("public.plain"), std::string::npos) << add.output;
	EXPECT_NE(add.output.find("REPLICA IDENTITY FULL"), std::string::npos) << add.output;
	EXPECT_EQ(TableState("public.plain"), "<absent>");
}

} // namespace duckpipe::test
