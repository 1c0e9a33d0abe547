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

TEST(WakeBatcher, NapGrowsWhileNapsGatherLittleAndShrinksAtOnceWhenTheyGatherMuch) {
	WakeBatcher w(WakeBatcher::NapRange{.shortest = us(100), .longest = us(2000), .few = 24, .many = 96}, us(500));
	w.Woke(true, us(40));
	EXPECT_EQ(w.NapBeforeWait(), us(100));
	w.Gathered(3); // a trickle of one-row transactions: a longer nap gathers more of them
	w.Woke(true, us(40));
	EXPECT_EQ(w.NapBeforeWait(), us(200));
	for (int i = 0; i < 10; i++) {
		w.Gathered(3);
	}
	EXPECT_EQ(w.Nap(), us(2000)); // no further than the longest
	w.Gathered(50);               // between few and many: kept
	EXPECT_EQ(w.Nap(), us(2000));
	w.Gathered(97); // a backlog streams: back to the shortest in one step, before the socket fills
	EXPECT_EQ(w.Nap(), us(100));
	w.Woke(true, us(40));
	EXPECT_EQ(w.NapBeforeWait(), us(100));
}

TEST(WakeBatcher, FixedNapIgnoresWhatItGathers) {
	WakeBatcher w(us(5000), us(5000));
	w.Gathered(0);
	w.Gathered(1000000);
	EXPECT_EQ(w.Nap(), us(5000));
}

} // namespace
} // namespace duckpipe
