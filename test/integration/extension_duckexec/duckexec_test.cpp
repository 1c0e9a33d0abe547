// Whole-query execution in DuckDB over tables the background worker syncs: each query runs on the
// lake relations (through the "DuckDB Query" custom scan) and on the source tables, and the rows
// must be equal (in order where the query orders them). Fallbacks (a non-C collation, a lake
// table not created yet) return the source's rows too.
#include "harness/daemon_process.hpp"
#include "harness/extension_fixture.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace duckpipe::test {
namespace {

using namespace std::chrono_literals;

std::string Replace(std::string text, const std::string &from, const std::string &to) {
	for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
		text.replace(at, from.size(), to);
	}
	return text;
}

std::string Show(const ExtensionTest::Rows &rows) {
	std::string out;
	for (size_t i = 0; i < rows.size() && i < 8; i++) {
		out += "\n  ";
		for (const auto &v : rows[i]) {
			out += v + " | ";
		}
	}
	return out + (rows.size() > 8 ? "\n  ..." : "");
}

class DuckExecTest : public ExtensionTest {
protected:
	DuckExecTest() : ExtensionTest("ext_duckexec") {}

	void SetUp() override {
		ExtensionTest::SetUp();
		Sql(R"(
			CREATE TABLE public.orders (id int PRIMARY KEY, customer text COLLATE "C", region varchar(10),
			    total numeric(12,2), qty int, weight float8, placed date, shipped timestamp, at timestamptz,
			    rush bool);
			INSERT INTO public.orders
			SELECT g, 'c' || (g % 17), CASE WHEN g % 9 = 0 THEN NULL ELSE 'r' || (g % 4) END,
			       round((g * 7.31) % 500, 2), CASE WHEN g % 11 = 0 THEN NULL ELSE g % 13 END, (g % 50) * 0.5,
			       date '2023-12-20' + (g % 120), timestamp '2024-01-01' + g * interval '97 minutes',
			       timestamptz '2024-03-30 20:00+00' + g * interval '13 minutes', g % 3 = 0
			FROM generate_series(1, 3000) g;
			CREATE TABLE public.customers (name text COLLATE "C" PRIMARY KEY, segment text, credit numeric(8,2));
			INSERT INTO public.customers SELECT 'c' || g, CASE WHEN g % 2 = 0 THEN 'retail' ELSE 'pro' END, g * 10.5
			FROM generate_series(0, 20) g;
			SELECT duckpipe.add_table('public.orders');
			SELECT duckpipe.add_table('public.customers');
		)");
		ASSERT_TRUE(WaitFor(
		    [&] {
			    return Scalar("SELECT count(*) FROM public.orders_ducklake") == "3000" &&
			           Scalar("SELECT count(*) FROM public.customers_ducklake") == "21";
		    },
		    90s));
	}

	// The error message sql fails with ("" when it succeeds).
	std::string ErrorOf(const std::string &sql) {
		try {
			Sql(sql);
		} catch (const std::exception &e) {
			return e.what();
		}
		return "";
	}

	bool RunsInDuckDB(const std::string &sql, const std::string &prefix = "") {
		auto plan = Sql(prefix + "EXPLAIN " + sql);
		return !plan.empty() && plan[0][0].find("DuckDB Query") != std::string::npos;
	}

	// Runs sql on the lake relations and, with _ducklake removed, on the sources; compares rows.
	void ExpectSame(const std::string &sql, bool ordered = true, const std::string &prefix = "") {
		SCOPED_TRACE(sql);
		EXPECT_TRUE(RunsInDuckDB(sql, prefix)) << "expected the DuckDB Query scan";
		Rows lake = Sql(prefix + sql);
		Rows source = Sql(prefix + Replace(sql, "_ducklake", ""));
		if (!ordered) {
			std::sort(lake.begin(), lake.end());
			std::sort(source.begin(), source.end());
		}
		EXPECT_FALSE(source.empty());
		EXPECT_EQ(lake, source) << "lake:" << Show(lake) << "\nsource:" << Show(source);
	}
};

