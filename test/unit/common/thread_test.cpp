#include "core/common/thread.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <pthread.h>
#include <stdexcept>

using namespace duckpipe;

namespace {

// SIGKILL and SIGSTOP cannot be blocked, nor the signals glibc keeps for itself below SIGRTMIN.
bool Blockable(int sig) {
	return sig != SIGKILL && sig != SIGSTOP && (sig < 32 || sig >= SIGRTMIN);
}

// True when every blockable signal is blocked in the calling thread.
bool AllSignalsBlocked() {
	sigset_t mask;
	pthread_sigmask(SIG_BLOCK, nullptr, &mask);
	for (int sig = 1; sig < NSIG; sig++) {
		if (Blockable(sig) && sigismember(&mask, sig) != 1) {
			return false;
		}
	}
	return true;
}

} // namespace

TEST(StartThread, BlocksEverySignalNamesTheThreadAndLeavesTheCallerAlone) {
	sigset_t before;
	pthread_sigmask(SIG_BLOCK, nullptr, &before);
	ASSERT_FALSE(AllSignalsBlocked()); // a test binary's main thread takes signals

	bool blocked = false;
	std::string name;
	auto t = StartThread("dp-test-thread-long-name", [&] {
		blocked = AllSignalsBlocked();
		char buf[32] = {};
		pthread_getname_np(pthread_self(), buf, sizeof(buf));
		name = buf;
	});
	t.join();
	EXPECT_TRUE(blocked);
	EXPECT_EQ(name, "dp-test-thread-"); // 15 characters: what Linux keeps

	sigset_t after;
	pthread_sigmask(SIG_BLOCK, nullptr, &after);
	for (int sig = 1; sig < NSIG; sig++) {
		EXPECT_EQ(sigismember(&before, sig), sigismember(&after, sig)) << "signal " << sig;
	}
}

TEST(StartThread, AnExceptionReachesTheCallbackInsteadOfTerminating) {
	std::string reported;
	auto t = StartThread(
	    "dp-test-throw", [] { throw std::runtime_error("disk on fire"); },
	    [&](const std::string &message) { reported = message; });
	t.join();
	EXPECT_EQ(reported, "disk on fire");

	// Not a std::exception, and no callback at all: still no std::terminate.
	reported.clear();
	auto u = StartThread(
	    "dp-test-int", [] { throw 42; }, [&](const std::string &message) { reported = message; });
	u.join();
	EXPECT_EQ(reported, "unknown exception");
	auto v = StartThread("dp-test-nocb", [] { throw std::logic_error("nobody listens"); });
	v.join();
	// A callback that throws itself is contained too.
	auto w = StartThread(
	    "dp-test-cb", [] { throw std::runtime_error("x"); },
	    [](const std::string &) { throw std::runtime_error("callback failed"); });
	w.join();
}

TEST(StartTask, ResultAndExceptionComeBackThroughGet) {
	auto ok = StartTask("dp-test-task", [] { return 41 + 1; });
	ASSERT_TRUE(ok.Valid());
	EXPECT_EQ(ok.Get(), 42);
	EXPECT_FALSE(ok.Valid());

	auto bad = StartTask("dp-test-task", []() -> int { throw std::runtime_error("conversion failed"); });
	EXPECT_THROW(
	    {
		    try {
			    bad.Get();
		    } catch (const std::runtime_error &e) {
			    EXPECT_STREQ(e.what(), "conversion failed");
			    throw;
		    }
	    },
	    std::runtime_error);

	// Reassigning waits for the previous thread; destruction waits for the last.
	// The first task can only finish once the second has started, i.e. while the assignment runs.
	std::atomic<bool> first_done{false};
	std::atomic<bool> second_started{false};
	ThreadTask<int> task = StartTask("dp-test-task", [&] {
		while (!second_started.load()) {
			std::this_thread::yield();
		}
		first_done.store(true);
		return 1;
	});
	task = StartTask("dp-test-task", [&] {
		second_started.store(true);
		return 2;
	});
	EXPECT_TRUE(first_done.load());
	EXPECT_EQ(task.Get(), 2);
}
