#include "core/lake/catalog_loader.hpp"
#include "core/pg/pg_connection.hpp"
#include "harness/build_paths.hpp"
#include "harness/golden_lake.hpp"
#include "harness/lake_text.hpp"
#include "harness/process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using namespace duckpipe;
using namespace duckpipe::test;

namespace {

// Runs `duckpipe query` against the shared golden lake; the environment is cleared of DUCKPIPE_*
// so only the given flags count.
CommandResult Query(std::vector<std::string> args, std::vector<std::string> env = {}) {
	std::vector<std::string> argv{
	    "env", "-u", "DUCKPIPE_SOURCE", "-u", "DUCKPIPE_LAKE_CATALOG", "-u", "DUCKPIPE_LAKE_SCHEMA"};
	argv.insert(argv.end(), env.begin(), env.end());
	argv.push_back(DuckpipeBinary());
	argv.push_back("query");
	argv.insert(argv.end(), args.begin(), args.end());
	return RunCommand(argv);
}

const std::string kOrders = "SELECT * FROM public.orders WHERE id IN (1, 2000, 3000) ORDER BY id";

} // namespace

TEST(QueryCli, CsvOutput) {
	auto r = Query({kOrders, "--lake-catalog", SharedGolden().Conninfo(), "--format", "csv"});
	ASSERT_EQ(r.exit_code, 0) << r.output;
	EXPECT_EQ(r.output, "id,total,comment,status\n"
	                    "1,-7,n1,new\n"
	                    "2000,0,,new\n"
	                    "3000,5,c,shipped\n");
	// Quoting per RFC 4180; NULL is empty, the empty string is "".
	r = Query({"SELECT t, '' AS e, NULL AS n FROM public.all_types WHERE id = 3", "--format", "csv", "--lake-catalog",
	           SharedGolden().Conninfo()});
	ASSERT_EQ(r.exit_code, 0) << r.output;
	EXPECT_EQ(r.output, "t,e,n\n\"quote ' and , and \"\"\",\"\",\n");
}

// Without a nested column in the result too: DuckDB's C API gives no text for timestamptz, uuid or
// enum values (they printed as empty), so those go through DuckDB's cast as well.
TEST(QueryCli, TimestamptzAndUuidShowWithoutNestedColumns) {
	auto r = Query({"SELECT id, tz, u, 'x'::ENUM('x', 'y') AS e FROM public.all_types WHERE id IN (1, 2) ORDER BY id",
	                "--format", "csv", "--lake-catalog", SharedGolden().Conninfo()});
	ASSERT_EQ(r.exit_code, 0) << r.output;
	EXPECT_EQ(r.output, "id,tz,u,e\n"
	                    "1,2024-01-01 10:00:00+00,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,x\n"
	                    "2,,,x\n");
}

TEST(QueryCli, TableOutputIsTheDefault) {
	// Global flags also come from the environment, and work before the subcommand name.
	auto r = Query({kOrders}, {"DUCKPIPE_LAKE_CATALOG=" + SharedGolden().Conninfo()});
	ASSERT_EQ(r.exit_code, 0) << r.output;
	EXPECT_EQ(r.output, " id   | total | comment | status  \n"
	                    "------+-------+---------+---------\n"
	                    "    1 |    -7 | n1      | new     \n"
	                    " 2000 |     0 | NULL    | new     \n"
	                    " 3000 |     5 | c       | shipped \n"
	                    "(3 rows)\n");
	auto before = RunCommand({"env", "-u", "DUCKPIPE_LAKE_CATALOG", DuckpipeBinary(), "--source",
	                          SharedGolden().Conninfo(), "query", "SELECT count(*) AS n FROM public.orders"});
	ASSERT_EQ(before.exit_code, 0) << before.output;
	EXPECT_EQ(before.output, " n    \n------\n 1000 \n(1 row)\n");
}