TEST_F(DuckExecTest, AnalyticalQueriesMatchTheSource) {
	ExpectSame("SELECT region, count(*), sum(total), sum(qty), min(placed), max(at), count(DISTINCT customer) "
	           "FROM orders_ducklake GROUP BY region ORDER BY region");
	ExpectSame("SELECT customer, sum(total * qty) AS revenue FROM orders_ducklake WHERE rush GROUP BY customer "
	           "HAVING sum(total) > 1000 ORDER BY revenue DESC, customer LIMIT 5");
	ExpectSame("SELECT c.segment, count(*), sum(o.total), sum(o.total * 1.08) FROM orders_ducklake o "
	           "JOIN customers_ducklake c ON c.name = o.customer WHERE o.placed >= date '2024-01-15' "
	           "GROUP BY c.segment ORDER BY 1");
	ExpectSame("SELECT id, total, rank() OVER (PARTITION BY region ORDER BY total DESC, id), "
	           "sum(total) OVER (PARTITION BY customer ORDER BY id) FROM orders_ducklake ORDER BY id LIMIT 200");
	ExpectSame("WITH big AS (SELECT customer, sum(total) AS s FROM orders_ducklake GROUP BY customer) "
	           "SELECT b.customer, b.s, c.credit FROM big b JOIN customers_ducklake c ON c.name = b.customer "
	           "WHERE b.s > (SELECT sum(total) * 0.025 FROM orders_ducklake) ORDER BY b.s DESC, 1");
	ExpectSame("SELECT DISTINCT region, rush FROM orders_ducklake", false);
	ExpectSame("SELECT placed - date '2024-01-01', placed + 30, count(*) FROM orders_ducklake GROUP BY 1, 2 "
	           "ORDER BY 1");
	ExpectSame("SELECT extract(month FROM placed), extract(dow FROM shipped), date_trunc('week', shipped), "
	           "count(*) FROM orders_ducklake GROUP BY 1, 2, 3 ORDER BY 3, 1, 2");
	ExpectSame("SELECT region, qty FROM orders_ducklake ORDER BY region DESC, qty, id LIMIT 50");
	ExpectSame("SELECT qty, count(*) FROM orders_ducklake GROUP BY qty ORDER BY qty DESC NULLS LAST");
	ExpectSame("SELECT id, weight / 2, total * 3, coalesce(region, '-') || customer FROM orders_ducklake "
	           "WHERE customer NOT LIKE 'c1%' AND id IN (SELECT id FROM orders_ducklake WHERE qty > 10) ORDER BY id");
}

TEST_F(DuckExecTest, NumericsWiderThanDuckDBFallBack) {
	// DuckDB's DECIMAL stops at 38 digits: a wider cast or constant stays on the row path.
	for (std::string sql : {"SELECT id, total::numeric(50,10) FROM orders_ducklake ORDER BY id LIMIT 5",
	                        "SELECT id, total + 123456789012345678901234567890123456789.5 FROM orders_ducklake "
	                        "ORDER BY id LIMIT 5"}) {
		EXPECT_FALSE(RunsInDuckDB(sql)) << sql;
		EXPECT_EQ(Sql(sql), Sql(Replace(sql, "_ducklake", ""))) << sql;
	}
}

TEST_F(DuckExecTest, TimestamptzInTheSessionTimeZone) {
	// The data crosses the spring DST change in Europe and the one in New York before it.
	for (const char *zone : {"Europe/Berlin", "America/New_York", "Asia/Kolkata"}) {
		std::string prefix = std::string("SET TimeZone = '") + zone + "'; ";
		ExpectSame("SELECT id, at, at::date, date_trunc('day', at), extract(hour FROM at), at + interval '1 day' "
		           "FROM orders_ducklake ORDER BY id LIMIT 400",
		           true, prefix);
		ExpectSame("SELECT at::date, count(*) FROM orders_ducklake WHERE at < timestamptz '2024-04-01 12:00+02' "
		           "GROUP BY 1 ORDER BY 1",
		           true, prefix);
	}
	// A POSIX offset means the opposite sign to DuckDB: the row path.
	std::string sql = "SELECT id, at::date, extract(hour FROM at) FROM orders_ducklake ORDER BY id LIMIT 50";
	for (const char *zone : {"UTC+3", "-05"}) {
		std::string prefix = std::string("SET TimeZone = '") + zone + "'; ";
		EXPECT_FALSE(RunsInDuckDB(sql, prefix)) << zone;
		EXPECT_EQ(Sql(prefix + sql), Sql(prefix + Replace(sql, "_ducklake", ""))) << zone;
	}
}

