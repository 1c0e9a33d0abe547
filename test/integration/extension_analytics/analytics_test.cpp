// Analytics on lake relations give PostgreSQL's answers: a TPC-H-like schema `src` (schema.sql) is
// synced table by table into schema `lake` (duckpipe.add_table('src.x', 'lake.x')), changed
// (changes.sql) so the lake holds deletes and several files, and each query of queries.sql runs
// once with search_path = src and once with search_path = lake; the results must be the same rows,
// as PostgreSQL's text output (numeric scale, timestamptz in a non-UTC session TimeZone, ...).
//
// The lake side runs under every execution path the build has (LakeMode): the defaults, parallel
// plans forced, and, where the GUCs exist, the row-by-row scan and the pushdown scan with
// whole-query DuckDB execution off. CheckPath is where assertions about which path ran belong.
#include "analytic_queries.hpp"
#include "core/pg/pg_connection.hpp"
#include "harness/build_paths.hpp"
#include "harness/daemon_process.hpp"
#include "harness/extension_fixture.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

#include <fstream>
#include <sstream>

namespace duckpipe::test {
namespace {

using namespace std::chrono_literals;

const char *const kTables[] = {"region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"};
// Not UTC, and not a whole hour off it: a timestamptz rendered in the wrong zone shows.
const char *const kTimeZone = "America/St_Johns";

std::string AreaFile(const std::string &name) {
	return SourceDir() + "/test/integration/extension_analytics/" + name;
}

std::string ReadFile(const std::string &path) {
	std::ifstream in(path);
	if (!in) {
		throw std::runtime_error("cannot read " + path);
	}
	std::stringstream text;
	text << in.rdbuf();
	return text.str();
}

const std::vector<AnalyticQuery> &Queries() {
	static const auto queries = LoadAnalyticQueries(AreaFile("queries.sql"));
	return queries;
}

// Session settings under which the lake side runs.
struct LakeMode {
	std::string name;
	std::vector<std::pair<std::string, std::string>> settings;
};

class AnalyticsTest : public ExtensionTest, public ::testing::WithParamInterface<AnalyticQuery> {
protected:
	AnalyticsTest() : ExtensionTest("ext_analytics") {}

	// The synced schema is built once for the suite (the first test builds it); every test then
	// only reads it.
	void SetUp() override {
		if (!shared_db_.empty()) {
			db_ = shared_db_;
			ASSERT_TRUE(setup_error_.empty()) << setup_error_;
			return;
		}
		ExtensionTest::SetUp();
		shared_db_ = db_;
		try {
			BuildLake();
		} catch (const std::exception &e) {
			setup_error_ = e.what();
		}
		ASSERT_TRUE(setup_error_.empty()) << setup_error_;
	}

	// The suite's database stays until TearDownTestSuite. A path that leaves a resource behind says so
	// in the server log (WARNING: Snapshot reference leak, relcache reference leak, ...).
	void TearDown() override {
		auto log = Cluster().ServerLog();
		EXPECT_FALSE(Cluster().LogHasCrash()) << log;
		EXPECT_EQ(log.find("reference leak"), std::string::npos) << log;
		EXPECT_EQ(log.find("refcount leak"), std::string::npos) << log;
	}

	static void TearDownTestSuite() {
		if (shared_db_.empty()) {
			return;
		}
		auto conninfo = Cluster().Conninfo(shared_db_);
		try {
			Query(conninfo, "UPDATE duckpipe.sync_groups SET enabled = false");
			Query(conninfo, "SELECT duckpipe.stop_worker()");
			WaitFor(
			    [&] {
				    return Query(conninfo, "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE "
				                           "'pg_duckpipe:%' AND datname = current_database()")[0][0] == "0";
			    },
			    30s);
			Query(conninfo, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active "
			                "AND (database = current_database() OR slot_name LIKE 'duckpipe_slot_%')");
		} catch (const std::exception &e) {
			ADD_FAILURE() << "teardown: " << e.what();
		}
		shared_db_.clear();
	}

