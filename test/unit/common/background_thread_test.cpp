#include "core/common/background_thread.hpp"
#include "harness/daemon_process.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <sched.h>
#include <thread>
#include <vector>

using namespace duckpipe;
using namespace std::chrono_literals;

namespace {

// What the loop's passes saw: how many ran, and the scheduling policy of the last one. A pass
// busies the CPU for `work`, then waits up to 1 ms for the stop the way a worker waits for its
// queue (a stop ends the wait at once).
struct Passes {
	std::atomic<int64_t> count{0};
	std::atomic<int> policy{-1};
	std::atomic<int> finished{0};
	std::mutex mutex;
	std::condition_variable stopped;
	bool stop = false; // guarded by mutex

	void Stop() {
		{
			std::lock_guard guard(mutex);
			stop = true;
		}
		stopped.notify_all();
	}

	BackgroundThread::Body Body(std::chrono::microseconds work) {
		return {.step =
		            [this, work] {
			            auto until = std::chrono::steady_clock::now() + work;
			            while (std::chrono::steady_clock::now() < until) {
			            }
			            policy.store(sched_getscheduler(0));
			            count.fetch_add(1);
			            std::unique_lock lock(mutex);
			            return !stopped.wait_for(lock, 1ms, [this] { return stop; });
		            },
		        .finish = [this] { finished.fetch_add(1); }};
	}
};

// Polls `done` until it holds or the deadline passes, calling Supervise at each look as the group's
// control thread does on its wake-ups (Supervise measures over windows of its own).
bool SuperviseUntil(BackgroundThread &thread, const std::function<bool()> &done, std::chrono::seconds limit) {
	return test::WaitFor(
	    [&] {
		    thread.Supervise();
		    return done();
	    },
	    limit, 10ms);
}

// Supervises until the loop's last pass ran with `policy`.
bool SuperviseUntilPolicy(BackgroundThread &thread, const Passes &passes, int policy) {
	return SuperviseUntil(
	    thread, [&] { return passes.policy.load() == policy; }, 10s);
}

} // namespace

TEST(BackgroundThread, RunsAtBackgroundPriorityUntilTheSettingIsOff) {
	if (!BackgroundThread::Supported()) {
		GTEST_SKIP() << "no SCHED_IDLE or schedstat on this machine";
	}
	Passes passes;
	BackgroundThread thread("dp-test-bg", passes.Body(0us), {});
	thread.Start(true);
	ASSERT_TRUE(SuperviseUntilPolicy(thread, passes, SCHED_IDLE));
	EXPECT_TRUE(thread.Background());

	// An unprivileged thread cannot leave SCHED_IDLE: the loop goes on on a new thread.
	thread.SetBackground(false);
	ASSERT_TRUE(SuperviseUntilPolicy(thread, passes, SCHED_OTHER));
	EXPECT_FALSE(thread.Background());
	EXPECT_EQ(thread.Handovers(), 1);
	// Back on: the new thread lowers itself (only a starved loop stays up for kNormalFor).
	thread.SetBackground(true);
	ASSERT_TRUE(SuperviseUntilPolicy(thread, passes, SCHED_IDLE));

	passes.Stop();
	thread.Join();
	EXPECT_EQ(passes.finished.load(), 1); // once, by the thread that ran the last pass
	EXPECT_FALSE(thread.Started());
}

// A thread waiting for the loop resumes it itself: the supervisor may be the one it blocks (the
// consumer resets the workers while holding a lock the control thread waits for).
TEST(BackgroundThread, ResumeContinuesALoopBetweenTwoThreadsWithoutTheSupervisor) {
	if (!BackgroundThread::Supported()) {
		GTEST_SKIP() << "no SCHED_IDLE or schedstat on this machine";
	}
	Passes passes;
	BackgroundThread thread("dp-test-resume", passes.Body(0us), {});
	thread.Start(true);
	ASSERT_TRUE(SuperviseUntilPolicy(thread, passes, SCHED_IDLE));
	thread.SetBackground(false);
	ASSERT_TRUE(test::WaitFor(
	    [&] {
		    thread.Resume();
		    return passes.policy.load() == SCHED_OTHER;
	    },
	    10s, 10ms));
	EXPECT_EQ(thread.Handovers(), 1);
	passes.Stop();
	thread.Join();
	EXPECT_EQ(passes.finished.load(), 1);
}

TEST(BackgroundThread, MovesAStarvedLoopToNormalPriority) {
	if (!BackgroundThread::Supported()) {
		GTEST_SKIP() << "no SCHED_IDLE or schedstat on this machine";
	}
	Passes passes;
	BackgroundThread thread("dp-test-starved", passes.Body(2ms), {});
	thread.Start(true);
	ASSERT_TRUE(SuperviseUntilPolicy(thread, passes, SCHED_IDLE));

	// Normal-priority threads that keep every CPU busy leave a SCHED_IDLE thread almost nothing.
	std::atomic<bool> hogs_stop{false};
	std::vector<std::thread> hogs;
	for (unsigned i = 0; i < std::max(1u, std::thread::hardware_concurrency()); i++) {
		hogs.emplace_back([&] {
			while (!hogs_stop.load(std::memory_order_relaxed)) {
			}
		});
	}
	bool raised = SuperviseUntil(
	    thread, [&] { return thread.Handovers() > 0; }, 60s);
	// At normal priority the loop gets its share of the CPUs although they stay busy.
	int64_t before = passes.count.load();
	bool progressed = raised && SuperviseUntil(
	                                thread, [&] { return passes.count.load() >= before + 50; }, 30s);
	int policy = passes.policy.load();
	hogs_stop.store(true);
	for (auto &h : hogs) {
		h.join();
	}
	EXPECT_TRUE(raised) << "the starved loop stayed at background priority";
	EXPECT_TRUE(progressed) << passes.count.load() - before << " passes at normal priority";
	EXPECT_EQ(policy, SCHED_OTHER);
	EXPECT_FALSE(thread.Background());

	passes.Stop();
	thread.Join();
	EXPECT_EQ(passes.finished.load(), 1);
}

TEST(BackgroundThread, StaysAtNormalPriorityWhenNotAsked) {
	Passes passes;
	BackgroundThread thread("dp-test-normal", passes.Body(0us), {});
	thread.Start(false);
	ASSERT_TRUE(SuperviseUntil(
	    thread, [&] { return passes.count.load() >= 5; }, 10s));
	EXPECT_EQ(passes.policy.load(), SCHED_OTHER);
	EXPECT_FALSE(thread.Background());
	passes.Stop();
	thread.Join();
	EXPECT_EQ(passes.finished.load(), 1);
	EXPECT_EQ(thread.Handovers(), 0);
}
