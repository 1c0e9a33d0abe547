#include "core/common/log.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

using namespace duckpipe;

namespace {

struct SinkReset {
	~SinkReset() { log::SetSink(nullptr); }
};

} // namespace

// The extension's sink hands lines to PostgreSQL's main thread and waits for it; that thread may log
// itself meanwhile. A sink called under the logger's lock deadlocked there.
TEST(LogSink, MayWaitForAnotherThreadThatLogs) {
	SinkReset reset;
	std::mutex mutex;
	std::vector<std::string> lines;
	bool inner_in_time = false;
	std::thread inner;
	std::promise<void> inner_logged;
	log::SetSink([&](log::Level, const std::string &line) {
		if (line.find("event=outer") == std::string::npos) {
			std::lock_guard guard(mutex);
			lines.push_back(line);
			return;
		}
		// Another thread logs while this call waits for it (bounded, so the old code fails, not hangs).
		auto logged = inner_logged.get_future();
		inner = std::thread([&] {
			log::Info("inner", "from", "other thread");
			inner_logged.set_value();
		});
		inner_in_time = logged.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
		std::lock_guard guard(mutex);
		lines.push_back(line);
	});
	log::Info("outer");
	inner.join();
	EXPECT_TRUE(inner_in_time) << "a thread that logs while the sink waits for it was blocked";
	std::lock_guard guard(mutex);
	ASSERT_EQ(lines.size(), 2u);
	if (inner_in_time) {
		EXPECT_EQ(lines[0], "event=inner from=\"other thread\"");
		EXPECT_EQ(lines[1], "event=outer");
	}
}

TEST(LogSink, ReplacingTheSinkFromInsideASinkDoesNotDeadlock) {
	SinkReset reset;
	int first = 0;
	int second = 0;
	log::SetSink([&](log::Level, const std::string &) {
		first++;
		log::SetSink([&](log::Level, const std::string &) { second++; });
	});
	log::Info("one");
	log::Info("two");
	EXPECT_EQ(first, 1);
	EXPECT_EQ(second, 1);
}
