#include "core/meta/metadata_types.hpp"

#include "core/common/error.hpp"

#include <nlohmann/json.hpp>

namespace duckpipe::meta {

const char *TableStateName(TableState state) {
	switch (state) {
	case TableState::Pending:
		return "PENDING";
	case TableState::Snapshot:
		return "SNAPSHOT";
	case TableState::Catchup:
		return "CATCHUP";
	case TableState::Streaming:
		return "STREAMING";
	case TableState::Errored:
		return "ERRORED";
	}
	return "PENDING";
}

TableState ParseTableState(const std::string &text) {
	for (auto s :
	     {TableState::Pending, TableState::Snapshot, TableState::Catchup, TableState::Streaming, TableState::Errored}) {
		if (text == TableStateName(s)) {
			return s;
		}
	}
	throw Error(ErrorKind::Internal, "unknown table state '" + text + "' in duckpipe.table_mappings");
}

const char *SyncModeName(SyncMode mode) {
	return mode == SyncMode::Upsert ? "upsert" : "append";
}

SyncMode ParseSyncMode(const std::string &text) {
	if (text == "upsert") {
		return SyncMode::Upsert;
	}
	if (text == "append") {
		return SyncMode::Append;
	}
	throw Error(ErrorKind::Config, "unknown sync mode '" + text + "'", {.hint = "use upsert or append"});
}

const char *GroupModeName(GroupMode mode) {
	return mode == GroupMode::Bgworker ? "bgworker" : "daemon";
}

GroupMode ParseGroupMode(const std::string &text) {
	if (text == "bgworker") {
		return GroupMode::Bgworker;
	}
	if (text == "daemon") {
		return GroupMode::Daemon;
	}
	throw Error(ErrorKind::Config, "unknown group mode '" + text + "'",
	            {.hint = "use bgworker (the extension's background worker) or daemon"});
}

ConfigMap ParseConfigJson(const std::string &json) {
	ConfigMap out;
	try {
		auto doc = nlohmann::json::parse(json.empty() ? std::string("{}") : json);
		if (!doc.is_object()) {
			throw Error(ErrorKind::Config, "a config must be a JSON object, not " + json,
			            {.hint = "set it to '{}' and set keys one by one"});
		}
		for (const auto &[key, value] : doc.items()) {
			// Numbers and strings alike: "5000" and 5000 are the same setting.
			out[key] = value.is_string() ? value.get<std::string>() : value.dump();
		}
	} catch (const nlohmann::json::exception &e) {
		throw Error(ErrorKind::Config, std::string("unreadable config JSON: ") + e.what(),
		            {.hint = "set it to '{}' and set keys one by one"});
	}
	return out;
}

std::string ConfigJson(const ConfigMap &config) {
	auto doc = nlohmann::json::object();
	for (const auto &[key, value] : config) {
		doc[key] = value;
	}
	return doc.dump();
}

} // namespace duckpipe::meta
