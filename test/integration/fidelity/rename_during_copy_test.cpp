// A source table renamed while its initial copy waits or runs: the control thread rewrites the
// mapping's names (on its own thread) while the copy reads them, and the copy must find the table
// by OID, not by the name it was described under. (Run under `make tsan` for the data race.)
#include "harness/pipeline_fixture.hpp"

namespace duckpipe::test {

class RenameDuringCopyTest : public PipelineTest {};

TEST_F(RenameDuringCopyTest, ATableRenamedWhileItsCopyRunsIsCopiedByOid) {
	Sql("CREATE TABLE public.moving (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.moving SELECT g, 'v' || g FROM generate_series(1, 100) g");
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitFor([&] { return CountLog("event=pipeline.started") == 1; }, 30s)) << LogTail();
	// Lake commits wait behind this lock: the copy has its snapshot (state SNAPSHOT) and waits to
	// create the lake schema while the table is renamed.
	auto lake_lock = Connect();
	lake_lock->Exec("BEGIN");
	lake_lock->Exec("LOCK TABLE ducklake.ducklake_snapshot IN EXCLUSIVE MODE");
	DuckpipeOk({"add-table", "public.moving"});
	ASSERT_TRUE(WaitTableState("public.moving", "SNAPSHOT", 60s)) << TableState("public.moving") << LogTail();
	Sql("ALTER TABLE public.moving RENAME TO moved");
	// The control thread writes the new name while the copy runs.
	ASSERT_TRUE(WaitFor([&] { return TableState("public.moved") == "SNAPSHOT"; }, 30s)) << LogTail();
	lake_lock->Exec("COMMIT");

	Sql("INSERT INTO public.moved VALUES (1000, 'after rename')");
	ASSERT_TRUE(WaitTableState("public.moved", "STREAMING", 120s)) << TableState("public.moved") << LogTail();
	EXPECT_TRUE(WaitLakeEqualsSource("public.moved", 60s, "public.moving_ducklake"));
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
