// StreamedTxns keeps streamed transactions' messages until their commit: in memory, then spilled;
// an abort drops the transaction, a subtransaction abort skips that subtransaction's changes only.
#include "core/pipeline/streamed_txns.hpp"
#include "unit/cdc/pgoutput_builder.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace duckpipe::test {

using pipeline::StreamedTxns;

namespace {

std::string Row(uint32_t xid, int id) {
	return InsertMsg(16384, {{'t', std::to_string(id)}}, xid);
}

std::vector<std::string> ReplayAll(StreamedTxns &txns, uint32_t xid) {
	std::vector<std::string> out;
	txns.Replay(xid, [&](std::string_view m) {
		out.emplace_back(m);
		return true;
	});
	return out;
}

size_t FilesIn(const std::filesystem::path &dir) {
	size_t n = 0;
	for ([[maybe_unused]] const auto &e : std::filesystem::directory_iterator(dir)) {
		n++;
	}
	return n;
}

class StreamedTxnsTest : public ::testing::Test {
protected:
	void SetUp() override {
		dir_ = std::filesystem::temp_directory_path() /
		       ("streamed_txns_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
		        ::testing::UnitTest::GetInstance()->current_test_info()->name());
		std::filesystem::remove_all(dir_);
		std::filesystem::create_directories(dir_);
	}
	void TearDown() override { std::filesystem::remove_all(dir_); }
	std::filesystem::path dir_;
};

} // namespace

TEST_F(StreamedTxnsTest, InterleavedTransactionsReplayInTheirOwnOrder) {
	StreamedTxns txns(dir_.string(), 1 << 20);
	txns.Begin(10);
	txns.Begin(20);
	std::vector<std::string> want10;
	std::vector<std::string> want20;
	for (int i = 0; i < 5; i++) {
		want10.push_back(Row(10, i));
		txns.Add(10, want10.back());
		want20.push_back(Row(20, 100 + i));
		txns.Add(20, want20.back());
	}
	EXPECT_EQ(txns.Open(), 2u);
	EXPECT_EQ(ReplayAll(txns, 20), want20);
	EXPECT_EQ(ReplayAll(txns, 10), want10);
	EXPECT_EQ(txns.Open(), 0u);
	EXPECT_EQ(txns.MemoryBytes(), 0);
	EXPECT_EQ(txns.SpilledBytes(), 0);
}

TEST_F(StreamedTxnsTest, SpillsPastTheMemoryLimitAndReplaysEverythingInOrder) {
	StreamedTxns txns(dir_.string(), 4096);
	txns.Begin(7);
	std::vector<std::string> want;
	for (int i = 0; i < 2000; i++) {
		want.push_back(Row(7, i));
		txns.Add(7, want.back());
		// Spilled before a message would pass the limit, and the buffer never grows past it either
		// (grown by doubling it reached twice the limit).
		ASSERT_LE(txns.MemoryBytes(), 4096);
		ASSERT_LE(txns.HeldBytes(), 4096);
	}
	EXPECT_GT(txns.SpilledBytes(), 0);
	EXPECT_EQ(txns.SpilledTxns(), 1);
	EXPECT_EQ(FilesIn(dir_), 0u) << "the spill file is unlinked at creation";
	EXPECT_EQ(ReplayAll(txns, 7), want);
	EXPECT_EQ(txns.Open(), 0u);
}

TEST_F(StreamedTxnsTest, InterleavedTransactionsHoldNoMoreThanTheLimitTogether) {
	StreamedTxns txns(dir_.string(), 4096);
	std::map<cdc::Xid, std::vector<std::string>> want;
	for (cdc::Xid xid : {7u, 8u, 9u}) {
		txns.Begin(xid);
	}
	for (int i = 0; i < 1000; i++) {
		for (cdc::Xid xid : {7u, 8u, 9u}) {
			want[xid].push_back(Row(xid, i));
			txns.Add(xid, want[xid].back());
			ASSERT_LE(txns.HeldBytes(), 4096) << "after row " << i << " of " << xid;
		}
	}
	for (cdc::Xid xid : {8u, 7u, 9u}) {
		EXPECT_EQ(ReplayAll(txns, xid), want[xid]);
	}
}

TEST_F(StreamedTxnsTest, AMessageLargerThanTheLimitGoesToDiskAtOnce) {
	StreamedTxns txns(dir_.string(), 4096);
	txns.Begin(9);
	std::vector<std::string> want = {Row(9, 1), InsertMsg(16384, {{'t', std::string(10000, 'x')}}, 9), Row(9, 3)};
	txns.Add(9, want[0]);
	txns.Add(9, want[1]);
	EXPECT_EQ(txns.MemoryBytes(), 0);
	EXPECT_GT(txns.SpilledBytes(), 10000);
	txns.Add(9, want[2]);
	EXPECT_EQ(ReplayAll(txns, 9), want);
}

TEST_F(StreamedTxnsTest, AbortedSubtransactionsAreSkippedTheirRelationMessagesKept) {
	StreamedTxns txns(dir_.string(), 256); // spilled too
	txns.Begin(50);
	std::vector<std::string> want;
	auto add = [&](const std::string &m, bool kept) {
		txns.Add(50, m);
		if (kept) {
			want.push_back(m);
		}
	};
	add(Row(50, 1), true);
	add(RelationMsg(16384, "public", "t", 'd', {{"id", 20, -1, true}}, 51), true);
	add(Row(51, 2), false);
	add(Row(52, 3), false);
	add(Row(53, 4), true);
	add(Row(50, 5), true);
	txns.Abort(50, 51);
	txns.Abort(50, 52);
	EXPECT_EQ(ReplayAll(txns, 50), want);
}

TEST_F(StreamedTxnsTest, AbortedTransactionIsDroppedAndAFirstSegmentStartsOver) {
	StreamedTxns txns(dir_.string(), 256);
	txns.Begin(5);
	for (int i = 0; i < 100; i++) {
		txns.Add(5, Row(5, i));
	}
	txns.Abort(5, 5);
	EXPECT_EQ(txns.Open(), 0u);
	EXPECT_EQ(txns.MemoryBytes(), 0);
	EXPECT_TRUE(ReplayAll(txns, 5).empty());

	txns.Begin(6);
	txns.Add(6, Row(6, 1));
	txns.Begin(6);
	txns.Add(6, Row(6, 2));
	EXPECT_EQ(ReplayAll(txns, 6), std::vector<std::string>{Row(6, 2)});
}

TEST_F(StreamedTxnsTest, ReplayStopsWhenAskedAndForgetsTheTransaction) {
	StreamedTxns txns(dir_.string(), 1 << 20);
	txns.Begin(9);
	for (int i = 0; i < 10; i++) {
		txns.Add(9, Row(9, i));
	}
	int seen = 0;
	txns.Replay(9, [&](std::string_view) { return ++seen < 3; });
	EXPECT_EQ(seen, 3);
	EXPECT_EQ(txns.Open(), 0u);
	EXPECT_EQ(txns.MemoryBytes(), 0);
}

} // namespace duckpipe::test
