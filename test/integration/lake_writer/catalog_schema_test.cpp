#include "core/common/error.hpp"
#include "core/lake/catalog_schema.hpp"
#include "harness/build_paths.hpp"
#include "harness/golden_lake.hpp"
#include "writer_fixture.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

using namespace duckpipe;
using namespace duckpipe::test;

namespace {

std::string ColumnsSql(const std::string &schema) {
	return "SELECT table_name, ordinal_position, column_name, data_type, is_nullable FROM information_schema.columns "
	       "WHERE table_schema = '" +
	       schema + "' ORDER BY table_name, ordinal_position";
}

std::string PkSql(const std::string &schema) {
	return "SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc "
	       "JOIN information_schema.key_column_usage kcu USING (constraint_schema, constraint_name) "
	       "WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = '" +
	       schema + "' ORDER BY 1, 2";
}

// The DDL block of digest §1, verbatim.
std::string DigestDdl() {
	std::ifstream in(SharedDir() + "/ducklake-1.0.md");
	std::stringstream ss;
	ss << in.rdbuf();
	auto text = ss.str();
	auto start = text.find("```sql\nCREATE TABLE ducklake_metadata");
	EXPECT_NE(start, std::string::npos);
	start += 7;
	auto end = text.find("```", start);
	return text.substr(start, end - start);
}

} // namespace

TEST(CatalogSchema, MatchesTheDigestDdlColumnByColumn) {
	TestLake lake("schema_ddl");
	auto info = lake::OpenLake(lake.config);
	EXPECT_TRUE(info.created);
	auto &cluster = PgCluster::Shared();
	cluster.Psql(lake.db, "CREATE SCHEMA expected; SET search_path = expected;\n" + DigestDdl());
	auto ours = PgRows(lake.Conninfo(), ColumnsSql("ducklake"));
	auto expected = PgRows(lake.Conninfo(), ColumnsSql("expected"));
	EXPECT_EQ(PgRows(lake.Conninfo(), "SELECT count(*) FROM information_schema.tables WHERE table_schema = "
	                                  "'ducklake'")[0],
	          "28");
	ASSERT_EQ(expected.size(), ours.size());
	for (size_t i = 0; i < ours.size(); i++) {
		EXPECT_EQ(expected[i], ours[i]);
	}
	EXPECT_EQ(PgRows(lake.Conninfo(), PkSql("expected")), PgRows(lake.Conninfo(), PkSql("ducklake")));
	EXPECT_EQ(PgRows(lake.Conninfo(), PkSql("ducklake")).size(), 5u);
	// No defaults, no FKs, nothing else.
	EXPECT_EQ(PgRows(lake.Conninfo(), "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
	                                  "'ducklake' AND column_default IS NOT NULL")[0],
	          "0");
	EXPECT_EQ(PgRows(lake.Conninfo(), "SELECT count(*) FROM information_schema.table_constraints WHERE "
	                                  "table_schema = 'ducklake' AND constraint_type IN ('FOREIGN KEY', 'UNIQUE')")[0],
	          "0");
}

TEST(CatalogSchema, MatchesTheGoldenCatalogDdl) {
	TestLake lake("schema_golden");
	lake::OpenLake(lake.config);
	GoldenLake golden(PgCluster::Shared());
	auto ours = PgRows(lake.Conninfo(), ColumnsSql("ducklake"));
	auto theirs = PgRows(golden.Conninfo(), ColumnsSql("ducklake"));
	ASSERT_EQ(theirs.size(), ours.size());
	for (size_t i = 0; i < ours.size(); i++) {
		EXPECT_EQ(theirs[i], ours[i]);
	}
	EXPECT_EQ(PgRows(golden.Conninfo(), PkSql("ducklake")), PgRows(lake.Conninfo(), PkSql("ducklake")));
}

