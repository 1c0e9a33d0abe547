#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace duckpipe::daemon {

// A result to print, already as text. The kind of a column decides alignment (numbers right) and
// its JSON form (number, boolean, embedded JSON or string).
struct ResultTable {
	enum class Kind { Text, Number, Boolean, Json };
	std::vector<std::string> names;
	std::vector<Kind> kinds;
	std::vector<std::vector<std::optional<std::string>>> rows; // nullopt = SQL NULL
};

enum class OutputFormat { Table, Csv, Json };
OutputFormat ParseOutputFormat(const std::string &text); // throws Error(Config)

// table: psql-like aligned columns with a row count; csv: RFC 4180 with a header, NULL as an empty
// field and '' as ""; json: one array of objects.
void PrintResult(const ResultTable &result, OutputFormat format, std::ostream &out);

} // namespace duckpipe::daemon
