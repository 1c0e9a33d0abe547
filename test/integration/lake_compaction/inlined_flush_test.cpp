#include "compaction_fixture.hpp"
#include "harness/build_paths.hpp"
#include "harness/process.hpp"

#include <gtest/gtest.h>

using namespace duckpipe;
using namespace duckpipe::test;

namespace {

bool Contains(const std::string &haystack, const std::string &needle) {
	return haystack.find(needle) != std::string::npos;
}

CommandResult Duckpipe(const CompactionLake &lake, std::vector<std::string> args) {
	std::vector<std::string> argv = {DuckpipeBinary(), "--lake-catalog", lake.Conninfo()};
	argv.insert(argv.end(), args.begin(), args.end());
	return RunCommand(argv);
}

// Rows inlined into the catalog as DuckDB's writer inlines them (digest section 7): a new inlined
// table for the table's schema version (schema_version bumped), strings as BYTEA, table_stats
// advanced, then one inlined row deleted by end_snapshot. Returns the inserting snapshot.
int64_t InlineRows(CompactionLake &lake) {
	auto head = lake.Head();
	auto sv = std::stoll(
	    lake.Psql("SELECT schema_version FROM ducklake.ducklake_snapshot WHERE snapshot_id = " + std::to_string(head)));
	auto next_row = std::stoll(lake.Psql("SELECT next_row_id FROM ducklake.ducklake_table_stats WHERE table_id = " +
	                                     std::to_string(lake.table_id)));
	const auto T = std::to_string(lake.table_id);
	const auto name = "ducklake_inlined_data_" + T + "_" + std::to_string(sv + 1);
	const auto S1 = std::to_string(head + 1), S2 = std::to_string(head + 2);
	auto rid = [&](int i) { return std::to_string(next_row + i); };
	lake.Psql(
	    "SET search_path = ducklake;\n"
	    "INSERT INTO ducklake_snapshot SELECT " +
	    S1 + ", now(), schema_version + 1, next_catalog_id, next_file_id + 1 FROM ducklake_snapshot WHERE " +
	    "snapshot_id = " + std::to_string(head) +
	    ";\n"
	    "INSERT INTO ducklake_snapshot_changes VALUES (" +
	    S1 + ", 'inlined_insert:" + T + "', NULL, NULL, NULL);\n" +
	    "INSERT INTO ducklake_inlined_data_tables VALUES (" + T + ", '" + name + "', " + std::to_string(sv + 1) +
	    ");\n" + "CREATE TABLE " + name +
	    "(row_id BIGINT, begin_snapshot BIGINT, end_snapshot BIGINT, id BIGINT, name BYTEA, amount DOUBLE "
	    "PRECISION);\n" +
	    "INSERT INTO " + name + " VALUES (" + rid(0) + ", " + S1 +
	    ", NULL, 1001, convert_to('inl ü1', 'UTF8'), 1.5), (" + rid(1) + ", " + S1 +
	    ", NULL, 1002, convert_to('inl2', 'UTF8'), NULL), (" + rid(2) + ", " + S1 + ", NULL, 1003, NULL, -2.25);\n" +
	    "UPDATE ducklake_table_stats SET record_count = record_count + 3, next_row_id = next_row_id + 3 WHERE "
	    "table_id = " +
	    T + ";\n" + "INSERT INTO ducklake_snapshot SELECT " + S2 +
	    ", now(), schema_version, next_catalog_id, next_file_id + 1 FROM ducklake_snapshot WHERE snapshot_id = " + S1 +
	    ";\n" + "INSERT INTO ducklake_snapshot_changes VALUES (" + S2 + ", 'inlined_delete:" + T +
	    "', NULL, NULL, NULL);\n" + "UPDATE " + name + " SET end_snapshot = " + S2 + " WHERE row_id = " + rid(1) +
	    ";\n");
	return head + 1;
}

} // namespace

