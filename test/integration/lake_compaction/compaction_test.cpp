#include "compaction_fixture.hpp"

#include "core/common/error.hpp"
#include "core/lake/catalog_loader.hpp"
#include "core/lake/lake_maintenance.hpp"
#include "core/lake/write/lake_compactor.hpp"
#include "harness/golden_lake.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace fs = std::filesystem;
using namespace duckpipe;
using namespace duckpipe::test;

namespace {

std::set<std::string> Difference(const std::set<std::string> &a, const std::set<std::string> &b) {
	std::set<std::string> out;
	for (const auto &x : a) {
		if (!b.count(x)) {
			out.insert(x);
		}
	}
	return out;
}

} // namespace

TEST(LakeCompaction, MergesSmallFilesRewritesDeletesAndKeepsContents) {
	CompactionLake lake("compact_basic");
	auto before = lake.Contents();
	ASSERT_EQ(before.size(), 1u + 200 - 34 - 16); // header + live rows
	auto pre_snapshot = lake.Head();
	auto pre_files = FilesUnder(lake.config.data_path);
	ASSERT_EQ(lake.LiveDataFiles(), 10);

	// Files 5..8 (no deletes) and 9 (16 of 20 rows deleted) merge; 0..4 (7 of 20 deleted) stay.
	auto result = lake::CompactTable(*lake.writer, lake.table_id);
	ASSERT_TRUE(result.snapshot_id);
	EXPECT_EQ(*result.snapshot_id, pre_snapshot + 1);
	EXPECT_EQ(result.files_merged, 4);
	EXPECT_EQ(result.files_rewritten, 1);
	EXPECT_EQ(result.files_written, 1);
	EXPECT_EQ(result.rows_written, 4 * 20 + 4);
	EXPECT_EQ(lake.LiveDataFiles(), 6);
	EXPECT_EQ(lake.Contents(), before);
	EXPECT_EQ(lake.MetadataCount(), static_cast<int64_t>(before.size()) - 1);
	EXPECT_EQ(lake.Psql("SELECT changes_made FROM ducklake.ducklake_snapshot_changes WHERE snapshot_id = " +
	                    std::to_string(*result.snapshot_id)),
	          "rewrite_delete:" + std::to_string(lake.table_id) + "\n");
	// Compaction is not a schema change; it advances next_file_id.
	EXPECT_EQ(lake.Psql("SELECT count(DISTINCT schema_version) FROM ducklake.ducklake_snapshot WHERE snapshot_id >= " +
	                    std::to_string(pre_snapshot)),
	          "1\n");
	// The new file's row ids come after every id handed out before.
	EXPECT_EQ(lake.Psql("SELECT next_row_id FROM ducklake.ducklake_table_stats"), "284\n");
	// File stats of the new file are true bounds of its rows.
	EXPECT_EQ(lake.Psql("SELECT s.min_value || '..' || s.max_value || ' nulls ' || s.null_count FROM "
	                    "ducklake.ducklake_file_column_stats s JOIN ducklake.ducklake_data_file d USING "
	                    "(data_file_id) WHERE d.begin_snapshot = " +
	                    std::to_string(*result.snapshot_id) + " AND s.column_id = 1"),
	          "100..199 nulls 0\n");

	// Time travel to before the compaction reads the old files.
	EXPECT_EQ(lake.Contents(lake::SnapshotSelector::Id(pre_snapshot)), before);

	// A second pass with a low threshold folds everything, the compacted file included, into one.
	lake::CompactionOptions all;
	all.delete_ratio_threshold = 0.1;
	auto second = lake::CompactTable(*lake.writer, lake.table_id, all);
	ASSERT_TRUE(second.snapshot_id);
	EXPECT_EQ(second.files_rewritten, 5);
	EXPECT_EQ(second.files_merged, 1);
	EXPECT_EQ(lake.LiveDataFiles(), 1);
	EXPECT_EQ(lake.Contents(), before);
	EXPECT_EQ(lake.MetadataCount(), static_cast<int64_t>(before.size()) - 1);
	EXPECT_EQ(lake.Psql("SELECT count(*) FROM ducklake.ducklake_delete_file WHERE end_snapshot IS NULL"), "0\n");
	// Nothing left to do: no snapshot.
	EXPECT_FALSE(lake::CompactTable(*lake.writer, lake.table_id, all).snapshot_id);
	EXPECT_EQ(lake.Contents(lake::SnapshotSelector::Id(pre_snapshot)), before);
	EXPECT_EQ(lake.Contents(lake::SnapshotSelector::Id(*result.snapshot_id)), before);

	// Expiry schedules the superseded files, cleanup deletes them; the contents stay.
	auto all_files = FilesUnder(lake.config.data_path);
	lake::LakeMaintenance maintenance(lake.config);
	auto expired = maintenance.ExpireSnapshots("0 seconds");
	EXPECT_GT(expired.snapshots_expired, 10);
	// 10 original data files, their 6 delete files and the first compaction's file.
	EXPECT_EQ(expired.files_scheduled, 17);
	auto cleaned = maintenance.CleanupOldFiles();
	EXPECT_EQ(cleaned.files_missing, 0);
	EXPECT_EQ(cleaned.files_deleted, expired.files_scheduled);
	auto remaining = FilesUnder(lake.config.data_path);
	EXPECT_EQ(remaining.size(), 1u);
	for (const auto &f : pre_files) {
		EXPECT_FALSE(fs::exists(f)) << f;
	}
	EXPECT_EQ(Difference(all_files, remaining).size(), static_cast<size_t>(cleaned.files_deleted));
	EXPECT_EQ(lake.Contents(), before);
	EXPECT_EQ(lake.Psql("SELECT count(*) FROM ducklake.ducklake_data_file"), "1\n");
	EXPECT_EQ(lake.Psql("SELECT count(*) FROM ducklake.ducklake_files_scheduled_for_deletion"), "0\n");
}

