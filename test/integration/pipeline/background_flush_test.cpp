// The background_flush setting: a table's flush thread runs at background CPU priority (SCHED_IDLE)
// where the setting resolves to 1, at normal priority where it resolves to 0, and only while its
// group catches up a backlog where it resolves to 2 (the default). A change at run time moves the
// worker to a thread of the new priority without losing or repeating a change.
#include "core/common/background_thread.hpp"
#include "harness/pipeline_fixture.hpp"

#include <dirent.h>
#include <fstream>
#include <map>
#include <sched.h>

namespace duckpipe::test {

class BackgroundFlushTest : public PipelineTest {
protected:
	// The scheduling policy of the daemon's flush thread of a table (-1: no such thread).
	int FlushThreadPolicy(pid_t daemon, const std::string &table) {
		std::string name =
		    "dp-flush-" + Scalar("SELECT id FROM duckpipe.table_mappings WHERE source_table = '" + table + "'");
		std::string dir = "/proc/" + std::to_string(daemon) + "/task";
		DIR *tasks = opendir(dir.c_str());
		if (!tasks) {
			return -1;
		}
		int policy = -1;
		while (auto *entry = readdir(tasks)) {
			std::ifstream comm(dir + "/" + entry->d_name + "/comm");
			std::string thread_name;
			if (std::getline(comm, thread_name) && thread_name == name) {
				policy = sched_getscheduler(static_cast<pid_t>(std::stoi(entry->d_name)));
			}
		}
		closedir(tasks);
		return policy;
	}

