// The checks behind duckpipe.set_config / set_group_config / set_table_config, through the core's
// meta::ConfigRegistry (the one place that knows the keys, shared with the daemon), and the GUC that
// sets each key's process-level value. The resolution itself is plpgsql (sql/extension/11_api_config.sql).
#include "extension/pg_args.hpp"
#include "extension/pg_boundary.hpp"

#include <nlohmann/json.hpp>
#include <string>

#include "core/common/error.hpp"
#include "core/meta/config_registry.hpp"

#include "extension/pg_includes.hpp"

extern "C" {
PG_FUNCTION_INFO_V1(duckpipe_config_keys);
PG_FUNCTION_INFO_V1(duckpipe_config_check);
}

namespace duckpipe::ext {
namespace {

// The GUC that sets a key's process-level value (the layer under global_config).
std::string SettingOf(const meta::ConfigKey &key) {
	std::string name = key.name;
	// Times are GUCs with a unit ('5s' works): duckpipe.flush_interval, duckpipe.compact_interval.
	if (name.ends_with("_interval_ms")) {
		return "duckpipe." + name.substr(0, name.size() - 3);
	}
	return "duckpipe." + name;
}

meta::ConfigScope ScopeOf(const std::string &scope) {
	if (scope == "global") {
		return meta::ConfigScope::Global;
	}
	if (scope == "group") {
		return meta::ConfigScope::Group;
	}
	if (scope == "table") {
		return meta::ConfigScope::Table;
	}
	throw Error(ErrorKind::Internal, "unknown config scope '" + scope + "'");
}

} // namespace
} // namespace duckpipe::ext

// duckpipe._config_keys(): a JSON array of {key, table_scope, default_value, setting}.
Datum duckpipe_config_keys(FunctionCallInfo) {
	return duckpipe::ext::PgBoundary([&] {
		auto out = nlohmann::json::array();
		for (const auto &k : duckpipe::meta::ConfigRegistry::Keys()) {
			out.push_back({{"key", k.name},
			               {"table_scope", k.table},
			               {"default_value", std::to_string(k.default_value)},
			               {"setting", duckpipe::ext::SettingOf(k)}});
		}
		return duckpipe::ext::TextDatum(out.dump());
	});
}

// duckpipe._config_check(scope, key, value): the normalized value, or an error naming the fix.
Datum duckpipe_config_check(PG_FUNCTION_ARGS) {
	return duckpipe::ext::PgBoundary([&] {
		auto scope = duckpipe::ext::TextArg(fcinfo, 0);
		auto key = duckpipe::ext::TextArg(fcinfo, 1);
		auto value = duckpipe::ext::TextArg(fcinfo, 2);
		return duckpipe::ext::TextDatum(
		    duckpipe::meta::ConfigRegistry::Validate(key, value, duckpipe::ext::ScopeOf(scope)));
	});
}