TEST_F(DuckExecTest, NonCCollationFallsBackToTheRowPath) {
	if (Scalar("SELECT count(*) FROM pg_collation WHERE collname = 'und-x-icu'") == "0") {
		GTEST_SKIP() << "no ICU collation in this server";
	}
	std::string sql = "SELECT customer COLLATE \"und-x-icu\" FROM orders_ducklake WHERE id < 40 ORDER BY 1, id";
	EXPECT_FALSE(RunsInDuckDB(sql));
	EXPECT_EQ(Sql(sql), Sql(Replace(sql, "_ducklake", "")));
	// Under C the same query runs in DuckDB, and COLLATE "C" keeps a query in DuckDB.
	ExpectSame("SELECT customer FROM orders_ducklake WHERE id < 40 ORDER BY 1, id");
	Sql("CREATE TABLE public.names (id int PRIMARY KEY, name text COLLATE \"und-x-icu\"); "
	    "INSERT INTO public.names VALUES (1, 'b'), (2, 'B'), (3, 'a'), (4, 'A'), (5, '_z'); "
	    "SELECT duckpipe.add_table('public.names')");
	ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT count(*) FROM names_ducklake") == "5"; }, 60s));
	EXPECT_FALSE(RunsInDuckDB("SELECT name FROM names_ducklake ORDER BY name"));
	EXPECT_EQ(Sql("SELECT name FROM names_ducklake ORDER BY name"), Sql("SELECT name FROM names ORDER BY name"));
	ExpectSame("SELECT name FROM names_ducklake ORDER BY name COLLATE \"C\"");
	ExpectSame("SELECT max(name COLLATE \"POSIX\"), min(name COLLATE \"C\") FROM names_ducklake");
}

TEST_F(DuckExecTest, LakeTableNotCreatedYetReadsAsEmpty) {
	// A relation whose lake table does not exist (a group whose worker is not running).
	Sql("SELECT duckpipe.create_group('idle'); SELECT duckpipe.disable_group('idle'); "
	    "CREATE TABLE public.later (id int PRIMARY KEY, v numeric(6,1), wide numeric(50,10), free numeric); INSERT "
	    "INTO public.later VALUES (1, 2.5, 1, 1); "
	    "SELECT duckpipe.add_table('public.later', sync_group => 'idle')");
	std::string sql = "SELECT count(*), sum(v) FROM later_ducklake";
	EXPECT_TRUE(RunsInDuckDB(sql));
	EXPECT_EQ(Sql(sql), (Rows{{"0", "<null>"}}));
	std::string join = "SELECT count(*) FROM later_ducklake l JOIN orders_ducklake o ON o.id = l.id";
	EXPECT_TRUE(RunsInDuckDB(join));
	EXPECT_EQ(Scalar(join), "0");
}

TEST_F(DuckExecTest, CursorFetchesInOrder) {
	std::string cursor =
	    "BEGIN; DECLARE c SCROLL CURSOR FOR SELECT id, total FROM orders_ducklake ORDER BY total DESC, id; ";
	Rows first = Sql(cursor + "FETCH 5 FROM c");
	Rows expected = Sql("SELECT id, total FROM orders ORDER BY total DESC, id LIMIT 5");
	EXPECT_EQ(first, expected);
	Rows back = Sql(cursor + "FETCH 5 FROM c; FETCH BACKWARD 3 FROM c");
	EXPECT_EQ(back, (Rows{expected[3], expected[2], expected[1]}));
}

TEST_F(DuckExecTest, PermissionsStayPostgresql) {
	Sql("CREATE ROLE duckexec_nobody");
	std::string sql = "SET ROLE duckexec_nobody; SELECT count(*) FROM orders_ducklake";
	EXPECT_TRUE(RunsInDuckDB("SELECT count(*) FROM orders_ducklake"));
	EXPECT_NE(ErrorOf(sql).find("permission denied for table orders_ducklake"), std::string::npos) << ErrorOf(sql);
	Sql("GRANT SELECT ON orders_ducklake TO duckexec_nobody");
	EXPECT_EQ(Sql(sql), (Rows{{"3000"}}));
	std::string join = "SET ROLE duckexec_nobody; SELECT count(*) FROM orders_ducklake o "
	                   "JOIN customers_ducklake c ON c.name = o.customer";
	EXPECT_NE(ErrorOf(join).find("permission denied for table customers_ducklake"), std::string::npos);
	Sql("REVOKE ALL ON orders_ducklake FROM duckexec_nobody; DROP ROLE duckexec_nobody");
}

TEST_F(DuckExecTest, RowLevelSecurityIsRefused) {
	EXPECT_NE(ErrorOf("ALTER TABLE orders_ducklake ENABLE ROW LEVEL SECURITY")
	              .find("cannot enable row-level security on public.orders_ducklake"),
	          std::string::npos);
	// Had it been set anyway (a catalog edit), the DuckDB path refuses the query.
	Sql("UPDATE pg_class SET relrowsecurity = true WHERE oid = 'orders_ducklake'::regclass");
	std::string error = ErrorOf("SELECT count(*) FROM orders_ducklake");
	EXPECT_NE(error.find("row-level security is enabled on lake relation public.orders_ducklake"), std::string::npos)
	    << error;
	Sql("UPDATE pg_class SET relrowsecurity = false WHERE oid = 'orders_ducklake'::regclass");
	EXPECT_EQ(Scalar("SELECT count(*) FROM orders_ducklake"), "3000");
}

} // namespace
} // namespace duckpipe::test
