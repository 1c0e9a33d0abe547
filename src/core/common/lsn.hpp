#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace duckpipe {

// A WAL position, written by PostgreSQL as two 32-bit hex halves: "16/B374D848".
struct Lsn {
	uint64_t value = 0;

	constexpr Lsn() = default;
	constexpr explicit Lsn(uint64_t v) : value(v) {}

	// Throws Error(Config) on anything that is not "X/Y" with hex halves.
	static Lsn Parse(std::string_view text);
	static bool TryParse(std::string_view text, Lsn &out);
	std::string ToString() const;

	constexpr bool IsValid() const { return value != 0; }
	// NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
	constexpr auto operator<=>(const Lsn &) const = default;
};

inline constexpr Lsn kInvalidLsn{};

} // namespace duckpipe
