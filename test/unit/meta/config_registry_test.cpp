#include "core/common/error.hpp"
#include "core/meta/config_registry.hpp"
#include "core/pipeline/settings_resolver.hpp"

#include <gtest/gtest.h>

using namespace duckpipe;
using namespace duckpipe::meta;

namespace {

std::string ValidationError(const std::string &key, const std::string &value, ConfigScope scope) {
	try {
		ConfigRegistry::Validate(key, value, scope);
	} catch (const Error &e) {
		EXPECT_EQ(e.Kind(), ErrorKind::Config);
		return e.what();
	}
	return "";
}

} // namespace

TEST(ConfigRegistry, KnowsTheSettingsTheCoreHonours) {
	std::vector<std::string> names;
	for (const auto &k : ConfigRegistry::Keys()) {
		names.emplace_back(k.name);
		EXPECT_TRUE(k.global) << k.name;
		EXPECT_TRUE(k.group) << k.name;
		EXPECT_GE(k.default_value, k.min_value) << k.name;
		EXPECT_LE(k.default_value, k.max_value) << k.name;
	}
	EXPECT_EQ(names, (std::vector<std::string>{"flush_interval_ms", "flush_batch_threshold", "max_queued_bytes",
	                                           "duckdb_buffer_memory_mb", "duckdb_flush_memory_mb", "duckdb_threads",
	                                           "auto_compact", "compact_min_files", "compact_target_file_size_mb",
	                                           "compact_interval_ms", "background_flush", "background_flush_backlog_mb",
	                                           "stream_in_progress"}));
	// The queue budget is the group's (one slot consumer): no table scope.
	EXPECT_FALSE(ConfigRegistry::Find("max_queued_bytes")->table);
	EXPECT_TRUE(ConfigRegistry::Find("flush_interval_ms")->table);
	EXPECT_EQ(ConfigRegistry::Find("nope"), nullptr);
}

TEST(ConfigRegistry, DefaultsAreThoseOfThePipeline) {
	pipeline::PipelineConfig defaults;
	auto resolved = pipeline::ResolveSettings(defaults, {}, ConfigScope::Table);
	EXPECT_TRUE(pipeline::SameSettings(defaults, resolved));
	for (const auto &k : ConfigRegistry::Keys()) {
		auto got = ConfigRegistry::Resolve(k.name, k.default_value, {}, ConfigScope::Table);
		EXPECT_EQ(got.value, k.default_value);
	}
	EXPECT_EQ(ConfigRegistry::Find("flush_interval_ms")->default_value, defaults.flush_interval_ms);
	EXPECT_EQ(ConfigRegistry::Find("flush_batch_threshold")->default_value, defaults.flush_batch_threshold);
	EXPECT_EQ(ConfigRegistry::Find("max_queued_bytes")->default_value, defaults.max_queued_bytes);
	EXPECT_EQ(ConfigRegistry::Find("duckdb_buffer_memory_mb")->default_value, defaults.duckdb_buffer_memory_mb);
	EXPECT_EQ(ConfigRegistry::Find("duckdb_flush_memory_mb")->default_value, defaults.duckdb_flush_memory_mb);
	EXPECT_EQ(ConfigRegistry::Find("duckdb_threads")->default_value, defaults.duckdb_threads);
	EXPECT_EQ(ConfigRegistry::Find("auto_compact")->default_value, defaults.auto_compact);
	EXPECT_EQ(ConfigRegistry::Find("compact_min_files")->default_value, defaults.compact_min_files);
	EXPECT_EQ(ConfigRegistry::Find("compact_target_file_size_mb")->default_value, defaults.compact_target_file_size_mb);
	EXPECT_EQ(ConfigRegistry::Find("compact_interval_ms")->default_value, defaults.compact_interval_ms);
	EXPECT_EQ(ConfigRegistry::Find("background_flush")->default_value, defaults.background_flush);
	EXPECT_EQ(ConfigRegistry::Find("background_flush_backlog_mb")->default_value, defaults.background_flush_backlog_mb);
	EXPECT_EQ(ConfigRegistry::Find("stream_in_progress")->default_value, defaults.stream_in_progress);
	// Read by the group's one slot consumer (or its control thread): no table scope.
	EXPECT_FALSE(ConfigRegistry::Find("stream_in_progress")->table);
	EXPECT_FALSE(ConfigRegistry::Find("background_flush_backlog_mb")->table);
}

TEST(ConfigRegistry, ValidValuesAreNormalized) {
	EXPECT_EQ(ConfigRegistry::Validate("flush_interval_ms", "250", ConfigScope::Table), "250");
	EXPECT_EQ(ConfigRegistry::Validate("flush_interval_ms", "+0250", ConfigScope::Global), "250");
	EXPECT_EQ(ConfigRegistry::Validate("duckdb_threads", "256", ConfigScope::Group), "256");
	// No upper bound on the interval.
	EXPECT_EQ(ConfigRegistry::Validate("flush_interval_ms", "9223372036854775807", ConfigScope::Global),
	          "9223372036854775807");
}

TEST(ConfigRegistry, UnknownKeysListTheKnownOnes) {
	auto text = ValidationError("flush_interval", "5", ConfigScope::Global);
	EXPECT_NE(text.find("unknown configuration key 'flush_interval'"), std::string::npos) << text;
	for (const auto &k : ConfigRegistry::Keys()) {
		EXPECT_NE(text.find(k.name), std::string::npos) << text;
	}
}