TEST(InlinedFlush, MovesInlinedRowsToParquetKeepingContentsAndTimeTravel) {
	CompactionLake lake("flush_inlined", 3);
	auto files_only = lake.Contents();
	auto inserted = InlineRows(lake);
	auto with_inlined = lake.Contents();
	auto at_insert = lake.Contents(lake::SnapshotSelector::Id(inserted));
	ASSERT_EQ(with_inlined.size(), files_only.size() + 2);
	ASSERT_EQ(at_insert.size(), files_only.size() + 3);
	EXPECT_EQ(with_inlined[with_inlined.size() - 2], (std::vector<std::string>{"1001", "inl ü1", "1.5"}));
	EXPECT_EQ(with_inlined.back(), (std::vector<std::string>{"1003", "NULL", "-2.25"}));
	auto files_before = lake.LiveDataFiles();

	auto flush = Duckpipe(lake, {"flush-inlined", "s.t"});
	ASSERT_EQ(flush.exit_code, 0) << flush.output;
	auto head = lake.Head();
	EXPECT_TRUE(Contains(flush.output, "flush-inlined s.t: moved 2 inlined rows into a Parquet file (snapshot " +
	                                       std::to_string(head) + ")"))
	    << flush.output;
	EXPECT_EQ(lake.LiveDataFiles(), files_before + 1);
	EXPECT_EQ(lake.Contents(), with_inlined);
	EXPECT_EQ(lake.Contents(lake::SnapshotSelector::Id(inserted)), at_insert);
	// The rows moved end at the flush snapshot; the catalog logs it as DuckDB does.
	EXPECT_EQ(lake.Psql("SELECT changes_made FROM ducklake.ducklake_snapshot_changes WHERE snapshot_id = " +
	                    std::to_string(head)),
	          "inline_flush:" + std::to_string(lake.table_id) + "\n");
	auto name = lake.Psql("SELECT table_name FROM ducklake.ducklake_inlined_data_tables");
	name.pop_back();
	EXPECT_EQ(lake.Psql("SELECT count(*) FROM ducklake." + name + " WHERE end_snapshot IS NULL"), "0\n");
	EXPECT_EQ(lake.Psql("SELECT string_agg(coalesce(end_snapshot::text, 'NULL'), ',' ORDER BY row_id) FROM "
	                    "ducklake." +
	                    name),
	          std::to_string(head) + "," + std::to_string(inserted + 1) + "," + std::to_string(head) + "\n");
	// Metadata count(*) covers the moved rows.
	EXPECT_EQ(lake.MetadataCount(), static_cast<int64_t>(with_inlined.size()) - 1);

	auto again = Duckpipe(lake, {"flush-inlined"});
	ASSERT_EQ(again.exit_code, 0) << again.output;
	EXPECT_TRUE(Contains(again.output, "flush-inlined s.t: no inlined rows")) << again.output;
	EXPECT_EQ(lake.Head(), head);

	// Compaction merges the flushed file with the others; the contents stay.
	auto compact = Duckpipe(lake, {"compact", "s.t"});
	ASSERT_EQ(compact.exit_code, 0) << compact.output;
	EXPECT_EQ(lake.Contents(), with_inlined);
}

TEST(InlinedFlush, CompactFlushesInlinedRowsFirst) {
	CompactionLake lake("compact_inlined", 2);
	InlineRows(lake);
	auto with_inlined = lake.Contents();
	auto compact = Duckpipe(lake, {"compact", "s.t"});
	ASSERT_EQ(compact.exit_code, 0) << compact.output;
	EXPECT_TRUE(Contains(compact.output, "flush-inlined s.t: moved 2 inlined rows")) << compact.output;
	EXPECT_EQ(lake.Contents(), with_inlined);
	auto name = lake.Psql("SELECT table_name FROM ducklake.ducklake_inlined_data_tables");
	name.pop_back();
	EXPECT_EQ(lake.Psql("SELECT count(*) FROM ducklake." + name + " WHERE end_snapshot IS NULL"), "0\n");
}
