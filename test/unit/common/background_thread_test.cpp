#include "core/common/background_thread.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <sched.h>
#include <thread>
#include <vector>

using namespace duckpipe;
using namespace std::chrono_literals;

namespace {

// What the loop's passes saw: how many ran, and the scheduling policy of the last one.
struct Passes {
	std::atomic<int64_t> count{0};
	std::atomic<int> policy{-1};
	std::atomic<int> finished{0};
	std::atomic<bool> stop{false};

	BackgroundThread::Body Body(std::chrono::microseconds work) {
		return {.step =
		            [this, work] {
			            auto until = std::chrono::steady_clock::now() + work;
			            while (std::chrono::steady_clock::now() < until) {
			            }
			            policy.store(sched_getscheduler(0));
			            count.fetch_add(1);
			            std::this_thread::sleep_for(1ms);
			            return !stop.load();
		            },
		        .finish = [this] { finished.fetch_add(1); }};
	}
};

// Calls Supervise (as the group's control thread does) until `done` or the deadline.
bool SuperviseUntil(BackgroundThread &thread, const std::function<bool()> &done, std::chrono::seconds limit) {
	auto deadline = std::chrono::steady_clock::now() + limit;
	while (std::chrono::steady_clock::now() < deadline) {
		if (done()) {
			return true;
		}
		thread.Supervise();
		std::this_thread::sleep_for(100ms);
	}
	return done();
}

} // namespace

TEST(BackgroundThread, RunsAtBackgroundPriorityUntilTheSettingIsOff) {
	if (!BackgroundThread::Supported()) {
		GTEST_SKIP() << "no SCHED_IDLE or schedstat on this machine";
	}
	Passes passes;
	BackgroundThread thread("dp-test-bg", passes.Body(0us), {});
	thread.Start(true);
	ASSERT_TRUE(SuperviseUntil(
	    thread, [&] { return passes.policy.load() == SCHED_IDLE; }, 10s));
	EXPECT_TRUE(thread.Background());

	// An unprivileged thread cannot leave SCHED_IDLE: the loop goes on on a new thread.
	thread.SetBackground(false);
	ASSERT_TRUE(SuperviseUntil(
	    thread, [&] { return passes.policy.load() == SCHED_OTHER; }, 10s));
	EXPECT_FALSE(thread.Background());
	EXPECT_EQ(thread.Handovers(), 1);
	// Back on: the new thread lowers itself (only a starved loop stays up for kNormalFor).
	thread.SetBackground(true);
	ASSERT_TRUE(SuperviseUntil(thread, [&] { return passes.policy.load() == SCHED_IDLE; }, 10s));

	passes.stop.store(true);
	thread.Join();
	EXPECT_EQ(passes.finished.load(), 1); // once, by the thread that ran the last pass
	EXPECT_FALSE(thread.Started());
}

TEST(BackgroundThread, MovesAStarvedLoopToNormalPriority) {
	if (!BackgroundThread::Supported()) {
		GTEST_SKIP() << "no SCHED_IDLE or schedstat on this machine";
	}
	Passes passes;
	BackgroundThread thread("dp-test-starved", passes.Body(2ms), {});
	thread.Start(true);
	ASSERT_TRUE(SuperviseUntil(
	    thread, [&] { return passes.policy.load() == SCHED_IDLE; }, 10s));

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

	passes.stop.store(true);
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
	passes.stop.store(true);
	thread.Join();
	EXPECT_EQ(passes.finished.load(), 1);
	EXPECT_EQ(thread.Handovers(), 0);
}
