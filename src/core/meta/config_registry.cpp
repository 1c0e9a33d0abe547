#include "core/meta/config_registry.hpp"

#include "core/meta/setting_defaults.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"

#include <charconv>
#include <limits>

namespace duckpipe::meta {

namespace {

constexpr int64_t kNoLimit = std::numeric_limits<int64_t>::max();

const std::vector<ConfigKey> kKeys = {
    {"flush_interval_ms", true, true, true, 1, kNoLimit, defaults::kFlushIntervalMs, "milliseconds",
     "How long a table's changes may wait in its buffer before they are flushed to the lake"},
    {"flush_batch_threshold", true, true, true, 1, kNoLimit, defaults::kFlushBatchThreshold, "rows",
     "Buffered rows of a table that trigger a flush before the interval elapsed"},
    {"max_queued_bytes", true, true, false, 1 << 20, kNoLimit, defaults::kMaxQueuedBytes, "bytes",
     "Bytes of changes a group holds in memory before it stops reading WAL (backpressure)"},
    {"duckdb_buffer_memory_mb", true, true, true, 1, 1 << 20, defaults::kDuckdbBufferMemoryMb, "MB",
     "Memory limit of a table's change buffer (beyond it the buffer spills to temp files)"},
    {"duckdb_flush_memory_mb", true, true, true, 1, 1 << 20, defaults::kDuckdbFlushMemoryMb, "MB",
     "Memory limit of a table's DuckDB while it flushes or copies the table"},
    {"duckdb_threads", true, true, true, 1, 256, defaults::kDuckdbThreads, "threads",
     "Threads of a table's embedded DuckDB"},
    {"auto_compact", true, true, true, 0, 1, defaults::kAutoCompact, "0 (off) or 1 (on)",
     "Merge a table's small lake files in the background while it streams"},
    {"compact_min_files", true, true, true, 2, kNoLimit, defaults::kCompactMinFiles, "files",
     "Small files of a table that start a background compaction (the smallest are merged first)"},
    {"compact_target_file_size_mb", true, true, true, 1, 1 << 20, defaults::kCompactTargetFileSizeMb, "MB",
     "Size below which a lake file counts as small and is merged; merged files stay below it"},
    {"compact_interval_ms", true, true, true, 1000, kNoLimit, defaults::kCompactIntervalMs, "milliseconds",
     "How often every small file of a table is merged into one, whatever their sizes"},
    {"background_flush", true, true, true, 0, 2, defaults::kBackgroundFlush,
     "0 (never), 1 (always) or 2 (while the group catches up)",
     "A table's flush thread at background CPU priority (SCHED_IDLE), behind every other thread of the "
     "machine, so the thread reading the walsender never waits for it: a backlog drains faster on a small "
     "machine. 1: always; 2: while the group's stream trails the server's WAL by "
     "background_flush_backlog_mb. Starved of CPU for 5 s, it runs at normal priority for a minute"},
    {"background_flush_backlog_mb", true, true, false, 1, 1 << 20, defaults::kBackgroundFlushBacklogMb, "MB",
     "WAL the group's stream trails the server by that counts as catching up (background_flush = 2); "
     "it is live again once within a quarter of it"},
    {"stream_in_progress", true, true, false, 0, 1, defaults::kStreamInProgress, "0 or 1",
     "1: the server streams large transactions while they run (pgoutput protocol 2), kept until they "
     "commit; 0: it decodes each one whole first (protocol 1). Takes effect when the group reconnects"},
};

std::string KnownKeys() {
	std::string out;
	for (const auto &k : kKeys) {
		out += (out.empty() ? "" : ", ") + std::string(k.name);
	}
	return out;
}

bool ParseInteger(const std::string &text, int64_t &out) {
	const char *begin = text.data();
	const char *end = begin + text.size();
	if (begin != end && *begin == '+') {
		begin++;
	}
	auto [ptr, ec] = std::from_chars(begin, end, out);
	return ec == std::errc() && ptr == end && begin != end;
}

} // namespace

const char *ConfigScopeName(ConfigScope scope) {
	switch (scope) {
	case ConfigScope::Global:
		return "global";
	case ConfigScope::Group:
		return "group";
	case ConfigScope::Table:
		return "table";
	}
	return "global";
}

bool ConfigKey::AllowedAt(ConfigScope scope) const {
	switch (scope) {
	case ConfigScope::Global:
		return global;
	case ConfigScope::Group:
		return group;
	case ConfigScope::Table:
		return table;
	}
	return false;
}

std::string ConfigKey::ScopesText() const {
	std::vector<std::string> scopes;
	for (auto s : {ConfigScope::Global, ConfigScope::Group, ConfigScope::Table}) {
		if (AllowedAt(s)) {
			scopes.emplace_back(ConfigScopeName(s));
		}
	}
	std::string out;
	for (size_t i = 0; i < scopes.size(); i++) {
		out += (i == 0 ? "" : i + 1 == scopes.size() ? " or " : ", ") + scopes[i];
	}
	return out;
}

const std::vector<ConfigKey> &ConfigRegistry::Keys() {
	return kKeys;
}

const ConfigKey *ConfigRegistry::Find(const std::string &key) {
	for (const auto &k : kKeys) {
		if (key == k.name) {
			return &k;
		}
	}
	return nullptr;
}

const ConfigKey &ConfigRegistry::CheckKey(const std::string &key, ConfigScope scope) {
	const auto *k = Find(key);
	if (!k) {
		throw Error(ErrorKind::Config, "unknown configuration key '" + key + "'",
		            {.hint = "use one of: " + KnownKeys()});
	}
	if (!k->AllowedAt(scope)) {
		throw Error(ErrorKind::Config,
		            std::string("configuration key '") + k->name + "' cannot be set per " + ConfigScopeName(scope),
		            {.hint = std::string("set it at the ") + k->ScopesText() + " level"});
	}
	return *k;
}

std::string ConfigRegistry::Validate(const std::string &key, const std::string &value, ConfigScope scope) {
	const auto *k = &CheckKey(key, scope);
	int64_t parsed = 0;
	std::string range = k->max_value == kNoLimit
	                        ? ", at least " + std::to_string(k->min_value)
	                        : " from " + std::to_string(k->min_value) + " to " + std::to_string(k->max_value);
	if (!ParseInteger(value, parsed) || parsed < k->min_value || parsed > k->max_value) {
		throw Error(ErrorKind::Config,
		            std::string("invalid value '") + value + "' for configuration key '" + k->name + "'",
		            {.hint = k->Choice() ? std::string("give ") + k->unit
		                                 : std::string("give an integer number of ") + k->unit + range});
	}
	return std::to_string(parsed);
}

ConfigRegistry::Resolved ConfigRegistry::Resolve(const std::string &key, int64_t process_value,
                                                 const ConfigLayers &layers, ConfigScope scope) {
	Resolved out{.value = process_value, .source = "process"};
	auto apply = [&](const ConfigMap &layer, ConfigScope at) {
		auto it = layer.find(key);
		if (it == layer.end()) {
			return;
		}
		try {
			out.value = std::stoll(Validate(key, it->second, at));
			out.source = ConfigScopeName(at);
		} catch (const Error &e) {
			log::Warn("config.ignored", "key", key, "scope", ConfigScopeName(at), "error", e.what());
		}
	};
	apply(layers.global, ConfigScope::Global);
	if (scope != ConfigScope::Global) {
		apply(layers.group, ConfigScope::Group);
	}
	if (scope == ConfigScope::Table) {
		apply(layers.table, ConfigScope::Table);
	}
	return out;
}

} // namespace duckpipe::meta
