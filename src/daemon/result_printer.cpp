#include "daemon/result_printer.hpp"

#include "core/common/error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <ostream>

namespace duckpipe::daemon {

namespace {

// Display width in terminal columns, approximated by UTF-8 code points.
size_t Width(const std::string &s) {
	size_t n = 0;
	for (unsigned char c : s) {
		n += (c & 0xC0) != 0x80;
	}
	return n;
}

std::string ForTable(const std::optional<std::string> &value) {
	if (!value) {
		return "NULL";
	}
	std::string out;
	for (char c : *value) {
		if (c == '\n') {
			out += "\\n";
		} else if (c == '\r') {
			out += "\\r";
		} else if (c == '\t') {
			out += "\\t";
		} else {
			out += c;
		}
	}
	return out;
}

void PrintTable(const ResultTable &result, std::ostream &out) {
	const size_t cols = result.names.size();
	std::vector<size_t> widths(cols);
	std::vector<std::vector<std::string>> cells;
	for (size_t c = 0; c < cols; c++) {
		widths[c] = Width(result.names[c]);
	}
	for (const auto &row : result.rows) {
		std::vector<std::string> line;
		for (size_t c = 0; c < cols; c++) {
			line.push_back(ForTable(row[c]));
			widths[c] = std::max(widths[c], Width(line.back()));
		}
		cells.push_back(std::move(line));
	}
	auto pad = [&](const std::string &s, size_t c, bool right) {
		std::string fill(widths[c] - Width(s), ' ');
		return right ? fill + s : s + fill;
	};
	// psql's layout: every cell has one space either side, numbers are right-aligned.
	for (size_t c = 0; c < cols; c++) {
		out << (c ? "| " : " ") << pad(result.names[c], c, false) << " ";
	}
	out << "\n";
	for (size_t c = 0; c < cols; c++) {
		out << (c ? "+" : "") << std::string(widths[c] + 2, '-');
	}
	out << "\n";
	for (const auto &line : cells) {
		for (size_t c = 0; c < cols; c++) {
			out << (c ? "| " : " ") << pad(line[c], c, result.kinds[c] == ResultTable::Kind::Number) << " ";
		}
		out << "\n";
	}
	out << "(" << result.rows.size() << (result.rows.size() == 1 ? " row)\n" : " rows)\n");
}

// RFC 4180 quoting; NULL is an empty field and the empty string is "" so the two stay apart.
std::string CsvField(const std::optional<std::string> &value) {
	if (!value) {
		return {};
	}
	const auto &v = *value;
	if (!v.empty() && v.find_first_of(",\"\r\n") == std::string::npos) {
		return v;
	}
	std::string out = "\"";
	for (char c : v) {
		out += c;
		if (c == '"') {
			out += '"';
		}
	}
	return out + "\"";
}

void PrintCsv(const ResultTable &result, std::ostream &out) {
	for (size_t c = 0; c < result.names.size(); c++) {
		out << (c ? "," : "") << CsvField(result.names[c]);
	}
	out << "\n";
	for (const auto &row : result.rows) {
		for (size_t c = 0; c < row.size(); c++) {
			out << (c ? "," : "") << CsvField(row[c]);
		}
		out << "\n";
	}
}

nlohmann::ordered_json JsonValue(const std::string &text, ResultTable::Kind kind) {
	switch (kind) {
	case ResultTable::Kind::Json: {
		auto parsed = nlohmann::ordered_json::parse(text, nullptr, false);
		return parsed.is_discarded() ? nlohmann::ordered_json(text) : parsed;
	}
	case ResultTable::Kind::Boolean:
		return text == "true" || text == "t";
	case ResultTable::Kind::Number: {
		const char *begin = text.data();
		const char *end = begin + text.size();
		int64_t i = 0;
		if (auto r = std::from_chars(begin, end, i); r.ec == std::errc() && r.ptr == end) {
			return i;
		}
		uint64_t u = 0;
		if (auto r = std::from_chars(begin, end, u); r.ec == std::errc() && r.ptr == end) {
			return u;
		}
		// DECIMAL, HUGEINT beyond 64 bits, floats: JSON numbers are doubles. NaN/inf become null.
		char *stop = nullptr;
		double d = std::strtod(text.c_str(), &stop);
		if (stop == end) {
			return d;
		}
		return text;
	}
	case ResultTable::Kind::Text:
		break;
	}
	return text;
}

void PrintJson(const ResultTable &result, std::ostream &out) {
	out << "[";
	for (size_t r = 0; r < result.rows.size(); r++) {
		nlohmann::ordered_json object = nlohmann::ordered_json::object();
		for (size_t c = 0; c < result.names.size(); c++) {
			const auto &v = result.rows[r][c];
			object[result.names[c]] = v ? JsonValue(*v, result.kinds[c]) : nullptr;
		}
		out << (r ? ",\n" : "\n") << object.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
	}
	out << (result.rows.empty() ? "]\n" : "\n]\n");
}

} // namespace

OutputFormat ParseOutputFormat(const std::string &text) {
	if (text == "table") {
		return OutputFormat::Table;
	}
	if (text == "csv") {
		return OutputFormat::Csv;
	}
	if (text == "json") {
		return OutputFormat::Json;
	}
	throw Error(ErrorKind::Config, "unknown output format '" + text + "'", {.hint = "use table, csv or json"});
}

void PrintResult(const ResultTable &result, OutputFormat format, std::ostream &out) {
	switch (format) {
	case OutputFormat::Table:
		PrintTable(result, out);
		break;
	case OutputFormat::Csv:
		PrintCsv(result, out);
		break;
	case OutputFormat::Json:
		PrintJson(result, out);
		break;
	}
}

} // namespace duckpipe::daemon
