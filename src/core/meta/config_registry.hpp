#pragma once

#include "core/meta/metadata_types.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace duckpipe::meta {

// Where a setting is stored: duckpipe.global_config, a group's config, a table's config.
enum class ConfigScope { Global, Group, Table };
const char *ConfigScopeName(ConfigScope scope);

// One setting users can change at run time. Only settings the core really honours at the scopes
// listed: a per-table value is honoured because each table has its own flush worker and change
// buffer; the queue budget is the group's (one slot consumer).
struct ConfigKey {
	const char *name;
	bool global;
	bool group;
	bool table;
	int64_t min_value;
	int64_t max_value;
	int64_t default_value; // the built-in default, under the process's own setting
	const char *unit;      // what the integer counts, or for a Choice() what each value means
	const char *description;

	bool AllowedAt(ConfigScope scope) const;
	// A switch or a pick among a few values rather than a quantity.
	bool Choice() const { return max_value - min_value <= 2; }
	std::string ScopesText() const; // "global, group or table"
};

// The stored layers over the process's settings (daemon flags, the extension's GUCs), lowest first.
struct ConfigLayers {
	ConfigMap global;
	ConfigMap group;
	ConfigMap table;
};

// The configuration keys, their validation and their resolution:
//   built-in default <- process setting <- global_config <- group config <- table config.
class ConfigRegistry {
public:
	static const std::vector<ConfigKey> &Keys();
	static const ConfigKey *Find(const std::string &key);
	// The key, when it is known and settable at `scope`; otherwise throws as Validate does.
	static const ConfigKey &CheckKey(const std::string &key, ConfigScope scope);
	// Throws Error(Config) naming the key and the fix for an unknown key (listing the known ones), a
	// key not settable at `scope`, or a value that is not an integer within range. Returns the value
	// normalized (decimal integer text).
	static std::string Validate(const std::string &key, const std::string &value, ConfigScope scope);

	struct Resolved {
		int64_t value = 0;
		const char *source = "process"; // process, global, group or table
	};
	// The value in force for `key` at `scope` (a group's settings are resolved at Group: the table
	// layer is ignored). `process_value` is the process's setting (its default is the built-in one).
	// A stored value that does not validate (written past the API) is skipped with a warning.
	static Resolved Resolve(const std::string &key, int64_t process_value, const ConfigLayers &layers,
	                        ConfigScope scope);
};

} // namespace duckpipe::meta
