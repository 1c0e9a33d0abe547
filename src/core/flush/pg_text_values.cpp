#include "core/flush/pg_text_values.hpp"

#include <cstring>
#include <limits>

namespace duckpipe::flush::pg_text {

namespace {

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kMicrosPerDay = 86400LL * kMicrosPerSecond;

bool Digit(char c) {
	return c >= '0' && c <= '9';
}

// Exactly `n` digits at `pos`.
bool Digits(std::string_view s, size_t pos, size_t n, int &out) {
	if (pos + n > s.size()) {
		return false;
	}
	int v = 0;
	for (size_t i = pos; i < pos + n; i++) {
		if (!Digit(s[i])) {
			return false;
		}
		v = v * 10 + (s[i] - '0');
	}
	out = v;
	return true;
}

bool LeapYear(int y) {
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, int m, int d) {
	y -= m <= 2 ? 1 : 0;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	auto yoe = static_cast<int64_t>(y - era * 400);
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

// "YYYY-MM-DD" at the start of s (4-digit years: PostgreSQL prints 5 and more for years past 9999).
bool DatePart(std::string_view s, int64_t &days) {
	int y = 0, m = 0, d = 0;
	if (s.size() < 10 || s[4] != '-' || s[7] != '-' || !Digits(s, 0, 4, y) || !Digits(s, 5, 2, m) ||
	    !Digits(s, 8, 2, d)) {
		return false;
	}
	static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > kDays[m - 1] + (m == 2 && LeapYear(y) ? 1 : 0)) {
		return false;
	}
	days = DaysFromCivil(y, m, d);
	return true;
}

// "YYYY-MM-DD HH:MM:SS[.f{1,6}]" at the start of s; `end` is where it stops.
bool TimestampPart(std::string_view s, int64_t &micros, size_t &end) {
	int64_t days = 0;
	int h = 0, mi = 0, sec = 0;
	if (!DatePart(s, days) || s.size() < 19 || s[10] != ' ' || s[13] != ':' || s[16] != ':' || !Digits(s, 11, 2, h) ||
	    !Digits(s, 14, 2, mi) || !Digits(s, 17, 2, sec) || h > 23 || mi > 59 || sec > 59) {
		return false;
	}
	int64_t frac = 0;
	size_t pos = 19;
	if (pos < s.size() && s[pos] == '.') {
		pos++;
		size_t digits = 0;
		while (pos < s.size() && Digit(s[pos]) && digits < 6) {
			frac = frac * 10 + (s[pos] - '0');
			pos++;
			digits++;
		}
		if (digits == 0 || (pos < s.size() && Digit(s[pos]))) {
			return false;
		}
		for (; digits < 6; digits++) {
			frac *= 10;
		}
	}
	micros = days * kMicrosPerDay + ((h * 60LL + mi) * 60LL + sec) * kMicrosPerSecond + frac;
	end = pos;
	return true;
}

} // namespace

bool ParseInt64(std::string_view s, int64_t &out) {
	bool negative = !s.empty() && s[0] == '-';
	size_t i = negative ? 1 : 0;
	if (i == s.size() || s.size() - i > 19) {
		return false;
	}
	uint64_t v = 0;
	for (; i < s.size(); i++) {
		if (!Digit(s[i])) {
			return false;
		}
		v = v * 10 + static_cast<uint64_t>(s[i] - '0');
	}
	constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
	if (negative) {
		if (v > kMax + 1) {
			return false;
		}
		out = v == kMax + 1 ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(v);
		return true;
	}
	if (v > kMax) {
		return false;
	}
	out = static_cast<int64_t>(v);
	return true;
}

bool ParseInt32(std::string_view s, int32_t &out) {
	int64_t v = 0;
	if (!ParseInt64(s, v) || v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
		return false;
	}
	out = static_cast<int32_t>(v);
	return true;
}

bool ParseInt16(std::string_view s, int16_t &out) {
	int64_t v = 0;
	if (!ParseInt64(s, v) || v < std::numeric_limits<int16_t>::min() || v > std::numeric_limits<int16_t>::max()) {
		return false;
	}
	out = static_cast<int16_t>(v);
	return true;
}

bool ParseBool(std::string_view s, bool &out) {
	if (s == "t" || s == "f") {
		out = s[0] == 't';
		return true;
	}
	return false;
}

bool ParseDate(std::string_view s, int32_t &days) {
	int64_t d = 0;
	if (s.size() != 10 || !DatePart(s, d)) {
		return false;
	}
	days = static_cast<int32_t>(d);
	return true;
}

bool ParseTimestamp(std::string_view s, int64_t &micros) {
	size_t end = 0;
	return TimestampPart(s, micros, end) && end == s.size();
}

bool ParseTimestampTz(std::string_view s, int64_t &micros) {
	size_t pos = 0;
	int64_t local = 0;
	if (!TimestampPart(s, local, pos) || pos >= s.size() || (s[pos] != '+' && s[pos] != '-')) {
		return false;
	}
	int sign = s[pos] == '-' ? -1 : 1;
	pos++;
	int h = 0, m = 0;
	if (!Digits(s, pos, 2, h)) {
		return false;
	}
	pos += 2;
	if (pos < s.size()) {
		if (s[pos] != ':' || !Digits(s, pos + 1, 2, m)) {
			return false;
		}
		pos += 3;
	}
	// An offset with seconds (local mean time before 1900) is left to DuckDB's cast.
	if (pos != s.size() || m > 59) {
		return false;
	}
	micros = local - sign * (h * 60LL + m) * 60LL * kMicrosPerSecond;
	return true;
}

bool ValidUtf8(std::string_view s) {
	const auto *p = reinterpret_cast<const unsigned char *>(s.data());
	size_t n = s.size();
	size_t i = 0;
	while (i < n) {
		// ASCII runs, eight bytes at a time.
		while (i + 8 <= n) {
			uint64_t word;
			std::memcpy(&word, p + i, 8);
			if (word & 0x8080808080808080ULL) {
				break;
			}
			i += 8;
		}
		if (i >= n) {
			break;
		}
		unsigned char c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len = 0;
		uint32_t cp = 0;
		if (c >= 0xC2 && c <= 0xDF) {
			len = 2;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			len = 3;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + len > n) {
			return false;
		}
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xC0) != 0x80) {
				return false;
			}
			cp = (cp << 6) | (p[i + k] & 0x3F);
		}
		// Overlong forms, surrogates and code points past U+10FFFF.
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF)) {
			return false;
		}
		i += len;
	}
	return true;
}

} // namespace duckpipe::flush::pg_text