	// A digest of every table's rows on one side: the lake has caught up when both sides agree.
	std::string Digest(const std::string &schema) const {
		std::string out;
		for (const char *table : kTables) {
			out +=
			    Scalar("SELECT '" + std::string(table) + " ' || count(*) || ' ' || coalesce(md5(string_agg(t::text, " +
			           "E'\\n' ORDER BY t::text COLLATE \"C\")), '') FROM " + schema + "." + table + " t") +
			    "\n";
		}
		return out;
	}

	void WaitLakeEqualsSource(const char *stage) {
		std::string source = Digest("src");
		std::string lake;
		bool same = WaitFor(
		    [&] {
			    lake = Digest("lake");
			    return lake == source;
		    },
		    120s, 500ms);
		if (!same) {
			throw std::runtime_error(std::string("lake did not catch up ") + stage + ":\nsource\n" + source + "lake\n" +
			                         lake + "status:\n" + StatusText());
		}
	}

	std::string StatusText() const {
		std::string out;
		for (const auto &row : Sql("SELECT source_table, state, coalesce(error_message, '') FROM duckpipe.status()")) {
			out += row[0] + " " + row[1] + " " + row[2] + "\n";
		}
		return out;
	}

	void BuildLake() {
		Sql(ReadFile(AreaFile("schema.sql")));
		for (const char *table : kTables) {
			Sql("SELECT duckpipe.add_table('src." + std::string(table) + "', 'lake." + table + "')");
		}
		bool streaming = WaitFor(
		    [&] {
			    return Scalar("SELECT count(*) FROM duckpipe.status() WHERE state = 'STREAMING'") ==
			           std::to_string(std::size(kTables));
		    },
		    120s, 300ms);
		if (!streaming) {
			throw std::runtime_error("tables not STREAMING:\n" + StatusText());
		}
		WaitLakeEqualsSource("after the initial copy");
		Sql(ReadFile(AreaFile("changes.sql")));
		WaitLakeEqualsSource("after the changes");
		// What the changes must have left in the lake for the queries to read through: deletes, and
		// more than one data file per changed table.
		auto files = Scalar("SELECT count(*) FROM ducklake.ducklake_data_file f JOIN ducklake.ducklake_table t USING "
		                    "(table_id) WHERE t.table_name = 'lineitem' AND f.end_snapshot IS NULL");
		auto deletes = Scalar("SELECT count(*) FROM ducklake.ducklake_delete_file d JOIN ducklake.ducklake_table t "
		                      "USING (table_id) WHERE t.table_name = 'lineitem' AND d.end_snapshot IS NULL");
		if (std::stoi(files) < 2 || std::stoi(deletes) < 1) {
			throw std::runtime_error("lineitem's lake has " + files + " data files and " + deletes +
			                         " delete files: the changes did not land as expected");
		}
		// Parallel plans wherever the planner can make one (the lake relations' scans included). A
		// setup cost above 0 keeps Gather off the inner side of nested loops: relaunching workers
		// for every outer row opens the lake again each time (~150 ms).
		modes_ = {{"default", {}},
		          {"parallel",
		           {{"min_parallel_table_scan_size", "0"},
		            {"parallel_setup_cost", "10"},
		            {"parallel_tuple_cost", "0"},
		            {"max_parallel_workers_per_gather", "2"}}}};
		auto has = [&](const std::string &guc) {
			return Scalar("SELECT count(*) FROM pg_settings WHERE name = '" + guc + "'") == "1";
		};
		bool duckdb_execution = has("duckpipe.duckdb_execution");
		bool pushdown = has("duckpipe.lake_scan_pushdown");
		if (duckdb_execution) {
			LakeMode row{"row_scan", {{"duckpipe.duckdb_execution", "off"}}};
			if (pushdown) {
				row.settings.push_back({"duckpipe.lake_scan_pushdown", "off"});
				modes_.push_back(
				    {"pushdown_scan", {{"duckpipe.duckdb_execution", "off"}, {"duckpipe.lake_scan_pushdown", "on"}}});
			}
			modes_.push_back(row);
		} else if (pushdown) {
			modes_.push_back({"row_scan", {{"duckpipe.lake_scan_pushdown", "off"}}});
		}
	}

