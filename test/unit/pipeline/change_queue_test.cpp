#include "core/pipeline/change_queue.hpp"

#include <gtest/gtest.h>

namespace duckpipe::pipeline {

namespace {

QueueItem Item(QueueItem::Kind kind, int64_t bytes) {
	QueueItem item;
	item.kind = kind;
	item.bytes = bytes;
	return item;
}

} // namespace

// A final flush takes whole transactions only: the part of one still arriving stays queued, and what
// is taken leaves the budget.
TEST(ChangeQueue, PopWholeTransactionsStopsAtTheLastCommit) {
	QueueBudget budget(1 << 20);
	ChangeQueue queue(budget);
	using K = QueueItem::Kind;
	for (auto kind : {K::Schema, K::Rows, K::Commit, K::Rows, K::Truncate, K::Commit, K::Rows, K::Rows}) {
		queue.Push(Item(kind, 100));
	}
	ASSERT_EQ(budget.Used(), 800);

	auto taken = queue.PopWholeTransactions();
	std::vector<K> kinds;
	kinds.reserve(taken.size());
	for (const auto &item : taken) {
		kinds.push_back(item.kind);
	}
	EXPECT_EQ(kinds, (std::vector<K>{K::Schema, K::Rows, K::Commit, K::Rows, K::Truncate, K::Commit}));
	EXPECT_EQ(queue.Items(), 2U);
	EXPECT_EQ(queue.Bytes(), 200);
	EXPECT_EQ(budget.Used(), 200);

	// No commit queued: nothing is taken.
	EXPECT_TRUE(queue.PopWholeTransactions().empty());
	EXPECT_EQ(queue.Items(), 2U);
	EXPECT_EQ(budget.Used(), 200);
}

} // namespace duckpipe::pipeline
