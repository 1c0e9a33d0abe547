// The DuckPipe Lake Scan on a lake filled by the extension's worker: a lake relation joined with a
// heap table reads only the needed columns, pushes its filters into DuckDB and skips the data files
// whose statistics rule them out; parameters (bound by libpq) and rescans (inner side of a nested
// loop) give the source's rows; duckpipe.lake_scan_pushdown = off gives the old scan and the same
// rows; a cancelled scan leaves the backend usable.
#include "core/common/error.hpp"
#include "core/pg/pg_connection.hpp"
#include "harness/daemon_process.hpp"
#include "harness/extension_fixture.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace duckpipe::test {
namespace {

using namespace std::chrono_literals;

// The rows of a result, sorted (a multiset).
ExtensionTest::Rows Sorted(ExtensionTest::Rows rows) {
	std::sort(rows.begin(), rows.end());
	return rows;
}

class LakeScanPushdownTest : public ExtensionTest {
protected:
	LakeScanPushdownTest() : ExtensionTest("ext_push") {}

	// public.orders in three data files (one flush each: ids 1-2000, 2001-4000, 4001-6000) and a
	// heap table public.customers.
	void SetUp() override {
		ExtensionTest::SetUp();
		Sql("CREATE TABLE public.orders (id bigint PRIMARY KEY, customer int, amount numeric(12,2), at timestamptz, "
		    "status text, note text)");
		Sql("CREATE TABLE public.customers (id int, name text)");
		Sql("INSERT INTO public.customers SELECT g, 'customer ' || g FROM generate_series(0, 49) g");
		Fill(1, 2000);
		Sql("SELECT duckpipe.add_table('public.orders')");
		ASSERT_TRUE(WaitSynced(2000));
		Fill(2001, 4000);
		ASSERT_TRUE(WaitSynced(4000));
		Fill(4001, 6000);
		ASSERT_TRUE(WaitSynced(6000));
	}

	void Fill(int first, int last) {
		Sql("INSERT INTO public.orders SELECT g, CASE WHEN g % 9 = 0 THEN NULL ELSE g % 50 END, g * 0.75, "
		    "TIMESTAMPTZ '2024-01-01 00:00+00' + g * INTERVAL '1 hour', (ARRAY['open', 'paid', 'void'])[g % 3 + 1], "
		    "repeat('x', g % 40) FROM generate_series(" +
		    std::to_string(first) + ", " + std::to_string(last) + ") g");
	}

	bool WaitSynced(int rows) {
		return WaitFor(
		    [&] {
			    return Scalar("SELECT (SELECT count(*) FROM public.orders_ducklake) = " + std::to_string(rows) +
			                  " AND NOT EXISTS (SELECT s::text FROM public.orders s EXCEPT ALL SELECT l::text FROM "
			                  "public.orders_ducklake l)") == "t";
		    },
		    90s);
	}

	// The rows of `sql` on the lake relation and on the source (orders_ducklake -> orders), sorted.
	std::pair<Rows, Rows> BothWays(PgConnection &conn, const std::string &sql,
	                               const std::vector<std::optional<std::string>> &params = {}) {
		std::string source = sql;
		source.replace(source.find("orders_ducklake"), 15, "orders");
		auto lake = conn.Exec(sql, params);
		auto heap = conn.Exec(source, params);
		return {Sorted(RowsOf(lake)), Sorted(RowsOf(heap))};
	}

	std::string Plan(PgConnection &conn, const std::string &sql) {
		auto r = conn.Exec("EXPLAIN (COSTS OFF) " + sql);
		std::string out;
		for (int i = 0; i < r.Rows(); i++) {
			out += std::string(r.Get(i, 0)) + "\n";
		}
		return out;
	}

