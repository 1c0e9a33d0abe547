// avg of integers and numerics, and numeric /, in whole-query DuckDB execution: computed by
// duckpipe.numeric_div with PostgreSQL's scale and rounding, compared row for row (as text) with the
// same query on the source tables; a zero divisor is PostgreSQL's error (22012) on both paths; where
// the text result could be sorted, compared or computed with, the query stays on the row path.
#include "core/common/error.hpp"
#include "core/common/numeric_div.hpp"
#include "harness/daemon_process.hpp"
#include "harness/extension_fixture.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
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

class ExactDivisionTest : public ExtensionTest {
protected:
	ExactDivisionTest() : ExtensionTest("ext_exactdiv") {}

	void SetUp() override {
		ExtensionTest::SetUp();
		Sql(R"(
			CREATE TABLE public.orders (id int PRIMARY KEY, customer text COLLATE "C", total numeric(12,2), qty int,
			    rush bool);
			INSERT INTO public.orders SELECT g, 'c' || (g % 17), round((g * 7.31) % 500, 2),
			       CASE WHEN g % 11 = 0 THEN NULL ELSE g % 13 END, g % 3 = 0
			FROM generate_series(1, 3000) g;
			CREATE TABLE public.nums (id int PRIMARY KEY, big int8, small int2, neg numeric(10,3), one numeric(5,0),
			    den numeric(8,2), zero int);
			INSERT INTO public.nums SELECT g,
			       CASE WHEN g % 5 = 0 THEN -1 ELSE 1 END * (9000000000000000000 - g * 1234567), (g % 300) - 150,
			       -((g * 1.013) % 50), 1, (g % 23) - 11.25, CASE WHEN g = 200 THEN 0 ELSE g END
			FROM generate_series(1, 400) g;
			CREATE TABLE public.nothing (id int PRIMARY KEY, v numeric(6,2), n int);
			SELECT duckpipe.add_table('public.orders');
			SELECT duckpipe.add_table('public.nums');
			SELECT duckpipe.add_table('public.nothing');
		)");
		ASSERT_TRUE(WaitFor(
		    [&] {
			    return Scalar("SELECT count(*) FROM public.orders_ducklake") == "3000" &&
			           Scalar("SELECT count(*) FROM public.nums_ducklake") == "400" &&
			           Scalar("SELECT count(*) FROM duckpipe.status() WHERE state = 'STREAMING'") == "3";
		    },
		    90s));
	}

	bool RunsInDuckDB(const std::string &sql) {
		auto plan = Sql("EXPLAIN " + sql);
		return !plan.empty() && plan[0][0].find("DuckDB Query") != std::string::npos;
	}

	// The SQLSTATE sql fails with ("" when it succeeds).
	std::string SqlStateOf(const std::string &sql) {
		try {
			Sql(sql);
		} catch (const Error &e) {
			return e.Context().sqlstate.empty() ? e.Message() : e.Context().sqlstate;
		}
		return "";
	}

	// sql runs in DuckDB (not the fallback) and returns the source's rows, as text, in its order.
	void ExpectSame(const std::string &sql) {
		SCOPED_TRACE(sql);
		EXPECT_TRUE(RunsInDuckDB(sql)) << "expected the DuckDB Query scan";
		Rows lake = Sql(sql);
		Rows source = Sql(Replace(sql, "_ducklake", ""));
		EXPECT_FALSE(source.empty());
		EXPECT_EQ(lake, source);
	}

	void ExpectFallback(const std::string &sql) {
		SCOPED_TRACE(sql);
		EXPECT_FALSE(RunsInDuckDB(sql));
		EXPECT_EQ(Sql(sql), Sql(Replace(sql, "_ducklake", "")));
	}
};

TEST_F(ExactDivisionTest, AvgMatchesPostgreSQL) {
	// The bench's aggregate scan.
	ExpectSame("SELECT customer, count(*), sum(total), avg(total) FROM orders_ducklake GROUP BY customer "
	           "ORDER BY customer");
	ExpectSame("SELECT customer, avg(qty), avg(DISTINCT qty), avg(total) FILTER (WHERE rush), avg(id) "
	           "FROM orders_ducklake GROUP BY customer ORDER BY customer");
	// int8 sums past 64 bits, negative values, int2, a whole-number numeric.
	ExpectSame("SELECT id % 7, avg(big), avg(small), avg(neg), avg(one), avg(den), count(*) FROM nums_ducklake "
	           "GROUP BY id % 7 ORDER BY 1");
	ExpectSame("SELECT avg(big), avg(DISTINCT small), avg(neg) FILTER (WHERE id > 100), avg(-big) FROM nums_ducklake");
	// No rows: NULL, in a group and in a table never written to.
	ExpectSame("SELECT avg(big), avg(neg), avg(small), count(*) FROM nums_ducklake WHERE id < 0");
	ExpectSame("SELECT avg(v), avg(n), count(*) FROM nothing_ducklake");
	EXPECT_EQ(Sql("SELECT avg(v), avg(n) FROM nothing_ducklake"), (Rows{{"<null>", "<null>"}}));
}