TEST(ConfigRegistry, BadValuesNameTheKeyAndTheRange) {
	for (const std::string bad : {"", "abc", "5s", "1.5", " 5", "-1", "0", "99999999999999999999"}) {
		auto text = ValidationError("flush_interval_ms", bad, ConfigScope::Global);
		EXPECT_NE(text.find("invalid value '" + bad + "' for configuration key 'flush_interval_ms'"), std::string::npos)
		    << text;
		EXPECT_NE(text.find("integer number of milliseconds, at least 1"), std::string::npos) << text;
	}
	auto text = ValidationError("duckdb_threads", "257", ConfigScope::Table);
	EXPECT_NE(text.find("from 1 to 256"), std::string::npos) << text;
	text = ValidationError("max_queued_bytes", "1000", ConfigScope::Group);
	EXPECT_NE(text.find("bytes, at least 1048576"), std::string::npos) << text;
	// A setting that picks among a few values says what each one means.
	text = ValidationError("background_flush", "3", ConfigScope::Table);
	EXPECT_NE(text.find("give 0 (never), 1 (always) or 2 (while the group catches up)"), std::string::npos) << text;
	EXPECT_EQ(ConfigRegistry::Validate("background_flush", "2", ConfigScope::Table), "2");
	text = ValidationError("background_flush_backlog_mb", "0", ConfigScope::Group);
	EXPECT_NE(text.find("integer number of MB from 1 to 1048576"), std::string::npos) << text;
	text = ValidationError("background_flush_backlog_mb", "64", ConfigScope::Table);
	EXPECT_NE(text.find("set it at the global or group level"), std::string::npos) << text;
}

TEST(ConfigRegistry, KeysAreRefusedOutsideTheirScopes) {
	auto text = ValidationError("max_queued_bytes", "4194304", ConfigScope::Table);
	EXPECT_NE(text.find("'max_queued_bytes' cannot be set per table"), std::string::npos) << text;
	EXPECT_NE(text.find("set it at the global or group level"), std::string::npos) << text;
}

TEST(ConfigRegistry, ResolutionOrderIsProcessGlobalGroupTable) {
	ConfigLayers layers{.global = {{"flush_interval_ms", "2000"}},
	                    .group = {{"flush_interval_ms", "300"}},
	                    .table = {{"flush_interval_ms", "40"}}};
	auto at = [&](ConfigScope scope, const ConfigLayers &l) {
		return ConfigRegistry::Resolve("flush_interval_ms", 5000, l, scope);
	};
	EXPECT_EQ(at(ConfigScope::Table, layers).value, 40);
	EXPECT_STREQ(at(ConfigScope::Table, layers).source, "table");
	// A group's own settings never see a table's.
	EXPECT_EQ(at(ConfigScope::Group, layers).value, 300);
	EXPECT_EQ(at(ConfigScope::Global, layers).value, 2000);
	layers.table.clear();
	EXPECT_EQ(at(ConfigScope::Table, layers).value, 300);
	layers.group.clear();
	EXPECT_EQ(at(ConfigScope::Table, layers).value, 2000);
	EXPECT_STREQ(at(ConfigScope::Table, layers).source, "global");
	layers.global.clear();
	EXPECT_EQ(at(ConfigScope::Table, layers).value, 5000);
	EXPECT_STREQ(at(ConfigScope::Table, layers).source, "process");
}

TEST(ConfigRegistry, StoredValuesThatDoNotValidateAreSkipped) {
	// Written past the API (a hand-made UPDATE): the layer below applies.
	ConfigLayers layers{.global = {{"duckdb_threads", "4"}},
	                    .group = {{"duckdb_threads", "lots"}},
	                    .table = {{"max_queued_bytes", "4194304"}}};
	EXPECT_EQ(ConfigRegistry::Resolve("duckdb_threads", 1, layers, ConfigScope::Table).value, 4);
	EXPECT_EQ(ConfigRegistry::Resolve("max_queued_bytes", 1 << 30, layers, ConfigScope::Table).value, 1 << 30);
}

TEST(ConfigRegistry, SettingsResolveOverTheProcessSettings) {
	pipeline::PipelineConfig process;
	process.flush_interval_ms = 700; // a flag or a GUC
	process.duckdb_threads = 3;
	process.data_path = "/lake/";
	ConfigLayers layers{.global = {{"flush_batch_threshold", "50"}},
	                    .group = {{"max_queued_bytes", "8388608"}, {"flush_interval_ms", "100"}},
	                    .table = {{"duckdb_buffer_memory_mb", "64"}}};
	auto table = pipeline::ResolveSettings(process, layers, ConfigScope::Table);
	EXPECT_EQ(table.flush_interval_ms, 100);
	EXPECT_EQ(table.flush_batch_threshold, 50);
	EXPECT_EQ(table.max_queued_bytes, 8388608);
	EXPECT_EQ(table.duckdb_buffer_memory_mb, 64);
	EXPECT_EQ(table.duckdb_flush_memory_mb, 512);
	EXPECT_EQ(table.duckdb_threads, 3);
	EXPECT_EQ(table.data_path, "/lake/"); // everything else is the process's
	auto group = pipeline::ResolveSettings(process, layers, ConfigScope::Group);
	EXPECT_EQ(group.duckdb_buffer_memory_mb, 16);
	EXPECT_FALSE(pipeline::SameSettings(table, group));
}
