#pragma once

#include <string>
#include <string_view>

namespace duckpipe {

// ASCII lowercase, independent of the locale: for SQL identifiers and type names compared the way
// DuckDB and DuckLake compare them (case-insensitive in ASCII only).
inline std::string AsciiLower(std::string_view s) {
	std::string out(s);
	for (auto &c : out) {
		if (c >= 'A' && c <= 'Z') {
			c = static_cast<char>(c - 'A' + 'a');
		}
	}
	return out;
}

} // namespace duckpipe