TEST_F(ExactDivisionTest, NumericDivisionMatchesPostgreSQL) {
	ExpectSame("SELECT customer, sum(total) / sum(qty), sum(total) / count(*) FROM orders_ducklake GROUP BY customer "
	           "ORDER BY customer");
	ExpectSame("SELECT 100.00 * sum(CASE WHEN rush THEN total * qty ELSE 0 END) / sum(total * qty) "
	           "FROM orders_ducklake"); // TPC-H q14's shape
	ExpectSame("SELECT sum(neg) / sum(den), sum(big) / count(*), sum(neg) / 3 FROM nums_ducklake");
	// Per row, with many digits: 1/3, 2/3, 10/7, 1e20/3, negatives, integers over numerics.
	ExpectSame("SELECT id, neg / den, one / 3, 2 * one / 3, 10 * one / 7, 1e20 * one / 3, big / den, neg / 7, "
	           "small / den, -one / 3 FROM nums_ducklake ORDER BY id");
	ExpectSame("SELECT id, total / qty, qty / 3.0 FROM orders_ducklake WHERE qty <> 0 ORDER BY id");
	// LIMIT with a divisor that cannot be zero stays in DuckDB.
	ExpectSame("SELECT id, total / 4 FROM orders_ducklake ORDER BY id LIMIT 5");
}

TEST_F(ExactDivisionTest, DivisionByZeroIsPostgreSQLsError) {
	for (std::string sql : {"SELECT id, neg / zero FROM nums_ducklake ORDER BY id",
	                        "SELECT sum(neg) / sum(zero) FROM nums_ducklake WHERE id = 200"}) {
		EXPECT_TRUE(RunsInDuckDB(sql)) << sql;
		EXPECT_EQ(SqlStateOf(sql), "22012") << sql;
		EXPECT_EQ(SqlStateOf(Replace(sql, "_ducklake", "")), "22012") << sql;
	}
	// The same query without the zero row divides.
	ExpectSame("SELECT id, neg / zero FROM nums_ducklake WHERE id <> 200 ORDER BY id");
}

TEST_F(ExactDivisionTest, TextResultsThatWouldBeComparedFallBack) {
	ExpectFallback("SELECT customer, avg(total) FROM orders_ducklake GROUP BY customer ORDER BY avg(total), customer");
	ExpectFallback("SELECT customer FROM orders_ducklake GROUP BY customer HAVING avg(total) IS NOT NULL ORDER BY 1");
	ExpectFallback("SELECT avg(total) + 1, round(avg(total), 2) FROM orders_ducklake");
	ExpectFallback(
	    "SELECT customer, a FROM (SELECT customer, avg(total) AS a FROM orders_ducklake GROUP BY customer) s "
	    "WHERE a > 250 ORDER BY customer");
	ExpectFallback("SELECT DISTINCT avg(total) FROM orders_ducklake GROUP BY customer ORDER BY 1");
	// A product of two avgs (or of an avg by a factor of many decimals) would need more than DuckDB's
	// 38 digits of scale.
	ExpectFallback("SELECT customer FROM orders_ducklake GROUP BY customer HAVING avg(qty) * avg(total) > 1000 "
	               "ORDER BY 1");
	ExpectFallback("SELECT customer FROM orders_ducklake GROUP BY customer HAVING avg(total) * 1.000000001 > 250 "
	               "ORDER BY 1");
	ExpectFallback("SELECT count(*) FROM (SELECT customer, avg(total) AS a, avg(qty) AS b FROM orders_ducklake "
	               "GROUP BY customer) s WHERE a * b > 1000");
	ExpectFallback("SELECT id, avg(total) OVER (PARTITION BY customer) AS a FROM orders_ducklake ORDER BY a, id");
	// A LIMIT stops PostgreSQL before rows DuckDB divides anyway: a zero there would fail only in DuckDB.
	// (Which five rows is the scan's order: only their number is compared.)
	std::string limited = "SELECT id, neg / zero FROM nums_ducklake WHERE id >= 190 LIMIT 5";
	EXPECT_FALSE(RunsInDuckDB(limited));
	EXPECT_EQ(Sql(limited).size(), 5u);
	EXPECT_EQ(Sql(Replace(limited, "_ducklake", "")).size(), 5u);
}

TEST_F(ExactDivisionTest, WindowAvgMatchesPostgreSQL) {
	ExpectSame("SELECT id, avg(total) OVER (PARTITION BY customer), avg(qty) OVER (ORDER BY id ROWS 3 PRECEDING) "
	           "FROM orders_ducklake ORDER BY id");
	// int8 sums past 64 bits, int2, and frames past the partition's end (NULL).
	ExpectSame("SELECT id, avg(big) OVER (PARTITION BY id % 7), avg(small) OVER (PARTITION BY id % 3 ORDER BY id "
	           "ROWS BETWEEN 1 FOLLOWING AND 2 FOLLOWING), avg(neg) FILTER (WHERE id > 100) OVER () "
	           "FROM nums_ducklake ORDER BY id");
}

