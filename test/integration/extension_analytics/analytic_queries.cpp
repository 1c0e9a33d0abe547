#include "analytic_queries.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace duckpipe::test {

namespace {

std::string Trim(const std::string &s) {
	size_t begin = s.find_first_not_of(" \t\r\n");
	size_t end = s.find_last_not_of(" \t\r\n;");
	return begin == std::string::npos || end < begin ? "" : s.substr(begin, end - begin + 1);
}

std::string RowText(const std::vector<std::string> &row) {
	std::string out = "(";
	for (size_t i = 0; i < row.size(); i++) {
		out += (i ? " | " : "") + row[i];
	}
	return out + ")";
}

} // namespace

std::vector<AnalyticQuery> LoadAnalyticQueries(const std::string &path) {
	std::ifstream in(path);
	if (!in) {
		throw std::runtime_error("cannot read " + path);
	}
	std::vector<AnalyticQuery> queries;
	std::set<std::string> names;
	std::string line;
	while (std::getline(in, line)) {
		static const std::string kName = "-- name: ";
		if (line.rfind(kName, 0) == 0) {
			queries.push_back({Trim(line.substr(kName.size())), "", false, ""});
			if (!names.insert(queries.back().name).second) {
				throw std::runtime_error(path + ": query name " + queries.back().name + " used twice");
			}
		} else if (!queries.empty() && line == "-- ordered" && queries.back().sql.empty()) {
			queries.back().ordered = true;
		} else if (!queries.empty() && (line == "-- path: duckdb" || line == "-- path: row") &&
		           queries.back().sql.empty()) {
			queries.back().path = line.substr(std::string("-- path: ").size());
		} else if (!queries.empty()) {
			queries.back().sql += line + "\n";
		}
	}
	for (auto &q : queries) {
		q.sql = Trim(q.sql);
		if (q.sql.empty()) {
			throw std::runtime_error(path + ": query " + q.name + " has no SQL");
		}
		if (q.path.empty()) {
			throw std::runtime_error(path + ": query " + q.name + " has no `-- path: duckdb|row` line");
		}
	}
	return queries;
}

std::string ResultDifference(std::vector<std::vector<std::string>> expected,
                             std::vector<std::vector<std::string>> actual, bool ordered) {
	std::ostringstream out;
	if (expected.size() != actual.size()) {
		out << "source has " << expected.size() << " rows, lake " << actual.size() << "\n";
	}
	constexpr int kShown = 10;
	int shown = 0;
	if (ordered) {
		for (size_t i = 0; i < std::max(expected.size(), actual.size()) && shown < kShown; i++) {
			auto want = i < expected.size() ? RowText(expected[i]) : "(none)";
			auto got = i < actual.size() ? RowText(actual[i]) : "(none)";
			if (want != got) {
				out << "row " << i + 1 << ": source " << want << "\n        lake   " << got << "\n";
				shown++;
			}
		}
		return out.str();
	}
	std::sort(expected.begin(), expected.end());
	std::sort(actual.begin(), actual.end());
	std::vector<std::vector<std::string>> missing;
	std::vector<std::vector<std::string>> extra;
	std::set_difference(expected.begin(), expected.end(), actual.begin(), actual.end(), std::back_inserter(missing));
	std::set_difference(actual.begin(), actual.end(), expected.begin(), expected.end(), std::back_inserter(extra));
	for (size_t i = 0; i < missing.size() && shown < kShown; i++, shown++) {
		out << "only in source: " << RowText(missing[i]) << "\n";
	}
	for (size_t i = 0; i < extra.size() && shown < 2 * kShown; i++, shown++) {
		out << "only in lake:   " << RowText(extra[i]) << "\n";
	}
	return out.str();
}

} // namespace duckpipe::test
