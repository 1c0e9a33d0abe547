#include "core/lake/catalog_loader.hpp"
#include "core/pg/pg_connection.hpp"
#include "harness/build_paths.hpp"
#include "harness/lake_text.hpp"
#include "harness/process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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