TEST(LakeCompaction, GoldenOrdersKeepTheirContents) {
	GoldenLake golden(PgCluster::Shared());
	lake::LakeConfig config;
	config.catalog_conninfo = golden.Conninfo();
	config.data_path = golden.DataPath();
	auto expected = ParseCsv(GoldenLake::Expected("orders.csv"));
	auto orders = [&](const lake::SnapshotSelector &sel) {
		AttachedLake lake(golden.Conninfo(), sel);
		return QueryAsText(*lake.duck, "SELECT * FROM public.orders ORDER BY id");
	};
	ASSERT_EQ(orders(lake::SnapshotSelector::Latest()), expected);
	int64_t orders_id = 0, pre_snapshot = 0;
	{
		PgConnection conn(golden.Conninfo());
		auto state = lake::LoadCatalog(conn, "ducklake");
		orders_id = state.FindTable("public", "orders")->table_id;
		pre_snapshot = state.snapshot.snapshot_id;
	}
	lake::LakeWriter writer(config);
	lake::CompactionOptions options;
	options.delete_ratio_threshold = 0.0; // rewrite every file with deletes
	auto result = lake::CompactTable(writer, orders_id, options);
	ASSERT_TRUE(result.snapshot_id);
	EXPECT_GT(result.files_merged + result.files_rewritten, 0);
	EXPECT_EQ(orders(lake::SnapshotSelector::Latest()), expected);
	EXPECT_EQ(orders(lake::SnapshotSelector::Id(pre_snapshot)), expected);
	for (int n = 5; n <= 13; n++) { // time travel across the history is untouched
		EXPECT_EQ(orders(lake::SnapshotSelector::Id(n)),
		          ParseCsv(GoldenLake::Expected("orders_at_snapshot_" + std::to_string(n) + ".csv")))
		    << "snapshot " << n;
	}
	auto count = PgCluster::Shared().Psql(
	    golden.Database(),
	    "SELECT (SELECT sum(record_count) FROM ducklake.ducklake_data_file WHERE end_snapshot IS NULL AND table_id = " +
	        std::to_string(orders_id) +
	        ") - (SELECT coalesce(sum(delete_count), 0) FROM ducklake.ducklake_delete_file WHERE end_snapshot IS "
	        "NULL AND table_id = " +
	        std::to_string(orders_id) + ")");
	EXPECT_EQ(count, std::to_string(expected.size() - 1) + "\n");
	lake::LakeMaintenance maintenance(config);
	maintenance.ExpireSnapshots("0 seconds");
	maintenance.CleanupOldFiles();
	EXPECT_EQ(orders(lake::SnapshotSelector::Latest()), expected);
}

