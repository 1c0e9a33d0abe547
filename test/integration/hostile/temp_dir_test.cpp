// Temporary directories: private (mode 0700, never an existing path), and a full one is named with
// the fix while the table waits in place and loses nothing.
#include "harness/pipeline_fixture.hpp"

#include <filesystem>
#include <sys/stat.h>

namespace duckpipe::test {

namespace {

// Mode bits of the first entry of dir whose name starts with prefix, or -1 if there is none.
int ModeOf(const std::string &dir, const std::string &prefix) {
	std::error_code ec;
	for (const auto &e : std::filesystem::directory_iterator(dir, ec)) {
		if (e.path().filename().string().starts_with(prefix)) {
			struct stat st {};
			if (lstat(e.path().c_str(), &st) == 0) {
				return static_cast<int>(st.st_mode & 07777);
			}
		}
	}
	return -1;
}

} // namespace

class TempDirTest : public PipelineTest {};

TEST_F(TempDirTest, CopyAndBufferDirectoriesArePrivate) {
	// Big enough that the copy's directory lives long enough to be seen.
	Sql("CREATE TABLE public.big (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.big SELECT g, md5(g::text) || md5((g + 1)::text) FROM generate_series(1, 300000) g");
	DuckpipeOk({"add-table", "public.big"});
	auto old_mask = umask(022);
	auto daemon = StartDaemon({}, {}, 600000); // flush only at shutdown: the buffer's directory stays
	umask(old_mask);
	int copy_mode = -1;
	ASSERT_TRUE(WaitFor([&] { return (copy_mode = ModeOf(temp_path_, "duckpipe-copy-")) != -1; }, 60s, 1ms))
	    << LogTail();
	EXPECT_EQ(copy_mode, 0700);

	ASSERT_TRUE(WaitLakeCount("public.big_ducklake", 300000, 120s)) << LogTail();
	// More than the 256 KB a worker keeps outside DuckDB before it opens the buffer.
	Sql("INSERT INTO public.big SELECT g, repeat('b', 200) FROM generate_series(300001, 310000) g");
	int buffer_mode = -1;
	ASSERT_TRUE(WaitFor([&] { return (buffer_mode = ModeOf(temp_path_, "duckpipe-buffer-")) != -1; }, 60s))
	    << LogTail();
	EXPECT_EQ(buffer_mode, 0700);
	EXPECT_EQ(daemon->Terminate(), 0);
	EXPECT_TRUE(LakeEqualsSource("public.big"));
}

// DuckDB's "out of memory ... max_temp_directory_size ... SET threads" becomes a message naming the
// directory and the fix; the table keeps its place (no ERRORED, no re-copy) and, once there is room,
// every row arrives.
TEST_F(TempDirTest, FullTempDirIsNamedAndWaitedOut) {
	Sql("CREATE TABLE public.wide (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.wide VALUES (0, 'seed')");
	DuckpipeOk({"add-table", "public.wide"});
	auto daemon = StartDaemon({"--temp-dir-max-mb", "1"});
	ASSERT_TRUE(WaitTableState("public.wide", "STREAMING", 60s)) << LogTail();
	// One transaction far larger than the buffer's 16 MB of memory: it must spill, and 1 MB cannot hold it.
	Sql("INSERT INTO public.wide SELECT g, md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text) FROM "
	    "generate_series(1, 400000) g");
	ASSERT_TRUE(WaitFor([&] { return CountLog("event=flush.buffer_retry") >= 2; }, 120s)) << LogTail();
	auto log = daemon->Log();
	EXPECT_NE(log.find("the temporary directory '" + temp_path_ + "/duckpipe-buffer-"), std::string::npos) << LogTail();
	EXPECT_NE(log.find("is full"), std::string::npos) << LogTail();
	EXPECT_NE(log.find("--temp-dir-max-mb"), std::string::npos) << LogTail();
	EXPECT_EQ(log.find("SET threads"), std::string::npos) << LogTail();
	EXPECT_EQ(log.find("PRAGMA max_temp_directory_size"), std::string::npos) << LogTail();
	EXPECT_EQ(log.find("flush.rollback_failed"), std::string::npos) << LogTail();
	EXPECT_EQ(TableState("public.wide"), "STREAMING");
	EXPECT_EQ(daemon->Terminate(), 0) << LogTail();

	// With the limit lifted the same transaction goes through: nothing was lost or copied again.
	daemon = StartDaemon();
	EXPECT_TRUE(WaitLakeEqualsSource("public.wide", 180s)) << LogTail();
	EXPECT_EQ(CountLog("event=table.failed"), 0) << LogTail();
	EXPECT_EQ(daemon->Terminate(), 0);
}

} // namespace duckpipe::test
