#include "core/common/backoff.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

using namespace duckpipe;
using namespace std::chrono_literals;

TEST(Backoff, DoublesFromBaseUpToTheCap) {
	Backoff backoff(250ms, 2000ms);
	EXPECT_EQ(backoff.Failed(), 250ms);
	EXPECT_EQ(backoff.Failed(), 500ms);
	EXPECT_EQ(backoff.Failed(), 1000ms);
	EXPECT_EQ(backoff.Failed(), 2000ms);
	EXPECT_EQ(backoff.Failed(), 2000ms);
	EXPECT_EQ(backoff.Failures(), 5);
	backoff.Succeeded();
	EXPECT_EQ(backoff.Failures(), 0);
	EXPECT_EQ(backoff.Failed(), 250ms);
}

TEST(Backoff, ManyFailuresNeverOverflow) {
	Backoff backoff(1000ms, 300000ms);
	EXPECT_EQ(backoff.Delay(0), 0ms);
	EXPECT_EQ(backoff.Delay(64), 300000ms);
	EXPECT_EQ(backoff.Delay(1000000), 300000ms);
}

TEST(Backoff, SleepEndsEarlyOnStop) {
	std::atomic<bool> stop{false};
	std::thread stopper([&] { stop.store(true); });
	auto start = std::chrono::steady_clock::now();
	EXPECT_FALSE(Backoff::SleepUnless(60s, stop));
	stopper.join();
	EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
	EXPECT_TRUE(Backoff::SleepUnless(10ms, std::atomic<bool>{false}));
}
