// ALTER EXTENSION pg_duckpipe UPDATE applies the migrations an older install lacks, keeps the
// metadata's rows, and makes the new objects members of the extension. The older version is
// generated from the same migrations, cut before the latest one.
#include "harness/build_paths.hpp"
#include "harness/pg_cluster.hpp"
#include "harness/process.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace duckpipe::test {

namespace fs = std::filesystem;

namespace {
int LatestMigration() {
	int latest = 0;
	for (const auto &entry : fs::directory_iterator(SourceDir() + "/sql/migrations")) {
		latest = std::max(latest, std::stoi(entry.path().filename().string().substr(0, 4)));
	}
	return latest;
}
} // namespace

class ExtensionUpgradeTest : public ::testing::Test {
protected:
	void SetUp() override {
		extension_dir_ = fs::canonical(ExtensionPgBinDir() + "/../../../../share/postgresql/15/extension").string();
		current_ = cluster_.Psql("postgres", "SELECT default_version FROM pg_available_extensions WHERE name = "
		                                     "'pg_duckpipe'");
		current_ = current_.substr(0, current_.find('\n'));
		ASSERT_FALSE(current_.empty()) << "pg_duckpipe is not installed in the private tree";
		auto gen = RunCommand({"cmake", "-DSQL_DIR=" + SourceDir() + "/sql", "-DOUT_DIR=" + extension_dir_,
		                       "-DVERSION=" + kOld, "-DMAX_MIGRATION=" + std::to_string(LatestMigration() - 1),
		                       "-DNO_EXTENSION_SQL=ON", "-P", SourceDir() + "/cmake/gen_extension_sql.cmake"});
		ASSERT_EQ(gen.exit_code, 0) << gen.output;
		fs::copy_file(extension_dir_ + "/pg_duckpipe--" + current_ + ".sql", UpgradeScript(),
		              fs::copy_options::overwrite_existing);
	}
	void TearDown() override {
		fs::remove(extension_dir_ + "/pg_duckpipe--" + kOld + ".sql");
		fs::remove(UpgradeScript());
	}
	std::string UpgradeScript() const { return extension_dir_ + "/pg_duckpipe--" + kOld + "--" + current_ + ".sql"; }
	std::string Query(const std::string &sql) {
		auto out = cluster_.Psql("postgres", sql);
		return out.substr(0, out.find('\n'));
	}

	const std::string kOld = "0.0.1";
	PgCluster cluster_{PgCluster::Options{.extension = true}};
	std::string extension_dir_;
	std::string current_;
};

TEST_F(ExtensionUpgradeTest, UpdateAppliesTheNewMigrationsAndKeepsTheRows) {
	int latest = LatestMigration();
	cluster_.Psql("postgres", "CREATE EXTENSION pg_duckpipe VERSION '" + kOld + "'");
	EXPECT_EQ(Query("SELECT max(version) FROM duckpipe.schema_migrations"), std::to_string(latest - 1));
	cluster_.Psql("postgres", "INSERT INTO duckpipe.sync_groups(name, publication, slot_name) VALUES ('kept', "
	                          "'kept_pub', 'kept_slot')");

	cluster_.Psql("postgres", "ALTER EXTENSION pg_duckpipe UPDATE");
	EXPECT_EQ(Query("SELECT extversion FROM pg_extension WHERE extname = 'pg_duckpipe'"), current_);
	EXPECT_EQ(Query("SELECT max(version) FROM duckpipe.schema_migrations"), std::to_string(latest));
	EXPECT_EQ(Query("SELECT publication || '/' || slot_name FROM duckpipe.sync_groups WHERE name = 'kept'"),
	          "kept_pub/kept_slot");
	// Everything in the schema, old and new, belongs to the extension.
	EXPECT_EQ(Query("SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'duckpipe'::regnamespace AND "
	                "c.relkind IN ('r', 'v') AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND "
	                "d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e')"),
	          "0");
	// Updating again is a no-op (already at the default version).
	cluster_.Psql("postgres", "ALTER EXTENSION pg_duckpipe UPDATE");
	EXPECT_EQ(Query("SELECT count(*) FROM duckpipe.schema_migrations"), std::to_string(latest));
}

} // namespace duckpipe::test