	bool WaitPolicy(pid_t daemon, const std::string &table, int policy) {
		return WaitFor([&] { return FlushThreadPolicy(daemon, table) == policy; }, 30s);
	}
};

TEST_F(BackgroundFlushTest, FlushThreadsRunAtThePriorityTheSettingSays) {
	if (!BackgroundThread::Supported()) {
		GTEST_SKIP() << "no SCHED_IDLE or schedstat on this machine";
	}
	Sql("CREATE TABLE public.bg (id bigint PRIMARY KEY, v text)");
	Sql("CREATE TABLE public.fg (id bigint PRIMARY KEY, v text)");
	DuckpipeOk({"add-table", "public.bg"});
	DuckpipeOk({"add-table", "public.fg"});
	DuckpipeOk({"set-config", "background_flush", "1"});
	DuckpipeOk({"set-config", "background_flush", "0", "--table", "public.fg"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("bg", "STREAMING")) << LogTail();
	ASSERT_TRUE(WaitTableState("fg", "STREAMING")) << LogTail();

	Sql("INSERT INTO public.bg SELECT g, 'b' || g FROM generate_series(1, 500) g");
	Sql("INSERT INTO public.fg SELECT g, 'f' || g FROM generate_series(1, 500) g");
	ASSERT_TRUE(WaitLakeEqualsSource("bg")) << LogTail();
	ASSERT_TRUE(WaitLakeEqualsSource("fg")) << LogTail();
	ASSERT_TRUE(WaitPolicy(daemon->Pid(), "bg", SCHED_IDLE)) << FlushThreadPolicy(daemon->Pid(), "bg");
	EXPECT_EQ(FlushThreadPolicy(daemon->Pid(), "fg"), SCHED_OTHER);

	// Turned off at run time: an unprivileged thread cannot leave SCHED_IDLE, so the worker goes on
	// on a new thread, with what it had buffered.
	Sql("INSERT INTO public.bg SELECT g, 'b' || g FROM generate_series(501, 1000) g");
	DuckpipeOk({"set-config", "background_flush", "0", "--table", "public.bg"});
	ASSERT_TRUE(WaitPolicy(daemon->Pid(), "bg", SCHED_OTHER)) << LogTail();
	EXPECT_TRUE(WaitFor([&] { return CountLog("event=thread.priority_raised") >= 1; }, 30s)) << LogTail();
	Sql("UPDATE public.bg SET v = v || '.' WHERE id % 3 = 0");
	Sql("DELETE FROM public.bg WHERE id % 7 = 0");
	Sql("INSERT INTO public.bg SELECT g, 'b' || g FROM generate_series(1001, 1500) g");
	ASSERT_TRUE(WaitLakeEqualsSource("bg")) << LogTail();
	EXPECT_EQ(LakeCount("public.bg_ducklake"), std::stoll(Scalar("SELECT count(*) FROM public.bg")));

	// And back on: the new thread lowers its own priority.
	DuckpipeOk({"set-config", "background_flush", "1", "--table", "public.fg"});
	ASSERT_TRUE(WaitPolicy(daemon->Pid(), "fg", SCHED_IDLE)) << LogTail();
	Sql("INSERT INTO public.fg SELECT g, 'f' || g FROM generate_series(501, 900) g");
	ASSERT_TRUE(WaitLakeEqualsSource("fg")) << LogTail();
}

// By default the flush thread steps back only while the group's stream trails the server's WAL by
// background_flush_backlog_mb: a backlog left while the daemon was away is drained with the thread
// in the background, and once the stream is live again it is back at normal priority.
TEST_F(BackgroundFlushTest, ByDefaultFlushThreadsStepBackWhileTheGroupCatchesUp) {
	if (!BackgroundThread::Supported()) {
		GTEST_SKIP() << "no SCHED_IDLE or schedstat on this machine";
	}
	Sql("CREATE TABLE public.cu (id bigint PRIMARY KEY, v text)");
	DuckpipeOk({"add-table", "public.cu"});
	DuckpipeOk({"set-config", "background_flush_backlog_mb", "8"});
	auto daemon = StartDaemon();
	ASSERT_TRUE(WaitTableState("cu", "STREAMING")) << LogTail();
	Sql("INSERT INTO public.cu SELECT g, 'live' || g FROM generate_series(1, 1000) g");
	ASSERT_TRUE(WaitLakeEqualsSource("cu")) << LogTail();
	EXPECT_EQ(FlushThreadPolicy(daemon->Pid(), "cu"), SCHED_OTHER);
	EXPECT_EQ(CountLog("event=group.catching_up"), 0) << LogTail();
	EXPECT_EQ(daemon->Terminate(), 0);

	// About 40 MB of WAL while the daemon is away, five times the threshold.
	Sql("INSERT INTO public.cu SELECT g, repeat('b', 150) || g FROM generate_series(1001, 200000) g");
	Sql("UPDATE public.cu SET v = 'u' || id WHERE id % 5 = 0");
	Sql("DELETE FROM public.cu WHERE id % 11 = 0");
	auto again = StartDaemon();
	ASSERT_TRUE(WaitFor([&] { return CountLog("event=group.catching_up") >= 1; }, 60s)) << LogTail();
	ASSERT_TRUE(WaitLakeEqualsSource("cu")) << LogTail();
	EXPECT_EQ(LakeCount("public.cu_ducklake"), std::stoll(Scalar("SELECT count(*) FROM public.cu")));
	// Caught up: the worker left its background thread for a normal one (a thread leaves SCHED_IDLE
	// only that way), so it was in the background while the group caught up.
	ASSERT_TRUE(WaitFor([&] { return CountLog("event=group.caught_up") >= 1; }, 60s)) << LogTail();
	ASSERT_TRUE(WaitPolicy(again->Pid(), "cu", SCHED_OTHER)) << LogTail();
	EXPECT_GE(CountLog("event=thread.priority_raised thread=dp-flush"), 1) << LogTail();

	// Live again: changes flow at normal priority.
	Sql("UPDATE public.cu SET v = v || '.' WHERE id % 97 = 0");
	Sql("INSERT INTO public.cu SELECT g, 'late' || g FROM generate_series(200001, 201000) g");
	ASSERT_TRUE(WaitLakeEqualsSource("cu")) << LogTail();
	EXPECT_EQ(FlushThreadPolicy(again->Pid(), "cu"), SCHED_OTHER);
	EXPECT_EQ(CountLog("event=group.catching_up"), 1) << LogTail();
}

} // namespace duckpipe::test
