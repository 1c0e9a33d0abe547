#pragma once

#include <string_view>

namespace duckpipe {

class DuckConnection;

// PostgreSQL's numeric division inside DuckDB (core/common/numeric_div.hpp): a scalar function
// duckpipe_numeric_div(VARCHAR, VARCHAR) -> VARCHAR, and the macro duckpipe.numeric_div(a, b) that
// casts any exact number (DECIMAL, integers) to its text first. Whole-query execution writes avg and
// numeric `/` as calls of the PostgreSQL function of that name (sql/extension/62_numeric_div.sql),
// which the macro stands for.
class DuckNumericDiv {
public:
	// Registers both in the connection's database (before a sandbox locks it).
	static void Register(DuckConnection &duck);
	// Whether a DuckDB error message is the function's division by zero.
	static bool IsDivisionByZero(std::string_view message);
};

} // namespace duckpipe
