#include "harness/daemon_process.hpp"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>

namespace duckpipe::test {

using namespace std::chrono_literals;

// A predicate that throws a real error (a lake that cannot be read) used to count as "not yet":
// the wait ran into its timeout and the test failed on the timeout, without the reason.
TEST(WaitFor, ARealErrorFailsTheWaitAtOnceWithItsMessage) {
	auto start = std::chrono::steady_clock::now();
	EXPECT_NONFATAL_FAILURE(
	    EXPECT_FALSE(WaitFor([]() -> bool { throw std::runtime_error("IO Error: cannot open file x.parquet"); }, 30s)),
	    "cannot open file x.parquet");
	EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(WaitFor, NotYetKeepsWaiting) {
	int calls = 0;
	EXPECT_TRUE(WaitFor(
	    [&] {
		    if (++calls < 3) {
			    throw NotYet("the lake table does not exist yet");
		    }
		    return true;
	    },
	    10s, 10ms));
	EXPECT_EQ(calls, 3);
}

} // namespace duckpipe::test
