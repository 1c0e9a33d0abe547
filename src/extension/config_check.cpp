// The checks behind duckpipe.set_config / set_group_config / set_table_config: which keys exist, at
// which scopes, their values' ranges, built-in defaults and the GUC that overrides a default. The
// resolution itself is plpgsql (sql/extension/10_api.sql); this file is the one place that knows the
// keys.
#include "extension/pg_boundary.hpp"

#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.hpp"

#include "extension/pg_includes.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(duckpipe_config_keys);
PG_FUNCTION_INFO_V1(duckpipe_config_check);
}

namespace duckpipe::ext {
namespace {

// PROVISIONAL (wt-api): a copy of the few facts of meta::ConfigRegistry that the SQL API needs, until
// the merge; the lead replaces this table with ConfigRegistry (same keys, ranges and defaults).
struct ConfigKey {
	std::string_view key;
	bool table_scope; // settable per table too (all keys are settable globally and per group)
	int64_t min;
	int64_t max;
	int64_t default_value;
	std::string_view setting; // the GUC a process sets it with
};
constexpr int64_t kNoMax = std::numeric_limits<int64_t>::max();
constexpr ConfigKey kKeys[] = {
    {"duckdb_buffer_memory_mb", false, 1, kNoMax, 16, "duckpipe.duckdb_buffer_memory_mb"},
    {"duckdb_flush_memory_mb", true, 1, kNoMax, 512, "duckpipe.duckdb_flush_memory_mb"},
    {"duckdb_threads", true, 1, 256, 1, "duckpipe.duckdb_threads"},
    {"flush_batch_threshold", true, 1, kNoMax, 100000, "duckpipe.flush_batch_threshold"},
    {"flush_interval_ms", true, 1, kNoMax, 5000, "duckpipe.flush_interval"},
    {"max_queued_bytes", false, 1048576, kNoMax, 256LL << 20, "duckpipe.max_queued_bytes"},
};
// END PROVISIONAL

std::string KeyList(bool table_scope) {
	std::string out;
	for (const auto &k : kKeys) {
		if (!table_scope || k.table_scope) {
			out += (out.empty() ? "" : ", ") + std::string(k.key);
		}
	}
	return out;
}

std::string TextArg(FunctionCallInfo fcinfo, int n) {
	text *t = PG_GETARG_TEXT_PP(n);
	return std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

Datum TextDatum(const std::string &s) {
	return PointerGetDatum(cstring_to_text_with_len(s.data(), static_cast<int>(s.size())));
}

// Validates one value for key at scope ('global', 'group' or 'table'); returns it normalized.
std::string Check(const std::string &scope, const std::string &key, const std::string &value) {
	const ConfigKey *found = nullptr;
	for (const auto &k : kKeys) {
		if (k.key == key) {
			found = &k;
		}
	}
	bool table = scope == "table";
	if (!found) {
		throw Error(ErrorKind::Config, "unknown config key '" + key + "'",
		            {.hint = "valid keys" + std::string(table ? " per table" : "") + ": " + KeyList(table)});
	}
	if (table && !found->table_scope) {
		throw Error(ErrorKind::Config, "config key '" + key + "' cannot be set per table",
		            {.hint = "set it per group (duckpipe.set_group_config) or globally (duckpipe.set_config); keys per "
		                     "table: " +
		                     KeyList(true)});
	}
	int64_t n = 0;
	auto digits = std::string_view(value);
	auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
	std::string range =
	    "from " + std::to_string(found->min) + (found->max == kNoMax ? " up" : " to " + std::to_string(found->max));
	if (ec != std::errc() || end != digits.data() + digits.size()) {
		throw Error(ErrorKind::Config, "invalid value '" + value + "' for config key '" + key + "'",
		            {.hint = "give a whole number " + range});
	}
	if (n < found->min || n > found->max) {
		throw Error(ErrorKind::Config, "value " + value + " for config key '" + key + "' is out of range",
		            {.hint = "give a whole number " + range});
	}
	return std::to_string(n);
}

} // namespace
} // namespace duckpipe::ext

// duckpipe._config_keys(): a JSON array of {key, table_scope, default_value, setting}.
Datum duckpipe_config_keys(PG_FUNCTION_ARGS) {
	return duckpipe::ext::PgBoundary([&] {
		std::string out = "[";
		for (const auto &k : duckpipe::ext::kKeys) {
			out += std::string(out.size() > 1 ? "," : "") + "{\"key\":\"" + std::string(k.key) +
			       "\",\"table_scope\":" + (k.table_scope ? "true" : "false") + ",\"default_value\":\"" +
			       std::to_string(k.default_value) + "\",\"setting\":\"" + std::string(k.setting) + "\"}";
		}
		out += "]";
		return duckpipe::ext::TextDatum(out);
	});
}

// duckpipe._config_check(scope, key, value): the normalized value, or an error naming the fix.
Datum duckpipe_config_check(PG_FUNCTION_ARGS) {
	return duckpipe::ext::PgBoundary([&] {
		auto scope = duckpipe::ext::TextArg(fcinfo, 0);
		auto key = duckpipe::ext::TextArg(fcinfo, 1);
		auto value = duckpipe::ext::TextArg(fcinfo, 2);
		return duckpipe::ext::TextDatum(duckpipe::ext::Check(scope, key, value));
	});
}
