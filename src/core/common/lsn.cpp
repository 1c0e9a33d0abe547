#include "core/common/lsn.hpp"

#include "core/common/error.hpp"

#include <charconv>
#include <cstdio>

namespace duckpipe {

static bool ParseHalf(std::string_view text, uint32_t &out) {
	if (text.empty() || text.size() > 8) {
		return false;
	}
	auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out, 16);
	return ec == std::errc() && ptr == text.data() + text.size();
}

bool Lsn::TryParse(std::string_view text, Lsn &out) {
	auto slash = text.find('/');
	if (slash == std::string_view::npos) {
		return false;
	}
	uint32_t hi = 0;
	uint32_t lo = 0;
	if (!ParseHalf(text.substr(0, slash), hi) || !ParseHalf(text.substr(slash + 1), lo)) {
		return false;
	}
	out = Lsn((static_cast<uint64_t>(hi) << 32) | lo);
	return true;
}

Lsn Lsn::Parse(std::string_view text) {
	Lsn out;
	if (!TryParse(text, out)) {
		throw Error(ErrorKind::Config, "invalid LSN '" + std::string(text) + "'",
		            {.hint = "write an LSN as two hexadecimal halves, e.g. 16/B374D848"});
	}
	return out;
}

std::string Lsn::ToString() const {
	char buf[32];
	std::snprintf(buf, sizeof(buf), "%X/%X", static_cast<uint32_t>(value >> 32), static_cast<uint32_t>(value));
	return buf;
}

} // namespace duckpipe
