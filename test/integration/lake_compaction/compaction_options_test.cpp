// The options background compaction uses (pipeline::CompactionScheduler): small files with a few
// deletes merged too, and tiered batches of files of like size.
#include "compaction_fixture.hpp"

#include "core/lake/write/lake_compactor.hpp"

#include <gtest/gtest.h>

using namespace duckpipe;
using namespace duckpipe::test;

TEST(LakeCompactionOptions, MergesSmallFilesWithFewDeletesToo) {
	CompactionLake lake("compact_with_deletes");
	auto before = lake.Contents();
	ASSERT_EQ(lake.LiveDataFiles(), 10);
	lake::CompactionOptions options;
	options.merge_small_with_deletes = true;
	// Files 0..4 (7 of 20 deleted each) would stay without the option: every file merges.
	auto result = lake::CompactTable(*lake.writer, lake.table_id, options);
	ASSERT_TRUE(result.snapshot_id);
	EXPECT_EQ(result.files_merged + result.files_rewritten, 10);
	EXPECT_EQ(result.files_written, 1);
	EXPECT_EQ(result.rows_written, static_cast<int64_t>(before.size()) - 1);
	EXPECT_EQ(lake.LiveDataFiles(), 1);
	EXPECT_EQ(lake.Contents(), before);
	EXPECT_EQ(lake.MetadataCount(), static_cast<int64_t>(before.size()) - 1);
	// Nothing left to merge.
	EXPECT_FALSE(lake::CompactTable(*lake.writer, lake.table_id, options).snapshot_id);
}

TEST(LakeCompactionOptions, TieredMergesFilesOfLikeSizeOnly) {
	CompactionLake lake("compact_tiered", 4);
	lake.Insert(5000, 15000);
	lake::CompactionOptions full;
	full.merge_small_with_deletes = true;
	ASSERT_TRUE(lake::CompactTable(*lake.writer, lake.table_id, full).snapshot_id);
	ASSERT_EQ(lake.LiveDataFiles(), 1); // one file of ~10k rows
	for (int i = 0; i < 3; i++) {
		lake.Insert(1000 + i * 10, 1000 + i * 10 + 2); // three files of 2 rows
	}
	ASSERT_EQ(lake.LiveDataFiles(), 4);
	auto before = lake.Contents();
	lake::CompactionOptions tiered;
	tiered.tiered = true;
	tiered.tier_floor_bytes = 0; // the test's files are all tiny
	// The three small files merge; the bigger one is left alone (rewriting it would gain nothing).
	auto result = lake::CompactTable(*lake.writer, lake.table_id, tiered);
	ASSERT_TRUE(result.snapshot_id);
	EXPECT_EQ(result.files_merged, 3);
	EXPECT_EQ(result.rows_written, 6);
	EXPECT_EQ(lake.LiveDataFiles(), 2);
	EXPECT_EQ(lake.Contents(), before);
	// A full compaction then merges both.
	ASSERT_TRUE(lake::CompactTable(*lake.writer, lake.table_id, full).snapshot_id);
	EXPECT_EQ(lake.LiveDataFiles(), 1);
	EXPECT_EQ(lake.Contents(), before);
}
