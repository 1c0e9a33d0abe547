#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "core/flush/pg_text_values.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace duckpipe::flush::pg_text {
namespace {

// The value DuckDB's own cast gives, as an integer (what the typed appends must equal).
int64_t DuckValue(DuckConnection &conn, const std::string &expr) {
	auto r = conn.Query("SELECT CAST(" + expr + " AS BIGINT)");
	return r.GetInt(0, 0);
}

class PgTextValuesTest : public ::testing::Test {
protected:
	DuckDatabase db_{"", {}};
	std::unique_ptr<DuckConnection> conn_ = db_.Connect();
};

TEST_F(PgTextValuesTest, IntegersAsDuckDbCastsThem) {
	for (std::string v : {"0", "-1", "42", "9223372036854775807", "-9223372036854775808", "2147483647", "-32768"}) {
		int64_t got = 0;
		ASSERT_TRUE(ParseInt64(v, got)) << v;
		EXPECT_EQ(got, DuckValue(*conn_, "CAST('" + v + "' AS BIGINT)")) << v;
	}
	int32_t i32 = 0;
	int16_t i16 = 0;
	int64_t i64 = 0;
	EXPECT_TRUE(ParseInt32("-2147483648", i32));
	EXPECT_EQ(i32, -2147483648LL);
	EXPECT_FALSE(ParseInt32("2147483648", i32));
	EXPECT_TRUE(ParseInt16("32767", i16));
	EXPECT_FALSE(ParseInt16("32768", i16));
	// Not PostgreSQL's output: left to the SQL cast.
	for (std::string v : {"", "-", "+1", " 1", "1 ", "1.0", "9223372036854775808", "12345678901234567890", "0x1"}) {
		EXPECT_FALSE(ParseInt64(v, i64)) << v;
	}
}

TEST_F(PgTextValuesTest, BooleansDatesAndTimestampsAsDuckDbCastsThem) {
	bool b = false;
	EXPECT_TRUE(ParseBool("t", b) && b);
	EXPECT_TRUE(ParseBool("f", b) && !b);
	EXPECT_FALSE(ParseBool("true", b));

	for (std::string v : {"1970-01-01", "2000-02-29", "1900-03-01", "0001-01-01", "9999-12-31", "2026-12-01"}) {
		int32_t days = 0;
		ASSERT_TRUE(ParseDate(v, days)) << v;
		EXPECT_EQ(days, DuckValue(*conn_, "date_diff('day', DATE '1970-01-01', CAST('" + v + "' AS DATE))")) << v;
	}
	int32_t days = 0;
	for (std::string v : {"2001-02-29", "2000-13-01", "2000-00-10", "10000-01-01", "0001-01-01 BC", "infinity",
	                      "2000-1-01", "0000-01-01"}) {
		EXPECT_FALSE(ParseDate(v, days)) << v;
	}

	for (std::string v : {"1970-01-01 00:00:00", "2026-12-01 02:55:49.98019", "1899-12-31 23:59:59.999999",
	                      "2000-02-29 12:00:00.5", "0001-01-01 00:00:00", "9999-12-31 23:59:59.000001"}) {
		int64_t us = 0;
		ASSERT_TRUE(ParseTimestamp(v, us)) << v;
		EXPECT_EQ(us, DuckValue(*conn_, "epoch_us(CAST('" + v + "' AS TIMESTAMP))")) << v;
	}
	for (std::string v : {"2026-12-01 02:55:49.98019+00", "1970-01-01 00:00:00+00", "2000-06-01 10:00:00-03:30",
	                      "2000-06-01 10:00:00.123+05:45", "1950-01-01 00:00:00-08"}) {
		int64_t us = 0;
		ASSERT_TRUE(ParseTimestampTz(v, us)) << v;
		EXPECT_EQ(us, DuckValue(*conn_, "epoch_us(CAST('" + v + "' AS TIMESTAMPTZ))")) << v;
	}
	int64_t us = 0;
	for (std::string v : {"2026-12-01 02:55:49", "2026-12-01 02:55:49.1234567+00", "2026-12-01 24:00:00+00",
	                      "2026-12-01 02:55:49+00 BC", "infinity", "-infinity", "2026-12-01 02:55:49.+00",
	                      "1850-01-01 00:00:00+00:53:28", "2026-12-01T02:55:49+00"}) {
		EXPECT_FALSE(ParseTimestampTz(v, us)) << v;
	}
	EXPECT_FALSE(ParseTimestamp("2026-12-01 02:55:49+00", us));
}

TEST_F(PgTextValuesTest, Utf8) {
	EXPECT_TRUE(ValidUtf8(""));
	EXPECT_TRUE(ValidUtf8("plain ascii text that is longer than eight bytes"));
	EXPECT_TRUE(ValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 and more ascii after it"));
	EXPECT_FALSE(ValidUtf8("bad \xff byte"));
	EXPECT_FALSE(ValidUtf8("overlong \xc0\xaf"));
	EXPECT_FALSE(ValidUtf8("surrogate \xed\xa0\x80"));
	EXPECT_FALSE(ValidUtf8("truncated \xe2\x82"));
	EXPECT_FALSE(ValidUtf8("past U+10FFFF \xf4\x90\x80\x80"));
}

} // namespace
} // namespace duckpipe::flush::pg_text
