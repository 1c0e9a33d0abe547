// DuckConnection's interrupt check: statements run through the pending API, the check runs between
// DuckDB's tasks, and an exception it throws interrupts the statement promptly and reaches the
// caller unchanged; the connection goes on afterwards.
#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>

namespace duckpipe {

namespace {

struct Cancelled : std::runtime_error {
	Cancelled() : std::runtime_error("cancelled by the host") {}
};

} // namespace

TEST(DuckInterruptCheck, AThrowingCheckInterruptsALongQueryAndTheConnectionGoesOn) {
	DuckDatabase db("", {{"threads", "2"}});
	auto duck = db.Connect();
	int checks = 0;
	auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
	duck->SetInterruptCheck([&] {
		checks++;
		if (std::chrono::steady_clock::now() > deadline) {
			throw Cancelled();
		}
	});
	auto start = std::chrono::steady_clock::now();
	// 10^13 rows to count: hours without the check.
	EXPECT_THROW(duck->Query("SELECT count(*) FROM range(100000) a, range(100000) b, range(1000) c"), Cancelled);
	EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
	EXPECT_GT(checks, 1);
	// The same connection runs the next statements (several in one call; the last one's result).
	deadline = std::chrono::steady_clock::time_point::max();
	auto r = duck->Query("CREATE TABLE t AS SELECT range AS i FROM range(10); SELECT sum(i) FROM t");
	EXPECT_EQ(r.GetInt(0, 0), 45);
	// DuckDB's own errors still name the SQL.
	try {
		duck->Query("SELECT * FROM nowhere");
		ADD_FAILURE() << "no error";
	} catch (const Error &e) {
		EXPECT_NE(e.Message().find("nowhere"), std::string::npos) << e.Message();
		EXPECT_EQ(e.Context().statement, "SELECT * FROM nowhere");
	}
}

} // namespace duckpipe
