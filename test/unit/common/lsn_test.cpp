#include "core/common/error.hpp"
#include "core/common/lsn.hpp"

#include <gtest/gtest.h>

using duckpipe::Lsn;

TEST(Lsn, ParsesAndFormatsRoundTrip) {
	EXPECT_EQ(Lsn::Parse("16/B374D848").value, (0x16ULL << 32) | 0xB374D848ULL);
	EXPECT_EQ(Lsn::Parse("0/0").value, 0u);
	EXPECT_EQ(Lsn::Parse("FFFFFFFF/FFFFFFFF").value, ~0ULL);
	EXPECT_EQ(Lsn((0x16ULL << 32) | 0xB374D848ULL).ToString(), "16/B374D848");
	EXPECT_EQ(Lsn(0).ToString(), "0/0");
	EXPECT_EQ(Lsn::Parse("1/a").ToString(), "1/A");
}

TEST(Lsn, RejectsMalformedInput) {
	for (const char *bad : {"", "16", "/1", "1/", "x/1", "1/1/1", "123456789/0", "1/ 2", "-1/0"}) {
		EXPECT_THROW(Lsn::Parse(bad), duckpipe::Error) << bad;
	}
}

TEST(Lsn, Orders) {
	EXPECT_LT(Lsn::Parse("0/FFFFFFFF"), Lsn::Parse("1/0"));
	EXPECT_FALSE(duckpipe::kInvalidLsn.IsValid());
}