TEST(QueryCli, JsonOutput) {
	auto r = Query({kOrders, "--format", "json", "--lake-catalog", SharedGolden().Conninfo()});
	ASSERT_EQ(r.exit_code, 0) << r.output;
	auto rows = nlohmann::json::parse(r.output);
	ASSERT_TRUE(rows.is_array());
	ASSERT_EQ(rows.size(), 3u);
	EXPECT_EQ(rows[0]["id"], 1);
	EXPECT_TRUE(rows[0]["id"].is_number_integer());
	EXPECT_EQ(rows[0]["total"], -7);
	EXPECT_EQ(rows[0]["comment"], "n1");
	EXPECT_TRUE(rows[1]["comment"].is_null());
	EXPECT_EQ(rows[2]["status"], "shipped");
	// Column order is kept.
	EXPECT_EQ(r.output.find("\"id\""), r.output.find('{') + 1) << r.output;

	// Nested, JSON, decimal, timestamptz (UTC), blob values.
	r = Query({"SELECT id, n, tz, j, bl, ai, av FROM public.all_types WHERE id = 1", "--format", "json",
	           "--lake-catalog", SharedGolden().Conninfo()});
	ASSERT_EQ(r.exit_code, 0) << r.output;
	auto row = nlohmann::json::parse(r.output).at(0);
	EXPECT_DOUBLE_EQ(row["n"].get<double>(), 1.5);
	EXPECT_EQ(row["tz"], "2024-01-01 10:00:00+00");
	EXPECT_EQ(row["j"]["k"], nlohmann::json::array({1, 2}));
	EXPECT_EQ(row["bl"], "\\xDE\\xAD");
	EXPECT_EQ(row["ai"], "[1, NULL, 3]");
	EXPECT_EQ(row["av"], "[a, NULL]");
}

TEST(QueryCli, TimeTravel) {
	auto r = Query({"SELECT * FROM public.orders WHERE id IN (1, 2000) ORDER BY id", "--format", "csv", "--snapshot",
	                "9", "--lake-catalog", SharedGolden().Conninfo()});
	ASSERT_EQ(r.exit_code, 0) << r.output;
	EXPECT_EQ(r.output, "id,customer_id,total,note\n1,1,-7,n1\n2000,0,0,\n");

	PgConnection conn(SharedGolden().Conninfo());
	auto snapshots = lake::ListSnapshots(conn, "ducklake");
	r = Query({"SELECT * FROM public.orders WHERE id IN (1, 2000) ORDER BY id", "--format", "csv", "--as-of",
	           snapshots[12].snapshot_time, "--lake-catalog", SharedGolden().Conninfo()});
	ASSERT_EQ(r.exit_code, 0) << r.output;
	EXPECT_EQ(r.output, "id,total,comment,status\n1,-7,n1,new\n2000,0,,new\n");

	r = Query({"SELECT 1", "--snapshot", "3", "--as-of", "2024-01-01", "--lake-catalog", SharedGolden().Conninfo()});
	EXPECT_NE(r.exit_code, 0) << r.output;
	r = Query({"SELECT 1", "--snapshot", "99", "--lake-catalog", SharedGolden().Conninfo()});
	EXPECT_EQ(r.exit_code, 64) << r.output;
	EXPECT_NE(r.output.find("snapshot 99 does not exist"), std::string::npos) << r.output;
}

TEST(QueryCli, ErrorsAreClear) {
	auto r = Query({"SELECT nope FROM public.orderz", "--lake-catalog", SharedGolden().Conninfo()});
	EXPECT_EQ(r.exit_code, 64) << r.output;
	EXPECT_NE(r.output.find("query failed: "), std::string::npos) << r.output;
	EXPECT_NE(r.output.find("orderz"), std::string::npos) << r.output;
	EXPECT_NE(r.output.find("public.orders"), std::string::npos) << r.output; // the hint lists the tables

	r = Query({"SELECT 1", "--lake-catalog", SharedGolden().Conninfo(), "--lake-schema", "elsewhere"});
	EXPECT_EQ(r.exit_code, 65) << r.output;
	EXPECT_NE(r.output.find("no DuckLake catalog in schema \"elsewhere\""), std::string::npos) << r.output;

	r = Query({"SELECT 1"});
	EXPECT_EQ(r.exit_code, 64) << r.output;
	EXPECT_NE(r.output.find("DUCKPIPE_LAKE_CATALOG"), std::string::npos) << r.output;

	r = Query({"SELECT 1", "--format", "xml", "--lake-catalog", SharedGolden().Conninfo()});
	EXPECT_NE(r.exit_code, 0) << r.output;
}

