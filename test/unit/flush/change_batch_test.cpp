#include "core/common/error.hpp"
#include "core/flush/change_batch.hpp"

#include <gtest/gtest.h>

namespace duckpipe::flush {
namespace {

TEST(ChangeBatch, StoresRowsKindsAndText) {
	ChangeBatch b(3);
	b.BeginRow(ChangeOp::Insert, 10, Lsn(0x100));
	b.AddText("1");
	b.AddText("hello");
	b.AddNull();
	b.BeginRow(ChangeOp::Update, 11, Lsn(0x200));
	b.AddText("2");
	b.AddUnchanged();
	b.AddText("");
	b.BeginRow(ChangeOp::Delete, 12, Lsn(0x200));
	b.AddText("3");
	b.AddNull();
	b.AddNull();

	ASSERT_EQ(b.Rows(), 3u);
	EXPECT_TRUE(b.Complete());
	EXPECT_EQ(b.Op(0), ChangeOp::Insert);
	EXPECT_EQ(b.Op(1), ChangeOp::Update);
	EXPECT_EQ(b.Op(2), ChangeOp::Delete);
	EXPECT_EQ(b.Seq(1), 11u);
	EXPECT_EQ(b.CommitLsn(0), Lsn(0x100));
	EXPECT_EQ(b.CommitLsn(2), Lsn(0x200));

	EXPECT_EQ(b.Kind(0, 0), CellKind::Text);
	EXPECT_EQ(b.Text(0, 0), "1");
	EXPECT_EQ(b.Text(0, 1), "hello");
	EXPECT_EQ(b.Kind(0, 2), CellKind::Null);
	EXPECT_EQ(b.Text(0, 2), "");
	EXPECT_EQ(b.Kind(1, 1), CellKind::Unchanged);
	EXPECT_EQ(b.Text(1, 1), "");
	// An empty string is a value, not NULL.
	EXPECT_EQ(b.Kind(1, 2), CellKind::Text);
	EXPECT_EQ(b.Text(1, 2), "");
	EXPECT_EQ(b.Text(2, 0), "3");
	EXPECT_FALSE(b.OnlyInserts());
	EXPECT_TRUE(b.HasUnchanged());
}

TEST(ChangeBatch, TextWithEmbeddedNulAndMultibyte) {
	ChangeBatch b(2);
	std::string nul("a\0b", 3);
	b.BeginRow(ChangeOp::Insert, 1, Lsn(1));
	b.AddText(nul);
	b.AddText("grüße \"quoted\"\n\ttab");
	EXPECT_EQ(b.Text(0, 0), nul);
	EXPECT_EQ(b.Text(0, 1), "grüße \"quoted\"\n\ttab");
	EXPECT_TRUE(b.OnlyInserts());
	EXPECT_FALSE(b.HasUnchanged());
}

TEST(ChangeBatch, BytesAccountsForTheArenaAndCells) {
	ChangeBatch b(4);
	size_t empty = b.Bytes();
	EXPECT_GE(empty, sizeof(ChangeBatch));
	std::string big(10000, 'x');
	for (uint64_t i = 0; i < 100; i++) {
		b.BeginRow(ChangeOp::Insert, i + 1, Lsn(1));
		b.AddText(big);
		b.AddText("k");
		b.AddNull();
		b.AddUnchanged();
	}
	// 1 MB of text plus per-row and per-cell bookkeeping.
	EXPECT_GE(b.Bytes(), empty + 100 * 10001 + 100 * 4 * (1 + 4) + 100 * (1 + 8 + 8));
	EXPECT_LT(b.Bytes(), 4 * 1024 * 1024u);

	// Clear keeps the allocations (and so their cost) for reuse.
	size_t held = b.Bytes();
	b.Clear();
	EXPECT_EQ(b.Rows(), 0u);
	EXPECT_EQ(b.Bytes(), held);
	EXPECT_TRUE(b.OnlyInserts());
	EXPECT_FALSE(b.HasUnchanged());
	b.BeginRow(ChangeOp::Update, 1, Lsn(1));
	b.AddText("again");
	b.AddNull();
	b.AddNull();
	b.AddNull();
	EXPECT_EQ(b.Text(0, 0), "again");
	EXPECT_FALSE(b.OnlyInserts());
}

TEST(ChangeBatch, ReserveAvoidsGrowth) {
	ChangeBatch b(2);
	b.Reserve(1000, 1000 * 20);
	size_t reserved = b.Bytes();
	for (uint64_t i = 0; i < 1000; i++) {
		b.BeginRow(ChangeOp::Insert, i + 1, Lsn(1));
		b.AddText(std::to_string(i));
		b.AddText("0123456789");
	}
	EXPECT_EQ(b.Bytes(), reserved);
	EXPECT_EQ(b.Text(999, 0), "999");
}

TEST(ChangeBatch, RejectsMisuse) {
	EXPECT_THROW(ChangeBatch(0), Error);
	ChangeBatch b(2);
	EXPECT_THROW(b.AddNull(), Error); // before BeginRow
	b.BeginRow(ChangeOp::Insert, 5, Lsn(1));
	b.AddText("1");
	EXPECT_FALSE(b.Complete());
	EXPECT_THROW(b.BeginRow(ChangeOp::Insert, 6, Lsn(1)), Error); // row incomplete
	b.AddText("2");
	EXPECT_THROW(b.AddText("3"), Error);                          // too many cells
	EXPECT_EQ(b.Text(0, 1), "2");                                 // the rejected cell left no trace
	EXPECT_THROW(b.BeginRow(ChangeOp::Insert, 5, Lsn(1)), Error); // seq must increase
	b.BeginRow(ChangeOp::Insert, 6, Lsn(1));
	EXPECT_EQ(b.Rows(), 2u);
}

} // namespace
} // namespace duckpipe::flush
