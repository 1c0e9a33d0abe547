// NumericDiv against the digits PostgreSQL 15 prints for the same division (`SELECT 'a'::numeric /
// 'b'::numeric` in psql); test/integration/extension_duckexec compares random pairs with a live
// server too.
#include "core/common/numeric_div.hpp"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

namespace duckpipe {

namespace {

std::string Div(const std::string &a, const std::string &b) {
	std::string out;
	EXPECT_EQ(NumericDiv::Divide(a, b, out), NumericDiv::Status::Ok) << a << " / " << b;
	return out;
}

} // namespace

TEST(NumericDiv, MatchesPostgreSQLDigitForDigit) {
	// a, b, what PostgreSQL 15.20 printed for a::numeric / b::numeric.
	const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
	    {"1", "3", "0.33333333333333333333"},
	    {"2", "3", "0.66666666666666666667"},
	    {"10", "7", "1.4285714285714286"},
	    {"100000000000000000000", "3", "33333333333333333333"},
	    {"-1", "3", "-0.33333333333333333333"},
	    {"1", "-3", "-0.33333333333333333333"},
	    {"-1", "-3", "0.33333333333333333333"},
	    {"0", "5", "0.00000000000000000000"},
	    {"0", "-5", "0.00000000000000000000"},
	    {"0.00", "-7", "0.00000000000000000000"},
	    {"-0.001", "1000000000000000000000000000000", "-0.0000000000000000000000000000000010000000000000000000"},
	    {"5", "2", "2.5000000000000000"},
	    {"-5", "2", "-2.5000000000000000"},
	    {"2.5", "2", "1.25000000000000000000"},
	    {"1", "7", "0.14285714285714285714"},
	    {"123456789.12", "1000", "123456.789120000000"},
	    {"12.30", "4", "3.0750000000000000"},
	    {"-12.30", "4", "-3.0750000000000000"},
	    {"0.05", "3", "0.01666666666666666667"},
	    {"0.0001", "3", "0.000033333333333333333333"},
	    {"0.00001", "3", "0.000003333333333333333333"},
	    {"1", "0.0003", "3333.3333333333333333"},
	    {"99999999999999999999999999999999999999", "7", "14285714285714285714285714285714285714"},
	    {"12345678901234567890123456789.0123456789", "0.000000003", "4115226300411522630041152263004115226.3000000000"},
	    {"1.000000000000000000000000000001", "3", "0.333333333333333333333333333334"},
	    {"7", "7", "1.00000000000000000000"},
	    {"9999", "9999", "1.00000000000000000000"},
	    {"10000", "9999", "1.0001000100010001"},
	    {"9999", "10000", "0.99990000000000000000"},
	    {"1", "1000000000000000000000000000000000000000", "0.00000000000000000000000000000000000000100000000000000000"},
	    {"123.456", "0.001", "123456.000000000000"},
	    {"-0.5", "1", "-0.50000000000000000000"},
	    {"0.5", "1", "0.50000000000000000000"},
	    {"1.5", "1", "1.50000000000000000000"},
	    {"1", "2", "0.50000000000000000000"},
	    {"-1", "2", "-0.50000000000000000000"},
	    {"3", "2", "1.5000000000000000"},
	    {"-2", "3", "-0.66666666666666666667"},
	    {"+4", "8", "0.50000000000000000000"},
	    {".5", "3", "0.16666666666666666667"},
	    {"1234567890123456789012345678901234567890", "0.0000000007",
	     "1763668414462081127160493827001763668414285714285.7142857143"},
	    {"170141183460469231731687303715884105727", "3", "56713727820156410577229101238628035242"},
	    {"3", "170141183460469231731687303715884105727", "0.00000000000000000000000000000000000001763241526233431262"},
	};
	for (const auto &[a, b, expected] : cases) {
		EXPECT_EQ(Div(a, b), expected) << a << " / " << b;
	}
}

TEST(NumericDiv, ResultScaleIsSelectDivScale) {
	EXPECT_EQ(NumericDiv::ResultScale("1", "3"), 20);
	EXPECT_EQ(NumericDiv::ResultScale("10", "7"), 16);
	EXPECT_EQ(NumericDiv::ResultScale("123456789.12", "1000"), 12);
	EXPECT_EQ(NumericDiv::ResultScale("1.0000000000000000000000", "3"), 22); // the dividend's scale wins
	EXPECT_EQ(NumericDiv::ResultScale("x", "3"), std::nullopt);
}

TEST(NumericDiv, DivisionByZeroAndBadInput) {
	std::string out = "untouched";
	EXPECT_EQ(NumericDiv::Divide("1", "0", out), NumericDiv::Status::DivisionByZero);
	EXPECT_EQ(NumericDiv::Divide("0", "0.000", out), NumericDiv::Status::DivisionByZero);
	EXPECT_EQ(NumericDiv::Divide("-5", "-0", out), NumericDiv::Status::DivisionByZero);
	for (const char *bad : {"", "-", ".", "1e5", "NaN", "1.2.3", " 1", "0x10", "Infinity"}) {
		EXPECT_EQ(NumericDiv::Divide(bad, "3", out), NumericDiv::Status::InvalidInput) << bad;
		EXPECT_EQ(NumericDiv::Divide("3", bad, out), NumericDiv::Status::InvalidInput) << bad;
	}
	EXPECT_EQ(out, "untouched");
}

TEST(NumericDiv, TheLongDivisionAgreesWithTheFastPath) {
	// Numerators past 38 digits take the long division: its digits must continue the fast path's.
	EXPECT_EQ(Div("1", "7"), "0.14285714285714285714");
	EXPECT_EQ(Div("1.000000000000000000000000000000", "7"), "0.142857142857142857142857142857");
	EXPECT_EQ(Div("100000000000000000000000000000000000000", "7"), "14285714285714285714285714285714285714");
	std::string many(1000, '9');
	std::string q = Div("1", "3." + many); // scale 1000, the most PostgreSQL gives
	EXPECT_EQ(q.size(), 1002u);
	EXPECT_EQ(q.substr(0, 12), "0.2500000000");
}

} // namespace duckpipe