TEST(CatalogSchema, BootstrapRowsAsTheReference) {
	TestLake lake("schema_boot");
	auto info = lake::OpenLake(lake.config);
	EXPECT_EQ(info.version, "1.0");
	EXPECT_EQ(info.data_path, lake.config.data_path);
	EXPECT_TRUE(std::filesystem::is_directory(info.data_path));
	auto c = lake.Conninfo();
	EXPECT_EQ(PgRows(c, "SELECT key, value, scope, scope_id FROM ducklake.ducklake_metadata ORDER BY key"),
	          (Rows{"created_by|pg_duckpipe " DUCKPIPE_VERSION "|NULL|NULL", "data_inlining_row_limit|0|NULL|NULL",
	                "data_path|" + lake.config.data_path + "|NULL|NULL", "encrypted|false|NULL|NULL",
	                "version|1.0|NULL|NULL"}));
	EXPECT_EQ(PgRows(c, "SELECT snapshot_id, snapshot_time IS NOT NULL, schema_version, next_catalog_id, "
	                    "next_file_id FROM ducklake.ducklake_snapshot"),
	          (Rows{"0|t|0|1|0"}));
	EXPECT_EQ(PgRows(c, "SELECT * FROM ducklake.ducklake_snapshot_changes"),
	          (Rows{"0|created_schema:\"main\"|NULL|NULL|NULL"}));
	EXPECT_EQ(PgRows(c, "SELECT schema_id, schema_uuid IS NOT NULL, begin_snapshot, end_snapshot, schema_name, path, "
	                    "path_is_relative FROM ducklake.ducklake_schema"),
	          (Rows{"0|t|0|NULL|main|main/|t"}));
	// Idempotent: opening again changes nothing.
	auto again = lake::OpenLake(lake.config);
	EXPECT_FALSE(again.created);
	EXPECT_EQ(PgRows(c, "SELECT count(*) FROM ducklake.ducklake_metadata")[0], "5");
}

TEST(CatalogSchema, ConcurrentOpenersBootstrapOnce) {
	TestLake lake("schema_race");
	std::vector<std::thread> threads;
	std::atomic<int> created{0}, failed{0};
	for (int i = 0; i < 4; i++) {
		threads.emplace_back([&] {
			try {
				if (lake::OpenLake(lake.config).created) {
					created++;
				}
			} catch (const std::exception &) {
				failed++;
			}
		});
	}
	for (auto &t : threads) {
		t.join();
	}
	EXPECT_EQ(failed.load(), 0);
	EXPECT_EQ(created.load(), 1);
	EXPECT_EQ(PgRows(lake.Conninfo(), "SELECT count(*) FROM ducklake.ducklake_metadata")[0], "5");
	EXPECT_EQ(PgRows(lake.Conninfo(), "SELECT count(*) FROM ducklake.ducklake_snapshot")[0], "1");
	EXPECT_EQ(PgRows(lake.Conninfo(), "SELECT count(*) FROM ducklake.ducklake_schema")[0], "1");
}

TEST(CatalogSchema, OtherVersionIsRefusedWithAClearError) {
	TestLake lake("schema_version");
	lake::OpenLake(lake.config);
	PgRows(lake.Conninfo(), "UPDATE ducklake.ducklake_metadata SET value = '1.1-dev1' WHERE key = 'version'");
	try {
		lake::OpenLake(lake.config);
		FAIL() << "expected an error";
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Lake);
		std::string msg = e.what();
		EXPECT_NE(msg.find("'1.1-dev1'"), std::string::npos) << msg;
		EXPECT_NE(msg.find("'1.0'"), std::string::npos) << msg;
		EXPECT_FALSE(e.Context().hint.empty());
	}
}

TEST(CatalogSchema, DifferentDataPathIsAConfigError) {
	TestLake lake("schema_path");
	lake::OpenLake(lake.config);
	auto other = lake.config;
	other.data_path = lake.dir->Path() + "/elsewhere";
	try {
		lake::OpenLake(other);
		FAIL();
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Config);
		EXPECT_NE(std::string(e.what()).find(lake.config.data_path), std::string::npos);
	}
	// Normalisation: a missing trailing '/' or a doubled '/' is the same path.
	auto same = lake.config;
	same.data_path = lake.dir->Path() + "//lake";
	EXPECT_NO_THROW(lake::OpenLake(same));
}

TEST(CatalogSchema, RelativeDataPathIsRejected) {
	TestLake lake("schema_rel");
	lake.config.data_path = "relative/lake";
	EXPECT_THROW(lake::OpenLake(lake.config), Error);
}
