#include "core/common/wake_batcher.hpp"

#include <gtest/gtest.h>

namespace duckpipe {
namespace {

using us = std::chrono::microseconds;

TEST(WakeBatcher, BlocksAtOnceUntilWorkComesQuickly) {
	WakeBatcher w(us(100), us(500));
	EXPECT_EQ(w.NapBeforeWait(), us(0));
	w.Woke(true, us(2000)); // sparse work: one wake-up each is what it costs anyway
	EXPECT_EQ(w.NapBeforeWait(), us(0));
	w.Woke(false, us(10)); // a timeout or an interruption is no sign of busy work
	EXPECT_EQ(w.NapBeforeWait(), us(0));
	w.Woke(true, us(499));
	EXPECT_EQ(w.NapBeforeWait(), us(100));
}

TEST(WakeBatcher, NapsOncePerBusyWakeUp) {
	WakeBatcher w(us(100), us(500));
	w.Woke(true, us(40));
	EXPECT_EQ(w.NapBeforeWait(), us(100));
	// After the nap the caller takes what came; if nothing did, it blocks.
	EXPECT_EQ(w.NapBeforeWait(), us(0));
	w.Woke(true, us(500)); // the boundary counts as sparse
	EXPECT_EQ(w.NapBeforeWait(), us(0));
}

TEST(WakeBatcher, KeepsNappingWhileNapsFindWork) {
	WakeBatcher w(us(5000), us(5000));
	w.Woke(true, us(300));
	EXPECT_EQ(w.NapBeforeWait(), us(5000));
	w.Napped(true);
	EXPECT_EQ(w.NapBeforeWait(), us(5000));
	w.Napped(false); // the work stopped: block until the next piece
	EXPECT_EQ(w.NapBeforeWait(), us(0));
}

} // namespace
} // namespace duckpipe
