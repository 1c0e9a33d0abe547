#pragma once

#include "core/common/lsn.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace duckpipe::meta {

// Persisted table states (duckpipe.table_mappings.state). Transitions:
//   PENDING -> SNAPSHOT -> CATCHUP -> STREAMING
//   any -> ERRORED (retry_at set, failure_count+1) -> PENDING or back to where it failed
//   any -> DISABLED (group disabled or table paused); resync: any -> PENDING with generation+1.
enum class TableState { Pending, Snapshot, Catchup, Streaming, Errored };
const char *TableStateName(TableState state);
TableState ParseTableState(const std::string &text);

enum class SyncMode { Upsert, Append };
const char *SyncModeName(SyncMode mode);
SyncMode ParseSyncMode(const std::string &text);

// Which process runs a group: the extension's background worker or the daemon (never both).
enum class GroupMode { Bgworker, Daemon };
const char *GroupModeName(GroupMode mode);
GroupMode ParseGroupMode(const std::string &text);

// A group's or table's settings (duckpipe.sync_groups.config / table_mappings.config, a JSON
// object): key -> value as text. Keys and values are checked by ConfigRegistry.
using ConfigMap = std::map<std::string, std::string>;
ConfigMap ParseConfigJson(const std::string &json);
std::string ConfigJson(const ConfigMap &config);

struct SyncGroup {
	int id = 0;
	std::string name;
	std::string publication;
	std::string slot_name;
	bool enabled = true;
	std::optional<std::string> conninfo; // remote source; nullopt = this database
	std::optional<Lsn> confirmed_lsn;
	std::optional<std::string> last_error; // the group's current failure, cleared once it works again
	std::optional<std::string> last_error_at;
	std::optional<std::string> notice; // a lasting event (slot lost and recreated)
	GroupMode mode = GroupMode::Daemon;
	ConfigMap config;
};

// Which duckpipe metadata a mapping id belongs to: the system identifier of the cluster and the OID
// of the database holding the `duckpipe` schema (the daemon's --source, where mapping ids are
// allocated). Mapping ids are only unique there, so the lake catalog keys a table's progress by
// (identity, mapping id): several sources can share one lake catalog.
struct SourceIdentity {
	int64_t system_identifier = 0;
	uint32_t database_oid = 0;

	bool IsValid() const { return system_identifier != 0 && database_oid != 0; }
	std::string ToString() const { return std::to_string(system_identifier) + "/" + std::to_string(database_oid); }
	bool operator==(const SourceIdentity &) const = default;
};

struct TableMapping {
	int64_t id = 0;
	int group_id = 0;
	std::string group_name; // of group_id, joined
	uint32_t source_oid = 0;
	std::string source_schema;
	std::string source_table;
	std::string target_schema;
	std::string target_table;
	TableState state = TableState::Pending;
	SyncMode sync_mode = SyncMode::Upsert;
	bool copy_data = true;
	int generation = 1;
	std::optional<Lsn> snapshot_lsn;
	std::optional<Lsn> applied_lsn;
	std::optional<int64_t> lake_table_id;
	int64_t rows_synced = 0;
	std::optional<std::string> error_message;
	std::optional<std::string> retry_at;
	int failure_count = 0;
	std::optional<std::string> last_sync_at;
	// Why this generation was copied; kSlotLost: the group's slot was lost (see ResyncTable).
	std::optional<std::string> resync_reason;
	static constexpr const char *kSlotLost = "slot_lost";
	ConfigMap config;
	// What the last copy took (recorded by the snapshot copy), for status.
	std::optional<int64_t> snapshot_duration_ms;
	std::optional<int64_t> snapshot_rows;
	SourceIdentity source_identity; // of the metadata that allocated `id`

	std::string SourceName() const { return source_schema + "." + source_table; }
	std::string TargetName() const { return target_schema + "." + target_table; }
};

} // namespace duckpipe::meta
