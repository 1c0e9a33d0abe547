#include "harness/pipeline_fixture.hpp"

namespace duckpipe::test {

class BackpressureTest : public PipelineTest {};

// With a queue budget far below one transaction's size, the slot consumer stops reading whenever the
// budget is full and resumes as the flush worker drains it: the data still arrives whole and
// exact, and the group's slot keeps being confirmed.
TEST_F(BackpressureTest, TinyQueueBudgetStillDeliversEverything) {
	Sql("CREATE TABLE public.bp (id int PRIMARY KEY, payload text)");
	DuckpipeOk({"add-table", "public.bp"});
	auto daemon = StartDaemon({"--max-queued-bytes", "200000"});
	ASSERT_TRUE(WaitTableState("public.bp", "STREAMING", 30s)) << TableState("public.bp");
	Sql("INSERT INTO public.bp SELECT g, repeat('x', 100) || g FROM generate_series(1, 100000) g");
	Sql("UPDATE public.bp SET payload = 'u' || id WHERE id % 3 = 0");
	EXPECT_TRUE(WaitLakeEqualsSource("public.bp", 120s));
	EXPECT_NE(daemon->Log().find("event=flush.done"), std::string::npos);
	EXPECT_TRUE(WaitFor([&] { return SlotLagBytes() < 1024 * 1024; }, 30s)) << SlotLagBytes();
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
