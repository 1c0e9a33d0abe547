// A source table renamed while its initial copy waits or runs: the control thread rewrites the
// mapping's names (on its own thread) while the copy reads them, and the copy must find the table
// by OID, not by the name it was described under. (Run under `make tsan` for the data race.)
#include "harness/pipeline_fixture.hpp"

namespace duckpipe::test {

class RenameDuringCopyTest : public PipelineTest {};

TEST_F(RenameDuringCopyTest, QueuedCopyOfARenamedTableCopiesItByOid) {
	Sql("CREATE TABLE public.first (id bigint PRIMARY KEY, v text)");
	Sql("INSERT INTO public.first SELECT g, md5(g::text) FROM generate_series(1, 1000) g");
	Sql("CREATE TABLE public.queued (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.queued SELECT g, 'v' || g FROM generate_series(1, 100) g");
	auto daemon = StartDaemon({"--max-parallel-snapshots", "1"});
	ASSERT_TRUE(WaitFor([&] { return CountLog("event=pipeline.started") == 1; }, 30s)) << LogTail();
	// Lake commits wait behind this lock: the copy of public.first holds the only copy slot until
	// the lock goes, so public.queued's copy waits for its turn meanwhile.
	auto lake_lock = Connect();
	lake_lock->Exec("BEGIN");
	lake_lock->Exec("LOCK TABLE ducklake.ducklake_snapshot IN EXCLUSIVE MODE");
	DuckpipeOk({"add-table", "public.first"});
	ASSERT_TRUE(WaitTableState("public.first", "SNAPSHOT", 60s)) << TableState("public.first") << LogTail();
	DuckpipeOk({"add-table", "public.queued"});
	ASSERT_TRUE(WaitFor([&] { return CountLog("event=table.started table=public.queued") == 1; }, 30s)) << LogTail();
	Sql("ALTER TABLE public.queued RENAME TO renamed");
	// The control thread writes the new name while the copy waits.
	ASSERT_TRUE(WaitFor(
	    [&] {
		    return Scalar("SELECT source_table FROM duckpipe.table_mappings WHERE target_table = 'queued_ducklake'") ==
		           "renamed";
	    },
	    30s))
	    << LogTail();
	EXPECT_EQ(TableState("public.first"), "SNAPSHOT");
	lake_lock->Exec("COMMIT");

	Sql("INSERT INTO public.renamed VALUES (1000, 'after rename')");
	ASSERT_TRUE(WaitTableState("public.renamed", "STREAMING", 120s)) << TableState("public.renamed") << LogTail();
	EXPECT_TRUE(WaitLakeEqualsSource("public.renamed", 60s, "public.queued_ducklake"));
	EXPECT_TRUE(WaitLakeEqualsSource("public.first", 60s));
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
