#include "core/pipeline/queue_budget.hpp"
#include "core/pipeline/wake_signal.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace duckpipe::pipeline {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

static int64_t MsSince(Clock::time_point t) {
	return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// Stop() interrupted the budget for good, so a consumer still running during the workers' final
// flushes returned at once from every wait and spun. An interrupt wakes the waiters of that moment
// only.
TEST(QueueBudget, InterruptWakesTheCurrentWaitOnly) {
	QueueBudget budget(1000);
	budget.Add(1000);
	std::atomic<bool> woken{false};
	std::thread interrupter([&] {
		// Until the waiter is awake (bounded): an interrupt sent before its wait began does not count.
		for (int i = 0; i < 1000000 && !woken.load(); i++) {
			budget.Interrupt();
			std::this_thread::yield();
		}
	});
	auto start = Clock::now();
	EXPECT_FALSE(budget.WaitBelowLimit(5000));
	woken.store(true);
	EXPECT_LT(MsSince(start), 2000) << "Interrupt() did not wake the waiter";
	interrupter.join();

	start = Clock::now();
	EXPECT_FALSE(budget.WaitBelowLimit(300));
	EXPECT_GE(MsSince(start), 250) << "a later wait returned at once: the consumer would spin";
}

TEST(QueueBudget, RoomForOneBatchAndPeak) {
	QueueBudget budget(800);
	EXPECT_EQ(budget.BatchBytes(), 100);
	budget.Add(699);
	EXPECT_TRUE(budget.WaitBelowLimit(0));
	budget.Add(1);
	EXPECT_TRUE(budget.Full());
	EXPECT_FALSE(budget.WaitBelowLimit(0));
	budget.Release(700);
	EXPECT_EQ(budget.Used(), 0);
	EXPECT_EQ(budget.Peak(), 700);
	// A reload lowers the limit for the waiters too.
	budget.Add(200);
	budget.SetLimit(160);
	EXPECT_FALSE(budget.WaitBelowLimit(0));
	budget.SetLimit(1 << 20);
	EXPECT_TRUE(budget.WaitBelowLimit(0));
}

TEST(WakeSignal, NotificationIsKeptUntilTheNextWait) {
	WakeSignal signal;
	signal.Notify();
	auto start = Clock::now();
	EXPECT_TRUE(signal.Wait(-1, 5000));
	EXPECT_LT(MsSince(start), 1000);
	EXPECT_FALSE(signal.Wait(-1, 50)); // consumed
	std::thread notifier([&] { signal.Notify(); });
	EXPECT_TRUE(signal.Wait(-1, 5000));
	notifier.join();
}

} // namespace duckpipe::pipeline