namespace {

std::string FileBytes(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

} // namespace

// The query runs in a sandbox: the lake's files read through its views, nothing else opened,
// nothing written, no extension installed or loaded, the lockdown itself not undoable.
TEST(QueryCli, SandboxRefusesEverythingButReadingTheLake) {
	TempDir scratch("duckpipe-query-sandbox");
	const std::string written = scratch.Path() + "/out.csv";
	struct Attempt {
		std::string sql;
		std::string expected; // in the error output
	};
	const std::vector<Attempt> attempts = {
	    {"SELECT * FROM read_csv('/etc/passwd')", "/etc/passwd"},
	    {"SELECT * FROM read_text('/etc/hostname')", "/etc/hostname"},
	    {"SELECT * FROM glob('/etc/*')", "/etc/*"},
	    {"SELECT * FROM read_parquet('" + SharedGolden().DataPath() + "**/*.parquet')", "Permission Error"},
	    {"COPY (SELECT 1 AS x) TO '" + written + "'", "Permission Error: Cannot access file \"" + written},
	    {"EXPORT DATABASE '" + scratch.Path() + "/export'", "Permission Error"},
	    {"ATTACH '" + scratch.Path() + "/x.duckdb' AS x", "ATTACH is not allowed"},
	    {"ATTACH ':memory:' AS x", "ATTACH is not allowed"},
	    {"INSTALL httpfs", "INSTALL/LOAD is not allowed"},
	    {"LOAD parquet", "INSTALL/LOAD is not allowed"},
	    {"SET enable_external_access = true", "SET is not allowed"},
	    {"CREATE TABLE t AS SELECT 1", "CREATE is not allowed"},
	    {"SELECT 1; COPY (SELECT 1) TO '" + written + "'", "Permission Error: Cannot access file \"" + written},
	    {"PREPARE p AS SELECT 1", "PREPARE is not allowed"},
	};
	for (const auto &a : attempts) {
		auto r = Query({a.sql, "--lake-catalog", SharedGolden().Conninfo()});
		EXPECT_EQ(r.exit_code, 64) << a.sql << "\n" << r.output;
		EXPECT_NE(r.output.find(a.expected), std::string::npos) << a.sql << "\n" << r.output;
		EXPECT_NE(r.output.find("query failed"), std::string::npos) << a.sql << "\n" << r.output;
	}
	EXPECT_FALSE(std::filesystem::exists(written));
	EXPECT_FALSE(std::filesystem::exists(scratch.Path() + "/export"));
	EXPECT_FALSE(std::filesystem::exists(scratch.Path() + "/x.duckdb"));

	// What a query is for still works: the lake's tables, DESCRIBE/SHOW/SUMMARIZE, EXPLAIN.
	auto r = Query(
	    {"SELECT count(*) AS n FROM public.orders", "--format", "csv", "--lake-catalog", SharedGolden().Conninfo()});
	ASSERT_EQ(r.exit_code, 0) << r.output;
	EXPECT_EQ(r.output, "n\n1000\n");
	for (std::string sql : {"DESCRIBE public.orders", "SHOW TABLES", "EXPLAIN SELECT * FROM public.orders",
	                        "SUMMARIZE public.orders", "SELECT count(*) FROM public.orders; SELECT 1"}) {
		r = Query({sql, "--lake-catalog", SharedGolden().Conninfo()});
		EXPECT_EQ(r.exit_code, 0) << sql << "\n" << r.output;
	}
}

// A COPY over a live Parquet file of the lake once replaced it (the lake returned 4 rows for 8).
TEST(QueryCli, CopyOverALiveLakeFileFailsAndLeavesItIntact) {
	GoldenLake own(PgCluster::Shared()); // its own copy of the files: a failure here must not spoil the shared one
	lake::CatalogState state;
	{
		PgConnection conn(own.Conninfo());
		state = lake::LoadCatalog(conn, "ducklake", lake::SnapshotSelector::Latest());
	}
	const auto *orders = state.FindTable("public", "orders");
	ASSERT_NE(orders, nullptr);
	ASSERT_FALSE(orders->files.empty());
	const std::string live = orders->files.front().full_path;
	const std::string before = FileBytes(live);
	ASSERT_FALSE(before.empty());

	for (std::string sql : {"COPY (SELECT 1 AS id) TO '" + live + "' (FORMAT parquet)",
	                        "COPY public.orders TO '" + live + "' (FORMAT parquet)"}) {
		auto r = Query({sql, "--lake-catalog", own.Conninfo()});
		EXPECT_EQ(r.exit_code, 64) << r.output;
		EXPECT_NE(r.output.find("COPY is not allowed"), std::string::npos) << r.output;
	}
	EXPECT_EQ(FileBytes(live), before) << live << " was overwritten";
	auto r = Query({"SELECT count(*) AS n FROM public.orders", "--format", "csv", "--lake-catalog", own.Conninfo()});
	ASSERT_EQ(r.exit_code, 0) << r.output;
	EXPECT_EQ(r.output, "n\n1000\n");
}

// Issue 11: big `duckpipe query`s failed with DuckDB's out-of-memory error: the DuckDB had the
// flush memory limit and spilled to ".tmp" in the working directory, if it could create it there.
// Query sessions now have a limit of their own (--query-memory-mb) and a spill directory of their
// own (under --temp-dir, else the system's), removed afterwards. A sort of ~90 MB under a 64 MB
// limit, run from a directory where nothing can be created, spills and equals PostgreSQL's answer.
TEST(QueryCli, ALargerThanMemoryQuerySpillsInsteadOfFailing) {
	const std::string sort = "SELECT count(*) AS n, sum(r * (i % 7)) AS h FROM (SELECT i, row_number() OVER (ORDER "
	                         "BY s) AS r FROM (SELECT i, md5(CAST(i AS VARCHAR)) || repeat('x', 40) AS s FROM "
	                         "range(1000000) t(i)))";
	auto query = [&](std::vector<std::string> flags) {
		std::vector<std::string> argv{"env",
		                              "-C",
		                              "/proc",
		                              DuckpipeBinary(),
		                              "query",
		                              sort,
		                              "--format",
		                              "csv",
		                              "--query-memory-mb",
		                              "64",
		                              "--lake-catalog",
		                              SharedGolden().Conninfo()};
		argv.insert(argv.end(), flags.begin(), flags.end());
		return RunCommand(argv);
	};
	auto r = query({});
	ASSERT_EQ(r.exit_code, 0) << r.output;
	PgConnection pg(SharedGolden().Conninfo());
	auto want = pg.Exec("SELECT count(*), sum(r * (i % 7)) FROM (SELECT i, row_number() OVER (ORDER BY md5(i::text) "
	                    "|| repeat('x', 40) COLLATE \"C\") AS r FROM generate_series(0, 999999) i) t");
	EXPECT_EQ(r.output, "n,h\n" + std::string(want.Get(0, 0)) + "," + std::string(want.Get(0, 1)) + "\n");
	// Under --temp-dir, and removed with the query.
	const std::string temp = std::filesystem::temp_directory_path() / "duckpipe_query_spill_test";
	std::filesystem::remove_all(temp);
	r = query({"--temp-dir", temp});
	ASSERT_EQ(r.exit_code, 0) << r.output;
	EXPECT_TRUE(std::filesystem::is_empty(temp)) << "left behind under " << temp;
	std::filesystem::remove_all(temp);
	// It works only by spilling: with 1 MB of temp space the same query fails.
	r = query({"--temp-dir-max-mb", "1"});
	EXPECT_NE(r.exit_code, 0) << r.output;
	// A temp dir where no directory can be made: the error names it.
	r = query({"--temp-dir", "/proc/duckpipe_nowhere"});
	EXPECT_NE(r.exit_code, 0);
	EXPECT_NE(r.output.find("/proc/duckpipe_nowhere"), std::string::npos) << r.output;
	auto help = RunCommand({DuckpipeBinary(), "query", "--help"});
	EXPECT_NE(help.output.find("--query-memory-mb"), std::string::npos) << help.output;
}
