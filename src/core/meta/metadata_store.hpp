#pragma once

#include "core/meta/config_registry.hpp"
#include "core/meta/metadata_types.hpp"

#include <optional>
#include <string>
#include <vector>

namespace duckpipe {
class PgConnection;
}

namespace duckpipe::meta {

// Reads and writes the `duckpipe` schema: sync groups and table mappings. Shared by the daemon's
// management subcommands, the running pipeline and (later) the extension's SQL API.
class MetadataStore {
public:
	// Applies pending migrations first.
	explicit MetadataStore(PgConnection &conn);

	static constexpr const char *kDefaultGroup = "default";

	// Defaults: publication duckpipe_pub_<name>, slot duckpipe_slot_<name>. The daemon makes groups of
	// its own mode; the extension's API makes bgworker groups (the column's default).
	SyncGroup CreateGroup(const std::string &name, const std::optional<std::string> &publication = {},
	                      const std::optional<std::string> &slot = {}, const std::optional<std::string> &conninfo = {},
	                      GroupMode mode = GroupMode::Daemon);
	// Creates the default group when missing and returns it.
	SyncGroup EnsureDefaultGroup(GroupMode mode = GroupMode::Daemon);
	// Refuses while the group still has tables unless force (which removes their mappings).
	void DropGroup(const std::string &name, bool force = false);
	void SetGroupEnabled(const std::string &name, bool enabled);
	void SetGroupConfirmedLsn(const std::string &name, Lsn lsn);
	void SetGroupSlot(const std::string &name, const std::string &slot_name);
	// The group's current failure for `status` (nullopt clears it; a no-op when nothing changes).
	void SetGroupError(const std::string &name, const std::optional<std::string> &message);
	void SetGroupNotice(const std::string &name, const std::string &notice);
	std::optional<SyncGroup> FindGroup(const std::string &name);
	SyncGroup GetGroup(const std::string &name); // throws Config naming the group if absent
	std::vector<SyncGroup> ListGroups();

	struct AddTableRequest {
		std::string source;                // "schema.table" or "table" (search_path), as regclass text
		std::optional<std::string> target; // "schema.table" or "table"; default <table>_ducklake, same schema
		std::string group = kDefaultGroup;
		bool copy_data = true;
		SyncMode sync_mode = SyncMode::Upsert;
	};
	struct SourceTable {
		uint32_t oid = 0;
		std::string schema;
		std::string table;
	};
	// Resolves `name` on `source` and refuses, with the reason and the fix, what cannot be synced:
	// a missing relation, a view, materialized view, foreign table or other non-table, and an
	// unlogged or temporary table (its changes never reach the WAL). `where` names the source.
	static SourceTable ResolveSource(PgConnection &source, const std::string &name, const std::string &where = "");
	// Resolves the source to its OID (the table must exist on the group's source, which is this
	// database unless the group has a conninfo: then pass its resolved identity via AddResolvedTable).
	TableMapping AddTable(const AddTableRequest &request);
	TableMapping AddResolvedTable(const AddTableRequest &request, uint32_t source_oid, const std::string &schema,
	                              const std::string &table);
	void RemoveTable(int64_t mapping_id);
	// Back to PENDING with a new generation: the pipeline re-snapshots into a fresh lake table.
	// `reason` is kept for `status` (TableMapping::kSlotLost: an append-mode table keeps its changelog).
	void ResyncTable(int64_t mapping_id, const std::optional<std::string> &reason = std::nullopt);
	std::optional<TableMapping> FindTable(const std::string &source_or_target);
	std::optional<TableMapping> FindTableById(int64_t mapping_id);
	std::vector<TableMapping> ListTables(const std::optional<std::string> &group = {});

	void SetState(int64_t mapping_id, int generation, TableState state);
	void SetSnapshotLsn(int64_t mapping_id, int generation, Lsn lsn);
	void SetLakeTableId(int64_t mapping_id, int generation, int64_t lake_table_id);
	void RecordProgress(int64_t mapping_id, int generation, Lsn applied, int64_t rows_synced);
	// ERRORED with exponential backoff: retry_at = now() + min(2^failures s, max_backoff).
	void RecordError(int64_t mapping_id, int generation, const std::string &message, int max_backoff_s = 300);
	void ClearError(int64_t mapping_id, int generation);
	// A flush failing transiently, retried in place (the state stays): the last error, how many in a
	// row, and when the next attempt is, so monitoring shows a table that cannot flush.
	void RecordRetry(int64_t mapping_id, int generation, const std::string &message, int failures, int64_t retry_in_ms);
	// The source table was renamed (or moved to another schema): sync goes on by OID, names follow.
	void SetSourceName(int64_t mapping_id, const std::string &schema, const std::string &table);
	// True when an ERRORED table's retry_at has passed.
	bool RetryDue(int64_t mapping_id);
	// What the copy of this generation took, for status.
	void RecordSnapshotStats(int64_t mapping_id, int generation, int64_t duration_ms, int64_t rows);

	// Settings (ConfigRegistry keys). Setters validate the key for their scope and the value, and
	// notify running pipelines; a nullopt value removes the key (the lower layer applies again).
	ConfigMap GlobalConfig();
	void SetGlobalConfig(const std::string &key, const std::optional<std::string> &value);
	void SetGroupConfig(const std::string &group, const std::string &key, const std::optional<std::string> &value);
	void SetTableConfig(int64_t mapping_id, const std::string &key, const std::optional<std::string> &value);

private:
	TableMapping ReadMapping(int64_t id);

	PgConnection &conn_;
};

} // namespace duckpipe::meta