	// The session a query runs in: the same settings on both sides but the search path.
	static void Prepare(PgConnection &conn, const std::string &search_path, const LakeMode *mode) {
		conn.Exec("SET TimeZone = '" + std::string(kTimeZone) + "'");
		conn.Exec("SET search_path = " + search_path);
		conn.Exec("SET statement_timeout = '120s'");
		if (mode) {
			for (const auto &[name, value] : mode->settings) {
				conn.Exec("SET " + name + " = " + value);
			}
		}
	}

	// The path the lake side takes under `mode` (from its plan): the query's declared path where
	// whole-query execution is on, never DuckDB where it is off. A query that leaves DuckDB (or
	// starts running there) fails here, so coverage cannot regress unnoticed.
	// DUCKPIPE_ANALYTICS_PATHS=1 prints each query's path in mode "default".
	void CheckPath(const AnalyticQuery &query, const LakeMode &mode, const std::string &plan) {
		bool duckdb_on = true;
		for (const auto &[name, value] : mode.settings) {
			duckdb_on = duckdb_on && !(name == "duckpipe.duckdb_execution" && value == "off");
		}
		std::string actual = plan.find("DuckDB Query") != std::string::npos ? "duckdb" : "row";
		if (getenv("DUCKPIPE_ANALYTICS_PATHS") && mode.name == "default") {
			std::cerr << "PATH " << query.name << " " << actual << "\n";
		}
		EXPECT_EQ(actual, duckdb_on ? query.path : "row") << query.name << " in mode " << mode.name << "\n" << plan;
	}

	static inline std::string shared_db_;
	static inline std::string setup_error_;
	static inline std::vector<LakeMode> modes_;
};

TEST_P(AnalyticsTest, LakeAnswersAsTheSource) {
	const auto &query = GetParam();
	PgConnection source(Conninfo());
	Prepare(source, "src", nullptr);
	Rows expected = RowsOf(source, query.sql);
	for (const auto &mode : modes_) {
		SCOPED_TRACE("lake mode " + mode.name);
		PgConnection lake(Conninfo());
		Prepare(lake, "lake", &mode);
		std::string plan;
		for (const auto &row : RowsOf(lake, "EXPLAIN (COSTS OFF) " + query.sql)) {
			plan += row.at(0) + "\n";
		}
		CheckPath(query, mode, plan);
		Rows actual;
		try {
			auto started = std::chrono::steady_clock::now();
			actual = RowsOf(lake, query.sql);
			auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
			RecordProperty("ms_" + mode.name, std::to_string(ms.count()));
			if (getenv("DUCKPIPE_ANALYTICS_TIMES")) {
				std::cerr << query.name << " " << mode.name << " " << ms.count() << " ms\n" << plan;
			}
		} catch (const std::exception &e) {
			ADD_FAILURE() << query.name << " failed on the lake: " << e.what() << "\nplan:\n" << plan;
			continue;
		}
		auto difference = ResultDifference(expected, actual, query.ordered);
		EXPECT_EQ(difference, "") << query.name << (query.ordered ? " (ordered)" : " (multiset)") << "\n"
		                          << query.sql << "\nplan on the lake:\n"
		                          << plan;
	}
}

INSTANTIATE_TEST_SUITE_P(Queries, AnalyticsTest, ::testing::ValuesIn(Queries()),
                         [](const ::testing::TestParamInfo<AnalyticQuery> &info) { return info.param.name; });

} // namespace
} // namespace duckpipe::test