	static constexpr const char *kJoin = "SELECT c.name, o.id, o.amount, o.at, o.status FROM public.customers c JOIN "
	                                     "public.orders_ducklake o ON o.customer = c.id WHERE ";
};

TEST_F(LakeScanPushdownTest, JoinWithAHeapTablePushesFiltersAndPrunesFiles) {
	PgConnection conn(Conninfo());
	const std::vector<std::string> filters = {
	    "o.id > 4500",
	    "o.id BETWEEN 1990 AND 2010",
	    "o.amount < 10 OR o.amount >= 4400.5",
	    "o.at >= TIMESTAMPTZ '2024-05-01 00:00+00' AND o.at < TIMESTAMPTZ '2024-05-03 00:00+00'",
	    "o.status = 'void' AND o.id < 100",
	    "o.status = ANY (ARRAY['open', 'nope']) AND o.customer IS NOT NULL AND o.id % 7 = 0",
	    "o.note IS NULL OR o.id = 3",
	    "NOT (o.customer < 45) AND o.id > 5900",
	};
	for (const auto &filter : filters) {
		auto [lake, source] = BothWays(conn, kJoin + filter);
		EXPECT_EQ(lake, source) << filter;
	}
	auto [some, _] = BothWays(conn, std::string(kJoin) + "o.id > 4500");
	EXPECT_EQ(some.size(), 1334u); // ids 4501-6000 without the 1 in 9 that has no customer

	std::string plan = Plan(conn, std::string(kJoin) + "o.id > 4500 AND o.status = 'paid'");
	EXPECT_NE(plan.find("Custom Scan (DuckPipe Lake Scan) on orders_ducklake o"), std::string::npos) << plan;
	EXPECT_NE(plan.find("Lake Columns: id, customer, amount, at, status\n"), std::string::npos) << plan;
	EXPECT_NE(plan.find("Lake Filter: (\"id\" > 4500) AND (\"status\" = 'paid')"), std::string::npos) << plan;
	EXPECT_NE(plan.find("Lake Files: 1 of 3 (2 pruned by statistics)"), std::string::npos) << plan;
	EXPECT_NE(plan.find("Lake Snapshot: "), std::string::npos) << plan;

	// Off: the access method's scan of every column, the same rows.
	conn.Exec("SET duckpipe.lake_scan_pushdown = off");
	plan = Plan(conn, std::string(kJoin) + "o.id > 4500");
	EXPECT_EQ(plan.find("DuckPipe Lake Scan"), std::string::npos) << plan;
	EXPECT_NE(plan.find("Seq Scan on orders_ducklake o"), std::string::npos) << plan;
	for (const auto &filter : filters) {
		auto [lake, source] = BothWays(conn, kJoin + filter);
		EXPECT_EQ(lake, source) << "pushdown off: " << filter;
	}
}

TEST_F(LakeScanPushdownTest, ParametersAndRescansGiveTheSourcesRows) {
	PgConnection conn(Conninfo());
	// Bound parameters ($1, $2): custom plans first, then (after five runs) the generic plan, whose
	// parameters the scan evaluates when it starts.
	for (int run = 0; run < 8; run++) {
		std::string from = std::to_string(1000 + run * 600);
		auto [lake, source] = BothWays(conn, std::string(kJoin) + "o.id > $1 AND o.status = $2", {from, "paid"});
		EXPECT_EQ(lake, source) << "run " << run;
		EXPECT_FALSE(lake.empty());
	}
	conn.Exec("SET plan_cache_mode = force_generic_plan");
	conn.Exec("PREPARE late(bigint) AS SELECT count(*) FROM public.customers c JOIN public.orders_ducklake o ON "
	          "o.customer = c.id WHERE o.id > $1");
	auto plan = conn.Exec("EXPLAIN (COSTS OFF) EXECUTE late(5000)");
	std::string text;
	for (int i = 0; i < plan.Rows(); i++) {
		text += std::string(plan.Get(i, 0)) + "\n";
	}
	EXPECT_NE(text.find("Lake Filter: \"id\" > 5000"), std::string::npos) << text;
	EXPECT_NE(text.find("Lake Files: 1 of 3 (2 pruned by statistics)"), std::string::npos) << text;
	EXPECT_EQ(conn.Exec("EXECUTE late(5000)").Get(0, 0), "889"); // ids 5001-6000 but the 111 without a customer
	conn.Exec("RESET plan_cache_mode");

	// The lake scan as the inner side of a nested loop: rescanned once per outer row.
	conn.Exec("SET enable_hashjoin = off");
	conn.Exec("SET enable_mergejoin = off");
	conn.Exec("SET enable_material = off");
	const std::string join = "SELECT c.name, o.id, o.amount FROM public.customers c JOIN public.orders_ducklake o ON "
	                         "o.customer = c.id WHERE c.id >= 3 AND c.id <= 3 AND o.id < 3000";
	auto analyzed = conn.Exec("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + join);
	text.clear();
	for (int i = 0; i < analyzed.Rows(); i++) {
		text += std::string(analyzed.Get(i, 0)) + "\n";
	}
	EXPECT_NE(text.find("Nested Loop"), std::string::npos) << text;
	// (A join parameterized by the outer row is costed as a DuckDB query per outer row plus a margin
	// against misestimates: the planner takes it for an outer side of about a row. The rows agree
	// whichever plan it takes.)
	auto [lake, source] = BothWays(conn, join);
	EXPECT_EQ(lake, source);
	EXPECT_GT(lake.size(), 40u);
	// A run-time parameter per outer row (a correlated subquery over the lake): pushed with each
	// customer's id in turn.
	auto correlated = conn.Exec("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT c.id, (SELECT "
	                            "sum(o.amount) FROM public.orders_ducklake o WHERE o.customer = c.id AND o.id > 5000) "
	                            "FROM public.customers c");
	text.clear();
	for (int i = 0; i < correlated.Rows(); i++) {
		text += std::string(correlated.Get(i, 0)) + "\n";
	}
	EXPECT_NE(text.find("Lake Filter: (\"id\" > 5000) AND (\"customer\" = "), std::string::npos) << text;
	EXPECT_NE(text.find("loops=50)"), std::string::npos) << text;
	auto [per_row, per_row_source] = BothWays(
	    conn, "SELECT c.id, (SELECT sum(o.amount) FROM public.orders_ducklake o WHERE o.customer = c.id AND o.id > "
	          "5000) FROM public.customers c");
	EXPECT_EQ(per_row, per_row_source);
}

TEST_F(LakeScanPushdownTest, CancelledScanLeavesTheBackendUsable) {
	PgConnection conn(Conninfo());
	conn.Exec("SET statement_timeout = '500ms'");
	conn.Exec("SET enable_hashjoin = off");
	conn.Exec("SET enable_mergejoin = off");
	// Long enough: every outer row rescans the lake.
	try {
		conn.Exec("SELECT count(*) FROM public.orders a JOIN public.orders_ducklake o ON o.id > a.id % 10 AND "
		          "o.status <> 'x'");
		FAIL() << "the statement was not cancelled";
	} catch (const Error &e) {
		EXPECT_EQ(e.Context().sqlstate, "57014") << e.what();
	}
	conn.Exec("RESET statement_timeout");
	auto [lake, source] = BothWays(conn, std::string(kJoin) + "o.id < 50");
	EXPECT_EQ(lake, source);
	EXPECT_EQ(Cluster().ServerLog().find("terminated by signal"), std::string::npos);
}

} // namespace
} // namespace duckpipe::test