// An avg only compared: an exact DECIMAL of PostgreSQL's quotient in DuckDB.
TEST_F(ExactDivisionTest, ComparedAvgMatchesPostgreSQL) {
	ExpectSame("SELECT customer FROM orders_ducklake GROUP BY customer HAVING avg(total) > 250 ORDER BY 1");
	ExpectSame("SELECT customer, count(*) FROM orders_ducklake GROUP BY customer "
	           "HAVING avg(qty) * 2 >= 12 AND avg(DISTINCT qty) - 6 = 0 ORDER BY 1");
	ExpectSame("SELECT id FROM nums_ducklake WHERE neg < (SELECT avg(neg) FROM nums_ducklake) "
	           "AND small > (SELECT avg(small) FROM nums_ducklake WHERE id < 100) ORDER BY id");
	ExpectSame("SELECT count(*) FROM (SELECT customer, avg(total) AS a FROM orders_ducklake GROUP BY customer) s "
	           "WHERE a > 250 AND a * 0.5 < 200 AND 2 * a - 1 <> 0 AND a * 1.00000001 < 1000");
	ExpectSame("SELECT customer FROM orders_ducklake GROUP BY customer HAVING avg(total) * 1.00000001 > 250 "
	           "ORDER BY 1");
	// The avg of ones is 1.00000000000000000000 in PostgreSQL: more decimals than DuckDB keeps, all zeros.
	ExpectSame("SELECT id FROM nums_ducklake WHERE one = (SELECT avg(one) FROM nums_ducklake) AND id < 5 ORDER BY id");
	// A quotient of 19 integer digits (and 20 decimals) does not fit DuckDB's DECIMAL(38, 20): an
	// error there, never another answer.
	std::string big = "SELECT count(*) FROM nums_ducklake WHERE big > (SELECT avg(big) FROM nums_ducklake "
	                  "WHERE id % 5 <> 0)";
	EXPECT_TRUE(RunsInDuckDB(big));
	EXPECT_NE(SqlStateOf(big), "");
	EXPECT_EQ(SqlStateOf(Replace(big, "_ducklake", "")), "");
}

TEST_F(ExactDivisionTest, AnExtensionWithoutNumericDivFallsBack) {
	// A database whose extension predates duckpipe.numeric_div (until ALTER EXTENSION ... UPDATE).
	Sql("ALTER EXTENSION pg_duckpipe DROP FUNCTION duckpipe.numeric_div(numeric, numeric); "
	    "DROP FUNCTION duckpipe.numeric_div(numeric, numeric)");
	ExpectFallback("SELECT customer, count(*), sum(total), avg(total) FROM orders_ducklake GROUP BY customer "
	               "ORDER BY customer");
	ExpectFallback("SELECT id, neg / den FROM nums_ducklake ORDER BY id");
}

// NumericDiv (what DuckDB runs) against the server's numeric_div on random operands of every shape.
TEST_F(ExactDivisionTest, NumericDivMatchesTheServerOnRandomOperands) {
	std::mt19937_64 random(20261130);
	auto number = [&] {
		std::string digits(1 + random() % 40, '0');
		for (auto &d : digits) {
			d = static_cast<char>('0' + random() % 10);
		}
		size_t scale = random() % std::min<size_t>(digits.size() + 3, 20);
		if (scale > digits.size()) {
			digits.insert(0, scale - digits.size(), '0');
		}
		std::string text = digits.substr(0, digits.size() - scale);
		text = (text.empty() ? "0" : text) + (scale ? "." + digits.substr(digits.size() - scale) : "");
		return (random() % 3 == 0 ? "-" : "") + text;
	};
	std::vector<std::pair<std::string, std::string>> pairs;
	std::string values;
	while (pairs.size() < 600) {
		std::string a = number();
		std::string b = number();
		if (b.find_first_not_of("-0.") == std::string::npos) {
			continue;
		}
		values += (values.empty() ? "(" : ", (") + std::to_string(pairs.size()) + ", '" + a + "', '" + b + "')";
		pairs.emplace_back(a, b);
	}
	Rows server = Sql("SELECT (a::numeric / b::numeric)::text FROM (VALUES " + values + ") v(n, a, b) ORDER BY n");
	ASSERT_EQ(server.size(), pairs.size());
	for (size_t i = 0; i < pairs.size(); i++) {
		std::string ours;
		ASSERT_EQ(NumericDiv::Divide(pairs[i].first, pairs[i].second, ours), NumericDiv::Status::Ok);
		EXPECT_EQ(ours, server[i][0]) << pairs[i].first << " / " << pairs[i].second;
	}
}

} // namespace
} // namespace duckpipe::test
