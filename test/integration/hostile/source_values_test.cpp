// Values from the source stay out of the log (and out of error messages) unless --log-level debug.
#include "harness/pipeline_fixture.hpp"

namespace duckpipe::test {

class SourceValuesTest : public PipelineTest {};

TEST_F(SourceValuesTest, ConversionErrorNamesTheColumnNotTheValue) {
	allow_table_failures_ = true;
	const std::string secret = "tok_SECRET_4f9a";
	// A two-dimensional value in a column declared one-dimensional cannot become the lake's list.
	Sql("CREATE TABLE public.streamed (id int PRIMARY KEY, cells text[])");
	Sql("INSERT INTO public.streamed VALUES (1, '{a,b}')");
	Sql("CREATE TABLE public.copied (id int PRIMARY KEY, cells text[])");
	Sql("INSERT INTO public.copied VALUES (1, '{{" + secret + ",x},{y,z}}')");
	DuckpipeOk({"add-table", "public.streamed"});
	auto daemon = StartDaemon({"--log-level", "info"});
	ASSERT_TRUE(WaitTableState("public.streamed", "STREAMING", 60s)) << LogTail();
	Sql("INSERT INTO public.streamed VALUES (2, '{{" + secret + ",x},{y,z}}')");
	auto streamed = WaitTableError("public.streamed");
	ASSERT_FALSE(streamed.empty()) << LogTail();
	EXPECT_NE(streamed.find("\"cells\""), std::string::npos) << streamed;
	EXPECT_EQ(streamed.find(secret), std::string::npos) << streamed;

	DuckpipeOk({"add-table", "public.copied"});
	auto copied = WaitTableError("public.copied");
	ASSERT_FALSE(copied.empty()) << LogTail();
	EXPECT_NE(copied.find("\"cells\""), std::string::npos) << copied;
	EXPECT_EQ(copied.find(secret), std::string::npos) << copied;
	EXPECT_EQ(daemon->Terminate(), 0);
	EXPECT_EQ(daemon->Log().find(secret), std::string::npos) << LogTail();
	auto status = Duckpipe({"status", "--format", "json"});
	EXPECT_EQ(status.output.find(secret), std::string::npos) << status.output;

	// At debug level the value is there to diagnose with.
	daemon = StartDaemon({"--log-level", "debug"});
	DuckpipeOk({"resync-table", "public.copied"});
	ASSERT_TRUE(WaitFor([&] { return daemon->Log().find(secret) != std::string::npos; }, 120s)) << LogTail();
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
