#include "core/common/error.hpp"
#include "core/lake/lake_maintenance.hpp"
#include "harness/golden_lake.hpp"
#include "harness/lake_text.hpp"
#include "harness/pg_cluster.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

namespace fs = std::filesystem;
using namespace duckpipe;
using namespace duckpipe::test;

namespace {

lake::LakeConfig ConfigFor(const GoldenLake &golden) {
	lake::LakeConfig config;
	config.catalog_conninfo = golden.Conninfo();
	config.data_path = golden.DataPath();
	return config;
}

std::set<std::string> ParquetFiles(const std::string &dir) {
	std::set<std::string> out;
	for (const auto &e : fs::recursive_directory_iterator(dir)) {
		if (e.is_regular_file() && e.path().extension() == ".parquet") {
			out.insert(e.path().string());
		}
	}
	return out;
}

Table Latest(const GoldenLake &golden, const std::string &sql) {
	AttachedLake lake(golden.Conninfo(), lake::SnapshotSelector::Latest());
	return QueryAsText(*lake.duck, sql);
}

} // namespace

TEST(LakeMaintenance, ExpiryAndCleanupKeepTheLatestContentsAndFreeOldFiles) {
	GoldenLake golden(PgCluster::Shared());
	auto before_files = ParquetFiles(golden.DataPath());
	auto orders = Latest(golden, "SELECT * FROM public.orders ORDER BY id");
	auto all_types = Latest(golden, "SELECT * FROM public.all_types ORDER BY id");
	ASSERT_EQ(orders, ParseCsv(GoldenLake::Expected("orders.csv")));

	auto &cluster = PgCluster::Shared();
	// The reference already scheduled the delete files its second delete replaced.
	int scheduled_by_reference = std::stoi(
	    cluster.Psql(golden.Database(), "SELECT count(*) FROM ducklake.ducklake_files_scheduled_for_deletion"));
	lake::LakeMaintenance maintenance(ConfigFor(golden));
	// A threshold older than the oldest snapshot expires nothing, however old the fixture is.
	auto oldest_age_s = std::stoll(cluster.Psql(
	    golden.Database(),
	    "SELECT ceil(extract(epoch FROM now() - min(snapshot_time)))::bigint FROM ducklake.ducklake_snapshot"));
	EXPECT_EQ(maintenance.ExpireSnapshots(std::to_string(oldest_age_s + 3600) + " seconds").snapshots_expired, 0);

	auto expired = maintenance.ExpireSnapshots("0 seconds");
	auto remaining = cluster.Psql(golden.Database(), "SELECT count(*) FROM ducklake.ducklake_snapshot");
	EXPECT_EQ(remaining, "1\n");
	EXPECT_GT(expired.snapshots_expired, 10);
	// The dropped table's data file is needed by no surviving snapshot.
	EXPECT_EQ(expired.files_scheduled, 1);

	// Same contents at the latest snapshot, before and after the files are gone.
	EXPECT_EQ(Latest(golden, "SELECT * FROM public.orders ORDER BY id"), orders);
	auto cleaned = maintenance.CleanupOldFiles();
	EXPECT_EQ(cleaned.files_deleted, expired.files_scheduled + scheduled_by_reference);
	EXPECT_EQ(cleaned.files_missing, 0);
	EXPECT_EQ(Latest(golden, "SELECT * FROM public.orders ORDER BY id"), orders);
	EXPECT_EQ(Latest(golden, "SELECT * FROM public.all_types ORDER BY id"), all_types);
	EXPECT_LT(ParquetFiles(golden.DataPath()).size(), before_files.size());
	EXPECT_EQ(cluster.Psql(golden.Database(), "SELECT count(*) FROM ducklake.ducklake_files_scheduled_for_deletion"),
	          "0\n");
	// The dropped table is gone from the catalog for good.
	EXPECT_EQ(
	    cluster.Psql(golden.Database(), "SELECT count(*) FROM ducklake.ducklake_table WHERE table_name = 'dropped'"),
	    "0\n");
	// Time travel to an expired snapshot is a clear error.
	EXPECT_THROW(AttachedLake(golden.Conninfo(), lake::SnapshotSelector::Id(5)), Error);
	// Every remaining file is referenced: an orphan sweep deletes nothing.
	EXPECT_EQ(maintenance.DeleteOrphanedFiles("0 seconds").files_deleted, 0);
	EXPECT_EQ(Latest(golden, "SELECT * FROM public.orders ORDER BY id"), orders);
}

TEST(LakeMaintenance, OrphanSweepDeletesOnlyUnreferencedOldFiles) {
	GoldenLake golden(PgCluster::Shared());
	auto orders = Latest(golden, "SELECT * FROM public.orders ORDER BY id");
	// What a writer that crashed between writing Parquet and committing leaves behind.
	std::string orphan = golden.DataPath() + "public/orders/ducklake-orphan.parquet";
	fs::copy_file(*ParquetFiles(golden.DataPath() + "public/orders").begin(), orphan);
	auto before = ParquetFiles(golden.DataPath()).size();

	lake::LakeMaintenance maintenance(ConfigFor(golden));
	// Young files may belong to a commit in flight: spared.
	EXPECT_EQ(maintenance.DeleteOrphanedFiles("1 hour").files_deleted, 0);
	EXPECT_TRUE(fs::exists(orphan));
	EXPECT_EQ(maintenance.DeleteOrphanedFiles("0 seconds").files_deleted, 1);
	EXPECT_FALSE(fs::exists(orphan));
	EXPECT_EQ(ParquetFiles(golden.DataPath()).size(), before - 1);
	EXPECT_EQ(Latest(golden, "SELECT * FROM public.orders ORDER BY id"), orders);
	// Time travel still works: nothing referenced was touched.
	AttachedLake at6(golden.Conninfo(), lake::SnapshotSelector::Id(6));
	EXPECT_EQ(QueryAsText(*at6.duck, "SELECT * FROM public.orders ORDER BY id"),
	          ParseCsv(GoldenLake::Expected("orders_at_snapshot_6.csv")));
}
