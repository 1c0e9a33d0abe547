#include "core/lake/lake_type.hpp"

#include "core/common/ascii.hpp"
#include "core/common/error.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <utility>

namespace duckpipe::lake {

namespace {

// DuckLake primitive name -> DuckDB SQL type.
constexpr std::array<std::pair<std::string_view, std::string_view>, 27> kPrimitives{{
    {"boolean", "BOOLEAN"},
    {"int8", "TINYINT"},
    {"int16", "SMALLINT"},
    {"int32", "INTEGER"},
    {"int64", "BIGINT"},
    {"int128", "HUGEINT"},
    {"uint8", "UTINYINT"},
    {"uint16", "USMALLINT"},
    {"uint32", "UINTEGER"},
    {"uint64", "UBIGINT"},
    {"uint128", "UHUGEINT"},
    {"float32", "FLOAT"},
    {"float64", "DOUBLE"},
    {"date", "DATE"},
    {"time", "TIME"},
    {"time_ns", "TIME_NS"},
    {"timetz", "TIME WITH TIME ZONE"},
    {"timestamp", "TIMESTAMP"},
    {"timestamptz", "TIMESTAMP WITH TIME ZONE"},
    {"timestamp_s", "TIMESTAMP_S"},
    {"timestamp_ms", "TIMESTAMP_MS"},
    {"timestamp_ns", "TIMESTAMP_NS"},
    {"interval", "INTERVAL"},
    {"varchar", "VARCHAR"},
    {"blob", "BLOB"},
    {"uuid", "UUID"},
    {"json", "JSON"},
}};

// "decimal(p,s)" with 1 <= p <= 38 and 0 <= s <= p; lowercase as the reference parser requires.
bool ParseDecimal(std::string_view type, int &precision, int &scale) {
	constexpr std::string_view kPrefix = "decimal(";
	if (!type.starts_with(kPrefix) || !type.ends_with(")")) {
		return false;
	}
	auto inner = type.substr(kPrefix.size(), type.size() - kPrefix.size() - 1);
	auto comma = inner.find(',');
	if (comma == std::string_view::npos) {
		return false;
	}
	auto p = inner.substr(0, comma);
	auto s = inner.substr(comma + 1);
	auto r1 = std::from_chars(p.data(), p.data() + p.size(), precision);
	auto r2 = std::from_chars(s.data(), s.data() + s.size(), scale);
	return r1.ec == std::errc() && r1.ptr == p.data() + p.size() && r2.ec == std::errc() &&
	       r2.ptr == s.data() + s.size() && precision >= 1 && precision <= 38 && scale >= 0 && scale <= precision;
}

int IntegerRank(std::string_view t) {
	if (t == "int8") {
		return 1;
	}
	if (t == "int16") {
		return 2;
	}
	if (t == "int32") {
		return 3;
	}
	if (t == "int64") {
		return 4;
	}
	return 0;
}

int UnsignedRank(std::string_view t) {
	if (t == "uint8") {
		return 1;
	}
	if (t == "uint16") {
		return 2;
	}
	if (t == "uint32") {
		return 3;
	}
	if (t == "uint64") {
		return 4;
	}
	return 0;
}

} // namespace

bool IsNestedTypeName(std::string_view type) {
	return type == "list" || type == "struct" || type == "map";
}

bool IsValidTypeName(std::string_view type) {
	if (IsNestedTypeName(type)) {
		return true;
	}
	int p = 0;
	int s = 0;
	if (ParseDecimal(type, p, s)) {
		return true;
	}
	// Written names are lowercase; the reference matches case-insensitively, we stay strict.
	for (const auto &[name, duck] : kPrimitives) {
		if (type == name) {
			return true;
		}
	}
	return type == "variant" || type == "geometry";
}

std::string DuckTypeForPrimitive(std::string_view type) {
	auto lower = AsciiLower(type);
	int p = 0;
	int s = 0;
	if (ParseDecimal(lower, p, s)) {
		return "DECIMAL(" + std::to_string(p) + "," + std::to_string(s) + ")";
	}
	for (const auto &[name, duck] : kPrimitives) {
		if (lower == name) {
			return std::string(duck);
		}
	}
	throw Error(ErrorKind::Lake, "unsupported DuckLake column type '" + std::string(type) + "'",
	            {.hint = "the catalog holds a type this version of pg_duckpipe cannot read"});
}

bool IsSafeWidening(std::string_view from, std::string_view to) {
	if (from == to) {
		return true;
	}
	int fi = IntegerRank(from);
	int ti = IntegerRank(to);
	if (fi && ti) {
		return fi < ti;
	}
	int fu = UnsignedRank(from);
	int tu = UnsignedRank(to);
	if (fu && tu) {
		return fu < tu;
	}
	if (fu && ti) {
		return fu < ti; // uint8 -> int16 etc.
	}
	if (from == "float32" && to == "float64") {
		return true;
	}
	if ((fi && fi <= 3) && to == "float64") {
		return true;
	}
	int fp = 0;
	int fs = 0;
	int tp = 0;
	int ts = 0;
	if (ParseDecimal(from, fp, fs) && ParseDecimal(to, tp, ts)) {
		// Same scale, more integer digits.
		return fs == ts && tp >= fp;
	}
	return false;
}

} // namespace duckpipe::lake
