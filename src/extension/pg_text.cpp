#include "extension/pg_text.hpp"

namespace duckpipe::ext {

namespace {

bool StartsWith(const std::string &s, const char *prefix) {
	return s.rfind(prefix, 0) == 0;
}

// DuckDB writes a BC date as "0044-03-15 (BC)" and a BC timestamp with " (BC)" after the date;
// PostgreSQL wants " BC" at the very end.
std::string MoveBcSuffix(const std::string &text) {
	return "regexp_replace(" + text + ", '^([^ ]*) \\(BC\\)(.*)$', '\\1\\2 BC')";
}

std::string Scalar(const std::string &type, const std::string &expr) {
	if (type == "blob") {
		return "('\\x' || lower(hex(" + expr + ")))";
	}
	if (type == "date" || StartsWith(type, "timestamp")) {
		return MoveBcSuffix("CAST(" + expr + " AS VARCHAR)");
	}
	return "CAST(" + expr + " AS VARCHAR)";
}

std::string Render(const lake::LakeColumn &column, const std::string &expr, int depth) {
	if (column.type == "list" && column.children.size() == 1) {
		// An array literal: {"a","b",NULL}. Every element quoted, so no element text needs rules
		// of its own (commas, braces, spaces, the word NULL).
		std::string v = "__e" + std::to_string(depth);
		std::string element = Render(column.children[0], v, depth + 1);
		return "CASE WHEN " + expr + " IS NULL THEN NULL ELSE '{' || coalesce(array_to_string(list_transform(" + expr +
		       ", lambda " + v + ": CASE WHEN " + v + " IS NULL THEN 'NULL' ELSE '\"' || replace(replace(" + element +
		       ", '\\', '\\\\'), '\"', '\\\"') || '\"' END), ','), '') || '}' END";
	}
	return Scalar(column.type, expr);
}

} // namespace

std::string PgTextExpression(const lake::LakeColumn &column, const std::string &expr) {
	return Render(column, expr, 0);
}

} // namespace duckpipe::ext
