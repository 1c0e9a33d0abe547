#include "compaction_fixture.hpp"
#include "harness/build_paths.hpp"

#include "harness/process.hpp"

#include <gtest/gtest.h>

#include <filesystem>

using namespace duckpipe;
using namespace duckpipe::test;

namespace {

CommandResult Duckpipe(const CompactionLake &lake, std::vector<std::string> args) {
	std::vector<std::string> argv = {DuckpipeBinary(), "--lake-catalog", lake.Conninfo()};
	argv.insert(argv.end(), args.begin(), args.end());
	return RunCommand(argv);
}

bool Contains(const std::string &haystack, const std::string &needle) {
	return haystack.find(needle) != std::string::npos;
}

} // namespace

TEST(MaintenanceCli, CompactExpireAndCleanupKeepTheContents) {
	CompactionLake lake("compact_cli");
	auto before = lake.Contents();
	auto files_before = FilesUnder(lake.config.data_path);

	auto compact = Duckpipe(lake, {"compact", "s.t"});
	ASSERT_EQ(compact.exit_code, 0) << compact.output;
	EXPECT_TRUE(Contains(compact.output, "compact s.t: merged 4 files, rewrote 6 files with deletes into 1 files "
	                                     "(150 rows, snapshot "))
	    << compact.output;
	// Small files with a few deleted rows merge too (their live rows): a synced table that receives
	// updates has deletes in nearly every file.
	EXPECT_EQ(lake.LiveDataFiles(), 1);
	EXPECT_EQ(lake.Contents(), before);

	// All tables by default; nothing left to merge now.
	auto again = Duckpipe(lake, {"compact"});
	ASSERT_EQ(again.exit_code, 0) << again.output;
	EXPECT_TRUE(Contains(again.output, "compact s.t: nothing to compact")) << again.output;

	auto unknown = Duckpipe(lake, {"compact", "s.nope"});
	EXPECT_EQ(unknown.exit_code, 64) << unknown.output;
	EXPECT_TRUE(Contains(unknown.output, "lake table 's.nope' does not exist")) << unknown.output;

	auto kept = Duckpipe(lake, {"expire-snapshots", "--older-than", "7 days"});
	ASSERT_EQ(kept.exit_code, 0) << kept.output;
	EXPECT_TRUE(Contains(kept.output, "expire-snapshots: expired 0 snapshots older than 7 days, scheduled 0 files"))
	    << kept.output;

	auto expire = Duckpipe(lake, {"expire-snapshots", "--older-than", "0 seconds"});
	ASSERT_EQ(expire.exit_code, 0) << expire.output;
	// The ten merged data files and the six delete files of those with deletes.
	EXPECT_TRUE(Contains(expire.output, "scheduled 16 files for deletion")) << expire.output;
	EXPECT_TRUE(Contains(expire.output, "cleanup-files: deleted 16 scheduled files (0 already gone)")) << expire.output;
	EXPECT_EQ(lake.Contents(), before);

	// An orphan (a file no catalog row names) goes with --orphans-older-than.
	auto orphan = lake.config.data_path + "s/t/ducklake-orphan.parquet";
	lake.staging->Execute("COPY (SELECT 1 AS x) TO '" + orphan + "' (FORMAT parquet)");
	auto cleanup = Duckpipe(lake, {"cleanup-files", "--orphans-older-than", "0 seconds"});
	ASSERT_EQ(cleanup.exit_code, 0) << cleanup.output;
	EXPECT_TRUE(Contains(cleanup.output, "cleanup-files: deleted 0 scheduled files (0 already gone)"))
	    << cleanup.output;
	EXPECT_TRUE(Contains(cleanup.output, "cleanup-files: deleted 1 orphaned files older than 0 seconds"))
	    << cleanup.output;
	EXPECT_FALSE(std::filesystem::exists(orphan));
	EXPECT_EQ(lake.Contents(), before);
	EXPECT_EQ(FilesUnder(lake.config.data_path).size(), files_before.size() - 16 + 1);
}
