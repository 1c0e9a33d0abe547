#include "extension/lake_filter.hpp"

#include "core/duck/duck_connection.hpp"

#include <algorithm>

namespace duckpipe::ext {

namespace {

std::string Join(const std::vector<std::string> &parts, const char *separator) {
	std::string out;
	for (size_t i = 0; i < parts.size(); i++) {
		out += (i ? separator : "") + parts[i];
	}
	return out;
}

// Three-valued results of the statistics count as "may match": a missing statistic is NULL.
std::string MayMatch(const std::string &test) {
	return "coalesce(" + test + ", true)";
}

} // namespace

std::string LakeFilter::StatsColumn(const char *what, int64_t column_id) {
	return DuckConnection::QuoteIdent(std::string(what) + "_" + std::to_string(column_id));
}

std::string LakeFilter::Sql() const {
	std::string col = DuckConnection::QuoteIdent(column);
	switch (kind) {
	case Kind::Compare:
		return col + " " + op + " " + values.at(0);
	case Kind::IsNull:
		return col + " IS NULL";
	case Kind::IsNotNull:
		return col + " IS NOT NULL";
	case Kind::In:
		// = ANY of an empty array is false, even for a NULL column.
		return values.empty() ? "false" : col + " IN (" + Join(values, ", ") + ")";
	case Kind::And:
	case Kind::Or: {
		std::vector<std::string> parts;
		for (const auto &c : children) {
			parts.push_back("(" + c.Sql() + ")");
		}
		return Join(parts, kind == Kind::And ? " AND " : " OR ");
	}
	case Kind::Not:
		return "NOT (" + children.at(0).Sql() + ")";
	}
	return "true";
}

std::string LakeFilter::PruneSql() const {
	auto stat = [&](const char *what) { return "__s." + StatsColumn(what, column_id); };
	auto bound = [&](const char *what) {
		return is_text ? stat(what) : "TRY_CAST(" + stat(what) + " AS " + duck_type + ")";
	};
	// A comparison is never true in a file without non-null values; NaN is outside the min/max.
	auto compare = [&](const std::string &test) {
		std::string out = "(" + MayMatch(stat("values") + " > 0") + " AND " + MayMatch(test) + ")";
		if (is_float) {
			out = "(" + MayMatch(stat("nan")) + " OR " + out + ")";
		}
		return out;
	};
	auto equal = [&](const std::string &v) { return bound("min") + " <= " + v + " AND " + bound("max") + " >= " + v; };
	if (!known) {
		return "true";
	}
	switch (kind) {
	case Kind::Compare:
		if (op == "=") {
			return compare(equal(values.at(0)));
		}
		if (op == "<" || op == "<=") {
			return compare(bound("min") + " " + op + " " + values.at(0));
		}
		if (op == ">" || op == ">=") {
			return compare(bound("max") + " " + op + " " + values.at(0));
		}
		if (op == "<>") {
			return compare("NOT (" + bound("min") + " = " + values.at(0) + " AND " + bound("max") + " = " +
			               values.at(0) + ")");
		}
		return "true";
	case Kind::IsNull:
		return MayMatch(stat("nulls") + " > 0");
	case Kind::IsNotNull:
		return MayMatch(stat("values") + " > 0");
	case Kind::In: {
		if (values.empty()) {
			return "false";
		}
		std::vector<std::string> parts;
		for (const auto &v : values) {
			parts.push_back(MayMatch(equal(v)));
		}
		return compare(Join(parts, " OR "));
	}
	case Kind::And:
	case Kind::Or: {
		std::vector<std::string> parts;
		for (const auto &c : children) {
			parts.push_back("(" + c.PruneSql() + ")");
		}
		return Join(parts, kind == Kind::And ? " AND " : " OR ");
	}
	case Kind::Not:
		return "true"; // statistics bound what is there, not what is not
	}
	return "true";
}

void LakeFilter::ColumnIds(std::vector<int64_t> &out) const {
	if (kind == Kind::And || kind == Kind::Or || kind == Kind::Not) {
		for (const auto &c : children) {
			c.ColumnIds(out);
		}
	} else if (std::find(out.begin(), out.end(), column_id) == out.end()) {
		out.push_back(column_id);
	}
}

bool LakeFilter::CanPrune() const {
	switch (kind) {
	case Kind::Not:
		return false;
	case Kind::And:
		return std::any_of(children.begin(), children.end(), [](const LakeFilter &c) { return c.CanPrune(); });
	case Kind::Or:
		return !children.empty() &&
		       std::all_of(children.begin(), children.end(), [](const LakeFilter &c) { return c.CanPrune(); });
	default:
		return known;
	}
}

} // namespace duckpipe::ext