TEST(LakeCompaction, DeleteStartedBeforeCompactionConflicts) {
	CompactionLake lake("compact_conflict_a", 6);
	auto before = lake.Contents();
	// A delete on file 3 (no deletes yet, so it is a merge candidate) is staged, not committed.
	auto del = lake.writer->Begin();
	EXPECT_EQ(del.DeleteByKey(lake.table_id, *lake.staging, {"id"}, "SELECT 70 AS id"), 1);
	auto result = lake::CompactTable(*lake.writer, lake.table_id);
	ASSERT_TRUE(result.snapshot_id);
	EXPECT_THROW(
	    {
		    try {
			    del.Commit();
		    } catch (const Error &e) {
			    EXPECT_EQ(e.Kind(), ErrorKind::Conflict);
			    throw;
		    }
	    },
	    Error);
	EXPECT_EQ(lake.Contents(), before); // the compaction won, nothing lost
	// Redone from the new snapshot, the delete applies to the compacted file.
	lake.Delete("SELECT 70 AS id");
	auto after = lake.Contents();
	EXPECT_EQ(after.size(), before.size() - 1);
	EXPECT_EQ(lake.MetadataCount(), static_cast<int64_t>(after.size()) - 1);
}

TEST(LakeCompaction, DeleteCommittedDuringCompactionConflicts) {
	CompactionLake lake("compact_conflict_b", 6);
	auto files_before = FilesUnder(lake.config.data_path);
	lake::TableCompaction compaction(*lake.writer, lake.table_id);
	ASSERT_TRUE(compaction.Prepare());
	auto written = Difference(FilesUnder(lake.config.data_path), files_before);
	ASSERT_EQ(written.size(), 1u);
	lake.Delete("SELECT 70 AS id"); // commits first
	auto after_delete = lake.Contents();
	auto head = lake.Head();
	EXPECT_THROW(
	    {
		    try {
			    compaction.Commit();
		    } catch (const Error &e) {
			    EXPECT_EQ(e.Kind(), ErrorKind::Conflict);
			    throw;
		    }
	    },
	    Error);
	EXPECT_EQ(lake.Head(), head);
	EXPECT_FALSE(fs::exists(*written.begin())); // the compaction's file is removed
	EXPECT_EQ(lake.Contents(), after_delete);
	EXPECT_EQ(after_delete.size(), 1u + 120 - 20 - 16 - 1);
	EXPECT_EQ(lake.MetadataCount(), static_cast<int64_t>(after_delete.size()) - 1);
	// Compacting again from the new head works.
	EXPECT_TRUE(lake::CompactTable(*lake.writer, lake.table_id).snapshot_id);
	EXPECT_EQ(lake.Contents(), after_delete);
}

TEST(LakeCompaction, InsertCommittedDuringCompactionDoesNotConflict) {
	CompactionLake lake("compact_insert", 6);
	lake::TableCompaction compaction(*lake.writer, lake.table_id);
	ASSERT_TRUE(compaction.Prepare());
	lake.Insert(1000, 1010); // commits first, on top of the compaction's base
	auto expected = lake.Contents();
	auto result = compaction.Commit();
	ASSERT_TRUE(result.snapshot_id);
	EXPECT_EQ(lake.Contents(), expected);
	EXPECT_EQ(lake.MetadataCount(), static_cast<int64_t>(expected.size()) - 1);
	// Row ids stay unique: the compacted file's range starts after the insert's.
	EXPECT_EQ(lake.Psql("SELECT count(*) FROM ducklake.ducklake_data_file a JOIN ducklake.ducklake_data_file b ON "
	                    "a.data_file_id < b.data_file_id AND a.end_snapshot IS NULL AND b.end_snapshot IS NULL AND "
	                    "a.row_id_start < b.row_id_start + b.record_count AND b.row_id_start < a.row_id_start + "
	                    "a.record_count"),
	          "0\n");
}
