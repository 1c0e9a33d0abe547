// duckpipe.numeric_div in DuckDB: the macro casts DuckDB's exact types (DECIMAL with its scale, the
// HUGEINT of a sum of integers, BIGINT counts) to text and divides as PostgreSQL does; NULLs give
// NULL; a zero divisor is an error the extension recognises.
#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "core/duck/duck_numeric_div.hpp"

#include <gtest/gtest.h>

namespace duckpipe {

TEST(DuckNumericDiv, DividesDuckDBsExactTypesAsPostgreSQLDoes) {
	DuckDatabase db("", {{"threads", "2"}});
	auto duck = db.Connect();
	DuckNumericDiv::Register(*duck);
	auto r = duck->Query("SELECT duckpipe.numeric_div(CAST(12.30 AS DECIMAL(12,2)), CAST(4 AS BIGINT)), "
	                     "duckpipe.numeric_div(CAST(-0.50 AS DECIMAL(4,2)), CAST(3 AS HUGEINT)), "
	                     "duckpipe.numeric_div(sum(CAST(i AS INTEGER)), count(i)), "
	                     "duckpipe.numeric_div(NULL, 3), duckpipe.numeric_div(CAST(1 AS DECIMAL(3,0)), NULL) "
	                     "FROM range(1, 11) t(i)");
	EXPECT_EQ(r.GetString(0, 0), "3.0750000000000000");
	EXPECT_EQ(r.GetString(1, 0), "-0.16666666666666666667");
	EXPECT_EQ(r.GetString(2, 0), "5.5000000000000000"); // PostgreSQL's avg of 1..10
	EXPECT_TRUE(r.IsNull(3, 0));
	EXPECT_TRUE(r.IsNull(4, 0));
	// Row by row over more than one vector, NULLs and values mixed.
	auto rows = duck->Query("SELECT count(*), count(q), max(q) FILTER (WHERE i = 1), max(q) FILTER (WHERE i = 10), "
	                        "max(q) FILTER (WHERE i = 5000) FROM (SELECT i, duckpipe.numeric_div(CASE WHEN i % 3 = 0 "
	                        "THEN NULL ELSE CAST(i AS DECIMAL(10,1)) END, 7) AS q FROM range(1, 5001) t(i))");
	EXPECT_EQ(rows.GetString(0, 0), "5000");
	EXPECT_EQ(rows.GetString(1, 0), "3334");
	EXPECT_EQ(rows.GetString(2, 0), "0.14285714285714285714");
	EXPECT_EQ(rows.GetString(3, 0), "1.4285714285714286");
	EXPECT_EQ(rows.GetString(4, 0), "714.2857142857142857");
	try {
		duck->Query("SELECT duckpipe.numeric_div(CAST(i AS DECIMAL(5,2)), i - 3) FROM range(1, 5) t(i)");
		FAIL() << "a zero divisor must fail";
	} catch (const Error &e) {
		EXPECT_TRUE(DuckNumericDiv::IsDivisionByZero(e.Message())) << e.Message();
	}
	EXPECT_FALSE(DuckNumericDiv::IsDivisionByZero("Invalid Input Error: something else"));
}

} // namespace duckpipe
