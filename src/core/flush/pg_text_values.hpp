#pragma once

#include <cstdint>
#include <string_view>

namespace duckpipe::flush {

// PostgreSQL's text output of a few types parsed in C++, for the change buffer's typed appends.
// Each accepts only the canonical form PostgreSQL prints (DateStyle=ISO, any TimeZone offset) and
// returns false for anything else (BC dates, years past 9999, infinity, a value some other way
// spelled): the caller then converts the value with its DuckDB SQL expression instead, so a value
// parsed here is always the one that expression gives.
namespace pg_text {

bool ParseInt64(std::string_view text, int64_t &out);
bool ParseInt32(std::string_view text, int32_t &out);
bool ParseInt16(std::string_view text, int16_t &out);
bool ParseBool(std::string_view text, bool &out); // "t" / "f"
// "YYYY-MM-DD" -> days since 1970-01-01.
bool ParseDate(std::string_view text, int32_t &days);
// "YYYY-MM-DD HH:MM:SS[.ffffff]" -> microseconds since 1970-01-01 00:00:00.
bool ParseTimestamp(std::string_view text, int64_t &micros);
// ParseTimestamp's form followed by the offset PostgreSQL prints ("+00", "-03:30"): microseconds
// since the Unix epoch, UTC.
bool ParseTimestampTz(std::string_view text, int64_t &micros);
// Well-formed UTF-8 (what DuckDB requires of a VARCHAR).
bool ValidUtf8(std::string_view text);

} // namespace pg_text
} // namespace duckpipe::flush
