#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace duckpipe {

// PostgreSQL's numeric division (numeric_div in src/backend/utils/adt/numeric.c) on decimal texts:
// the result scale select_div_scale would choose (at least 16 significant digits, at least either
// input's display scale, at most 1000), the exact quotient rounded half away from zero at that
// scale, printed as numeric_out prints it (a zero has no sign). Lets DuckDB compute avg and numeric
// `/` with the digits PostgreSQL returns. Pure C++: runs on DuckDB's threads.
class NumericDiv {
public:
	enum class Status { Ok, DivisionByZero, InvalidInput };

	// `a` / `b`, each an optional sign, digits, and an optional point with digits ("-12.30",
	// "7", ".5"). Status Ok sets `out`.
	static Status Divide(std::string_view a, std::string_view b, std::string &out);

	// The scale PostgreSQL's select_div_scale gives a / b (nullopt for an invalid text).
	static std::optional<int> ResultScale(std::string_view a, std::string_view b);
};

} // namespace duckpipe
