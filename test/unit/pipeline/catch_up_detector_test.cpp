#include "core/pipeline/catch_up_detector.hpp"

#include <gtest/gtest.h>

namespace duckpipe::pipeline {

namespace {
constexpr int64_t kMb = 1 << 20;
Lsn At(int64_t mb) {
	return Lsn(static_cast<uint64_t>(0x100000000LL + mb * kMb));
}
} // namespace

TEST(CatchUpDetector, EntersAtTheThresholdAndLeavesWithinAQuarterOfIt) {
	CatchUpDetector d(64 * kMb);
	EXPECT_FALSE(d.Update(At(63), At(0)));
	EXPECT_FALSE(d.CatchingUp());
	EXPECT_EQ(d.Behind(), 63 * kMb);

	EXPECT_TRUE(d.Update(At(200), At(136)));
	EXPECT_TRUE(d.CatchingUp());
	// Draining, still more than a quarter behind: no switching back and forth near the threshold.
	EXPECT_FALSE(d.Update(At(200), At(150)));
	EXPECT_FALSE(d.Update(At(200), At(183)));
	EXPECT_TRUE(d.CatchingUp());
	EXPECT_TRUE(d.Update(At(200), At(184)));
	EXPECT_FALSE(d.CatchingUp());
	EXPECT_EQ(d.Behind(), 16 * kMb);
	// Live again: back under the threshold, a gap short of it does not count.
	EXPECT_FALSE(d.Update(At(300), At(240)));
	EXPECT_FALSE(d.CatchingUp());
}

TEST(CatchUpDetector, AStreamAheadOfTheSampledEndIsNotBehind) {
	CatchUpDetector d(kMb);
	EXPECT_FALSE(d.Update(At(5), At(7)));
	EXPECT_EQ(d.Behind(), 0);
	EXPECT_FALSE(d.CatchingUp());
}

TEST(CatchUpDetector, ANewThresholdTakesEffectAtTheNextLook) {
	CatchUpDetector d(64 * kMb);
	EXPECT_FALSE(d.Update(At(40), At(0)));
	d.SetThreshold(32 * kMb);
	EXPECT_TRUE(d.Update(At(40), At(0)));
	d.SetThreshold(256 * kMb);
	EXPECT_TRUE(d.Update(At(40), At(0))); // 40 MB is within a quarter of 256 MB
	EXPECT_FALSE(d.CatchingUp());
}

} // namespace duckpipe::pipeline
