#include "daemon/config_commands.hpp"

#include "core/common/error.hpp"
#include "core/meta/config_registry.hpp"
#include "core/meta/metadata_store.hpp"
#include "core/pg/pg_connection.hpp"
#include "daemon/result_printer.hpp"

#include <CLI/CLI.hpp>

#include <ostream>

namespace duckpipe::daemon {

using meta::ConfigRegistry;
using meta::ConfigScope;
using meta::MetadataStore;

ConfigCommands::ConfigCommands(CLI::App &app, const GlobalOptions &global) : global_(global) {
	get_ = app.add_subcommand("get-config", "Show settings in force (global, or of a group or a table)");
	get_->add_option("key", key_, "One setting (default: all)");
	auto *get_group = get_->add_option("--group", group_, "Settings of this sync group");
	auto *get_table = get_->add_option("--table", table_, "Settings of this synced table (source or lake name)");
	get_group->excludes(get_table);
	get_->add_option("--format", format_, "table, csv or json")->capture_default_str();

	set_ = app.add_subcommand("set-config",
	                          "Store a setting globally, for a group or for a table; running pipelines apply it "
	                          "without a restart");
	set_->add_option("key", key_, "Setting")->required();
	set_->add_option("value", value_, "Integer value");
	auto *set_group = set_->add_option("--group", group_, "Set it for this sync group");
	auto *set_table = set_->add_option("--table", table_, "Set it for this synced table (source or lake name)");
	set_group->excludes(set_table);
	set_->add_flag("--reset", reset_, "Remove the setting at this scope (the one below applies again)");
}

bool ConfigCommands::Selected() const {
	return get_->parsed() || set_->parsed();
}

int ConfigCommands::Run(std::ostream &out) const {
	return get_->parsed() ? GetConfig(out) : SetConfig(out);
}

namespace {

meta::TableMapping RequireTable(MetadataStore &store, const std::string &name) {
	auto m = store.FindTable(name);
	if (!m) {
		throw Error(ErrorKind::Config, "table '" + name + "' is not synced",
		            {.hint = "name a source or lake table that `duckpipe status` lists"});
	}
	return *m;
}

} // namespace

int ConfigCommands::GetConfig(std::ostream &out) const {
	auto format = ParseOutputFormat(format_);
	PgConnection conn(global_.SourceConninfo());
	MetadataStore store(conn);
	meta::ConfigLayers layers{.global = store.GlobalConfig()};
	ConfigScope scope = ConfigScope::Global;
	if (!table_.empty()) {
		auto m = RequireTable(store, table_);
		layers.group = store.GetGroup(m.group_name).config;
		layers.table = m.config;
		scope = ConfigScope::Table;
	} else if (!group_.empty()) {
		layers.group = store.GetGroup(group_).config;
		scope = ConfigScope::Group;
	}
	if (!key_.empty()) {
		ConfigRegistry::CheckKey(key_, ConfigScope::Global);
	}
	using K = ResultTable::Kind;
	ResultTable result;
	result.names = {"key", "value", "source", "scopes", "description"};
	result.kinds = {K::Text, K::Number, K::Text, K::Text, K::Text};
	for (const auto &k : ConfigRegistry::Keys()) {
		if (!key_.empty() && key_ != k.name) {
			continue;
		}
		// This command is not the running process: its layer is the built-in default (flags of
		// `duckpipe run` apply under global_config).
		auto resolved = ConfigRegistry::Resolve(k.name, k.default_value, layers, scope);
		std::string source = std::string(resolved.source) == "process" ? "default" : resolved.source;
		result.rows.push_back(
		    {std::string(k.name), std::to_string(resolved.value), source, k.ScopesText(), std::string(k.description)});
	}
	PrintResult(result, format, out);
	return 0;
}

int ConfigCommands::SetConfig(std::ostream &out) const {
	if (reset_ == !value_.empty()) {
		throw Error(ErrorKind::Config, reset_ ? "set-config --reset takes no value" : "set-config needs a value",
		            {.hint = "duckpipe set-config KEY VALUE [--group G | --table T], or KEY --reset"});
	}
	PgConnection conn(global_.SourceConninfo());
	MetadataStore store(conn);
	std::optional<std::string> value = reset_ ? std::nullopt : std::optional(value_);
	std::string where = "globally";
	if (!table_.empty()) {
		auto m = RequireTable(store, table_);
		store.SetTableConfig(m.id, key_, value);
		where = "for table " + m.SourceName();
	} else if (!group_.empty()) {
		store.SetGroupConfig(group_, key_, value);
		where = "for group " + group_;
	} else {
		store.SetGlobalConfig(key_, value);
	}
	if (reset_) {
		out << "reset " << key_ << " " << where << "\n";
	} else {
		auto scope = !table_.empty() ? ConfigScope::Table : !group_.empty() ? ConfigScope::Group : ConfigScope::Global;
		out << "set " << key_ << " = " << ConfigRegistry::Validate(key_, value_, scope) << " " << where << "\n";
	}
	return 0;
}

} // namespace duckpipe::daemon
