#pragma once

#include <string>
#include <string_view>

namespace duckpipe {

// Values read from the source (row contents, or an engine message quoting one, such as DuckDB's
// "Could not convert string '...' to INT32") reach logs, errors and `status` only at log level
// debug. At any other level this returns the message with every quoted part replaced by '...'.
std::string SourceValueText(std::string_view text);

} // namespace duckpipe
