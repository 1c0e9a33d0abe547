// A key update that leaves a TOASTed column unchanged: PostgreSQL does not send the value, and the
// row under its new key takes it from the old key's row (buffer or lake). The table must end equal
// to the source without a fresh copy (TearDown fails on any table failure), while another table
// keeps streaming.
#include "harness/pipeline_fixture.hpp"

namespace duckpipe::test {

class KeyToastTest : public PipelineTest {};

TEST_F(KeyToastTest, KeyUpdateLeavingToastUnchangedEndsEqual) {
	Sql("CREATE TABLE public.kt (id int PRIMARY KEY, big text, n int)");
	// 20 kB of md5 hex per row: stored out of line.
	Sql("INSERT INTO public.kt SELECT g, (SELECT string_agg(md5(g::text || k), '') FROM generate_series(1, 600) k), "
	    "g FROM generate_series(1, 50) g");
	Sql("CREATE TABLE public.other (id int PRIMARY KEY, v text)");
	DuckpipeOk({"add-table", "public.kt"});
	DuckpipeOk({"add-table", "public.other"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("public.kt", "STREAMING"));
	ASSERT_TRUE(WaitTableState("public.other", "STREAMING"));
	ASSERT_TRUE(WaitLakeEqualsSource("public.kt"));
	// Stored out of line (a TOAST pointer that the new row version keeps: pgoutput sends 'u' for big).
	EXPECT_EQ(Scalar("SELECT pg_relation_size(reltoastrelid) > 0 FROM pg_class WHERE oid = 'public.kt'::regclass"),
	          "t");

	Sql("UPDATE public.kt SET id = id + 1000, n = -n WHERE id <= 5");
	Sql("INSERT INTO public.other VALUES (1, 'during')");
	Sql("UPDATE public.kt SET n = 0 WHERE id = 10");
	EXPECT_TRUE(WaitLakeEqualsSource("public.kt", 60s)) << TableError("public.kt");
	EXPECT_TRUE(WaitLakeEqualsSource("public.other", 30s));
	EXPECT_TRUE(WaitTableState("public.kt", "STREAMING", 30s)) << TableError("public.kt");
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
