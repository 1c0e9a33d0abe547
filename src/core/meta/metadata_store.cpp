#include "core/meta/metadata_store.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/meta/migrations.hpp"
#include "core/meta/progress_store.hpp"
#include "core/pg/pg_connection.hpp"

namespace duckpipe::meta {

namespace {

constexpr const char *kGroupColumns = "name, publication, slot_name, enabled, conninfo, confirmed_lsn, last_error, "
                                      "last_error_at::text, notice, id, mode, config::text";

// The last two columns are this database's SourceIdentity (the mapping ids' namespace).
const std::string kMappingColumns =
    std::string("id, (SELECT g.name FROM duckpipe.sync_groups g WHERE g.id = table_mappings.group_id), source_oid, "
                "source_schema, source_table, target_schema, target_table, state, "
                "sync_mode, copy_data, generation, snapshot_lsn, applied_lsn, lake_table_id, rows_synced, "
                "error_message, retry_at, failure_count, last_sync_at, resync_reason, ") +
    ProgressStore::kLocalIdentitySql + ", group_id, config::text, snapshot_duration_ms, snapshot_rows";

// The id of the group named $1, as a scalar subquery (NULL when there is none).
constexpr const char *kGroupIdOfName = "(SELECT id FROM duckpipe.sync_groups WHERE name = $1)";

TableMapping MappingFromRow(const PgResult &r, int row) {
	TableMapping m;
	m.id = r.GetInt(row, 0);
	m.group_name = r.Get(row, 1);
	m.source_oid = static_cast<uint32_t>(r.GetInt(row, 2));
	m.source_schema = r.Get(row, 3);
	m.source_table = r.Get(row, 4);
	m.target_schema = r.Get(row, 5);
	m.target_table = r.Get(row, 6);
	m.state = ParseTableState(std::string(r.Get(row, 7)));
	m.sync_mode = ParseSyncMode(std::string(r.Get(row, 8)));
	m.copy_data = r.GetBool(row, 9);
	m.generation = static_cast<int>(r.GetInt(row, 10));
	if (!r.IsNull(row, 11)) {
		m.snapshot_lsn = Lsn::Parse(r.Get(row, 11));
	}
	if (!r.IsNull(row, 12)) {
		m.applied_lsn = Lsn::Parse(r.Get(row, 12));
	}
	if (!r.IsNull(row, 13)) {
		m.lake_table_id = r.GetInt(row, 13);
	}
	m.rows_synced = r.GetInt(row, 14);
	m.error_message = r.GetOptional(row, 15);
	m.retry_at = r.GetOptional(row, 16);
	m.failure_count = static_cast<int>(r.GetInt(row, 17));
	m.last_sync_at = r.GetOptional(row, 18);
	m.resync_reason = r.GetOptional(row, 19);
	m.source_identity = {.system_identifier = r.GetInt(row, 20),
	                     .database_oid = static_cast<uint32_t>(r.GetInt(row, 21))};
	m.group_id = static_cast<int>(r.GetInt(row, 22));
	m.config = ParseConfigJson(std::string(r.Get(row, 23)));
	if (!r.IsNull(row, 24)) {
		m.snapshot_duration_ms = r.GetInt(row, 24);
	}
	if (!r.IsNull(row, 25)) {
		m.snapshot_rows = r.GetInt(row, 25);
	}
	return m;
}

SyncGroup GroupFromRow(const PgResult &r, int row) {
	SyncGroup g;
	g.name = r.Get(row, 0);
	g.publication = r.Get(row, 1);
	g.slot_name = r.Get(row, 2);
	g.enabled = r.GetBool(row, 3);
	g.conninfo = r.GetOptional(row, 4);
	if (!r.IsNull(row, 5)) {
		g.confirmed_lsn = Lsn::Parse(r.Get(row, 5));
	}
	g.last_error = r.GetOptional(row, 6);
	g.last_error_at = r.GetOptional(row, 7);
	g.notice = r.GetOptional(row, 8);
	g.id = static_cast<int>(r.GetInt(row, 9));
	g.mode = ParseGroupMode(std::string(r.Get(row, 10)));
	g.config = ParseConfigJson(std::string(r.Get(row, 11)));
	return g;
}

// Splits "schema.table" (either part may be double-quoted); no schema -> empty.
std::pair<std::string, std::string> SplitQualified(const std::string &name) {
	std::vector<std::string> parts(1);
	bool quoted = false;
	for (size_t i = 0; i < name.size(); i++) {
		char c = name[i];
		if (c == '"') {
			if (quoted && i + 1 < name.size() && name[i + 1] == '"') {
				parts.back() += '"';
				i++;
			} else {
				quoted = !quoted;
			}
		} else if (c == '.' && !quoted) {
			parts.emplace_back();
		} else {
			parts.back() += c;
		}
	}
	if (parts.size() == 1) {
		return {"", parts[0]};
	}
	if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
		throw Error(ErrorKind::Config, "invalid table name '" + name + "'",
		            {.hint = "write schema.table, quoting names with dots as \"my.schema\".\"my.table\""});
	}
	return {parts[0], parts[1]};
}

} // namespace

MetadataStore::MetadataStore(PgConnection &conn) : conn_(conn) {
	Migrate(conn_);
}

SyncGroup MetadataStore::CreateGroup(const std::string &name, const std::optional<std::string> &publication,
                                     const std::optional<std::string> &slot, const std::optional<std::string> &conninfo,
                                     GroupMode mode) {
	std::string pub = publication.value_or("duckpipe_pub_" + name);
	std::string slot_name = slot.value_or("duckpipe_slot_" + name);
	try {
		conn_.Exec("INSERT INTO duckpipe.sync_groups(name, publication, slot_name, conninfo, mode) "
		           "VALUES ($1, $2, $3, $4, $5)",
		           {name, pub, slot_name, conninfo, std::string(GroupModeName(mode))});
	} catch (const Error &e) {
		if (e.Context().sqlstate == "23505") {
			throw Error(ErrorKind::Config,
			            "a sync group named '" + name + "' or using publication '" + pub + "' or slot '" + slot_name +
			                "' already exists",
			            {.hint = "choose another name, or --publication/--slot"});
		}
		if (e.Context().sqlstate == "23514") {
			throw Error(ErrorKind::Config, "invalid sync group name '" + name + "'",
			            {.hint = "use lowercase letters, digits and underscores (at most 40), starting with a letter"});
		}
		throw;
	}
	log::Info("group.created", "group", name, "publication", pub, "slot", slot_name, "mode", GroupModeName(mode));
	return GetGroup(name);
}

SyncGroup MetadataStore::EnsureDefaultGroup(GroupMode mode) {
	conn_.Exec("INSERT INTO duckpipe.sync_groups(name, publication, slot_name, mode) VALUES ($1, $2, $3, $4) "
	           "ON CONFLICT (name) DO NOTHING",
	           {std::string(kDefaultGroup), std::string("duckpipe_pub_default"), std::string("duckpipe_slot_default"),
	            std::string(GroupModeName(mode))});
	return GetGroup(kDefaultGroup);
}

void MetadataStore::DropGroup(const std::string &name, bool force) {
	PgTransaction tx(conn_);
	GetGroup(name);
	auto n = conn_
	             .Exec(std::string("SELECT count(*) FROM duckpipe.table_mappings WHERE group_id = ") + kGroupIdOfName,
	                   {name})
	             .GetInt(0, 0);
	if (n > 0 && !force) {
		throw Error(ErrorKind::Config, "sync group '" + name + "' still has " + std::to_string(n) + " table(s)",
		            {.hint = "remove them first (duckpipe remove-table) or drop with --force"});
	}
	std::vector<int64_t> ids;
	for (const auto &t : ListTables(name)) {
		ids.push_back(t.id);
	}
	ProgressStore(conn_).ForgetLocal(ids);
	conn_.Exec(std::string("DELETE FROM duckpipe.table_mappings WHERE group_id = ") + kGroupIdOfName, {name});
	conn_.Exec("DELETE FROM duckpipe.sync_groups WHERE name = $1", {name});
	tx.Commit();
	log::Info("group.dropped", "group", name);
}

void MetadataStore::SetGroupEnabled(const std::string &name, bool enabled) {
	auto r = conn_.Exec("UPDATE duckpipe.sync_groups SET enabled = $2, updated_at = now() WHERE name = $1",
	                    {name, std::string(enabled ? "true" : "false")});
	if (r.AffectedRows() == 0) {
		GetGroup(name); // throws the clear error
	}
}

void MetadataStore::SetGroupConfirmedLsn(const std::string &name, Lsn lsn) {
	conn_.Exec("UPDATE duckpipe.sync_groups SET confirmed_lsn = $2, updated_at = now() WHERE name = $1",
	           {name, lsn.ToString()});
}

void MetadataStore::SetGroupSlot(const std::string &name, const std::string &slot_name) {
	conn_.Exec("UPDATE duckpipe.sync_groups SET slot_name = $2, updated_at = now() WHERE name = $1", {name, slot_name});
}

void MetadataStore::SetGroupError(const std::string &name, const std::optional<std::string> &message) {
	conn_.Exec("UPDATE duckpipe.sync_groups SET last_error = $2, last_error_at = CASE WHEN $2 IS NULL THEN NULL "
	           "ELSE now() END, updated_at = now() WHERE name = $1 AND last_error IS DISTINCT FROM $2",
	           {name, message});
}

void MetadataStore::SetGroupNotice(const std::string &name, const std::string &notice) {
	conn_.Exec("UPDATE duckpipe.sync_groups SET notice = now()::timestamptz(0)::text || ': ' || $2, updated_at = now() "
	           "WHERE name = $1",
	           {name, notice});
}

std::optional<SyncGroup> MetadataStore::FindGroup(const std::string &name) {
	auto r = conn_.Exec(std::string("SELECT ") + kGroupColumns + " FROM duckpipe.sync_groups WHERE name = $1", {name});
	if (r.Rows() == 0) {
		return std::nullopt;
	}
	return GroupFromRow(r, 0);
}

SyncGroup MetadataStore::GetGroup(const std::string &name) {
	auto g = FindGroup(name);
	if (!g) {
		throw Error(ErrorKind::Config, "no sync group named '" + name + "'",
		            {.hint = "create it with: duckpipe create-group " + name});
	}
	return *g;
}

std::vector<SyncGroup> MetadataStore::ListGroups() {
	auto r = conn_.Exec(std::string("SELECT ") + kGroupColumns + " FROM duckpipe.sync_groups ORDER BY name");
	std::vector<SyncGroup> out;
	out.reserve(r.Rows());
	for (int i = 0; i < r.Rows(); i++) {
		out.push_back(GroupFromRow(r, i));
	}
	return out;
}

MetadataStore::SourceTable MetadataStore::ResolveSource(PgConnection &source, const std::string &name,
                                                        const std::string &where) {
	auto r = source.Exec("SELECT c.oid, n.nspname, c.relname, c.relkind, c.relpersistence FROM pg_class c "
	                     "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)",
	                     {name});
	std::string on = where.empty() ? "" : " on " + where;
	if (r.Rows() == 0) {
		throw Error(ErrorKind::Config, "source table '" + name + "' does not exist" + on,
		            {.hint = "name an existing table as schema.table"});
	}
	std::string qualified = std::string(r.Get(0, 1)) + "." + std::string(r.Get(0, 2));
	auto relkind = std::string(r.Get(0, 3));
	auto refuse = [&](const std::string &what, const std::string &hint) {
		return Error(ErrorKind::Unsupported, "'" + qualified + "' " + what + on + ": only tables can be synced",
		             {.table = qualified, .hint = hint});
	};
	if (relkind == "v") {
		throw refuse("is a view", "a view has no changes of its own: sync the tables it reads from");
	}
	if (relkind == "m") {
		throw refuse("is a materialized view", "its refreshes are not replicated: sync the tables it is computed from");
	}
	if (relkind == "f") {
		throw refuse("is a foreign table", "its rows live on another server: sync the table there");
	}
	if (relkind != "r" && relkind != "p") {
		throw refuse("is not a table (relkind " + relkind + ")", "name an ordinary or partitioned table");
	}
	auto persistence = r.Get(0, 4);
	if (persistence == "u") {
		throw Error(ErrorKind::Unsupported,
		            "'" + qualified + "' is an unlogged table" + on +
		                ": its changes are not written to the WAL, so logical replication cannot see them",
		            {.table = qualified, .hint = "make it logged first: ALTER TABLE " + qualified + " SET LOGGED"});
	}
	if (persistence == "t") {
		throw Error(ErrorKind::Unsupported,
		            "'" + qualified + "' is a temporary table" + on +
		                ": it lives only in its session and is never replicated",
		            {.table = qualified, .hint = "sync a permanent table"});
	}
	return {static_cast<uint32_t>(r.GetInt(0, 0)), std::string(r.Get(0, 1)), std::string(r.Get(0, 2))};
}

TableMapping MetadataStore::AddTable(const AddTableRequest &request) {
	auto source = ResolveSource(conn_, request.source);
	return AddResolvedTable(request, source.oid, source.schema, source.table);
}

TableMapping MetadataStore::AddResolvedTable(const AddTableRequest &request, uint32_t source_oid,
                                             const std::string &schema, const std::string &table) {
	std::string target_schema = schema;
	std::string target_table = table + "_ducklake";
	if (request.target && !request.target->empty()) {
		auto [ts, tt] = SplitQualified(*request.target);
		target_schema = ts.empty() ? schema : ts;
		target_table = tt;
	}
	if (request.group == kDefaultGroup) {
		EnsureDefaultGroup();
	} else {
		GetGroup(request.group);
	}
	PgResult r;
	try {
		r = conn_.Exec(std::string("INSERT INTO duckpipe.table_mappings(group_id, source_oid, source_schema, "
		                           "source_table, target_schema, target_table, copy_data, sync_mode) VALUES (") +
		                   kGroupIdOfName + ", $2, $3, $4, $5, $6, $7, $8) RETURNING id",
		               {request.group, std::to_string(source_oid), schema, table, target_schema, target_table,
		                std::string(request.copy_data ? "true" : "false"),
		                std::string(SyncModeName(request.sync_mode))});
	} catch (const Error &e) {
		if (e.Context().sqlstate == "23505") {
			auto existing = FindTable(schema + "." + table);
			if (existing) {
				throw Error(ErrorKind::Config,
				            "table " + schema + "." + table + " is already synced (to " + existing->TargetName() +
				                " in group " + existing->group_name + ")",
				            {.hint = "use resync-table to copy it again, or remove-table first"});
			}
			throw Error(ErrorKind::Config, "target " + target_schema + "." + target_table + " is already used",
			            {.hint = "pass another target name"});
		}
		throw;
	}
	auto mapping = ReadMapping(r.GetInt(0, 0));
	log::Info("table.added", "table", mapping.SourceName(), "target", mapping.TargetName(), "group", mapping.group_name,
	          "copy_data", mapping.copy_data);
	return mapping;
}

void MetadataStore::RemoveTable(int64_t mapping_id) {
	PgTransaction tx(conn_);
	ProgressStore(conn_).ForgetLocal({mapping_id});
	auto r = conn_.Exec("DELETE FROM duckpipe.table_mappings WHERE id = $1", {std::to_string(mapping_id)});
	if (r.AffectedRows() == 0) {
		throw Error(ErrorKind::Config, "no table mapping with id " + std::to_string(mapping_id));
	}
	tx.Commit();
}

void MetadataStore::ResyncTable(int64_t mapping_id, const std::optional<std::string> &reason) {
	PgTransaction tx(conn_);
	ProgressStore(conn_).ForgetLocal({mapping_id});
	auto r = conn_.Exec("UPDATE duckpipe.table_mappings SET generation = generation + 1, state = 'PENDING', "
	                    "snapshot_lsn = NULL, applied_lsn = NULL, rows_synced = 0, error_message = NULL, "
	                    "error_at = NULL, retry_at = NULL, failure_count = 0, resync_reason = $2, updated_at = now() "
	                    "WHERE id = $1",
	                    {std::to_string(mapping_id), reason});
	if (r.AffectedRows() == 0) {
		throw Error(ErrorKind::Config, "no table mapping with id " + std::to_string(mapping_id));
	}
	tx.Commit();
}

std::optional<TableMapping> MetadataStore::FindTable(const std::string &source_or_target) {
	auto [schema, table] = SplitQualified(source_or_target);
	// Unqualified names match any schema only when unambiguous.
	auto r = conn_.Exec(std::string("SELECT ") + kMappingColumns +
	                        " FROM duckpipe.table_mappings WHERE "
	                        "(($1 = '' OR source_schema = $1) AND source_table = $2) OR "
	                        "(($1 = '' OR target_schema = $1) AND target_table = $2) ORDER BY id",
	                    {schema, table});
	if (r.Rows() == 0) {
		return std::nullopt;
	}
	if (r.Rows() > 1) {
		throw Error(ErrorKind::Config, "'" + source_or_target + "' matches several synced tables",
		            {.hint = "qualify it with its schema"});
	}
	return MappingFromRow(r, 0);
}

std::optional<TableMapping> MetadataStore::FindTableById(int64_t mapping_id) {
	auto r = conn_.Exec(std::string("SELECT ") + kMappingColumns + " FROM duckpipe.table_mappings WHERE id = $1",
	                    {std::to_string(mapping_id)});
	if (r.Rows() == 0) {
		return std::nullopt;
	}
	return MappingFromRow(r, 0);
}

TableMapping MetadataStore::ReadMapping(int64_t id) {
	auto m = FindTableById(id);
	if (!m) {
		throw Error(ErrorKind::Internal, "table mapping " + std::to_string(id) + " vanished");
	}
	return *m;
}

std::vector<TableMapping> MetadataStore::ListTables(const std::optional<std::string> &group) {
	auto r = group ? conn_.Exec(std::string("SELECT ") + kMappingColumns +
	                                " FROM duckpipe.table_mappings WHERE group_id = " + kGroupIdOfName + " ORDER BY id",
	                            {*group})
	               : conn_.Exec(std::string("SELECT ") + kMappingColumns + " FROM duckpipe.table_mappings ORDER BY id");
	std::vector<TableMapping> out;
	out.reserve(r.Rows());
	for (int i = 0; i < r.Rows(); i++) {
		out.push_back(MappingFromRow(r, i));
	}
	return out;
}

void MetadataStore::SetState(int64_t mapping_id, int generation, TableState state) {
	conn_.Exec("UPDATE duckpipe.table_mappings SET state = $3, updated_at = now() WHERE id = $1 AND generation = $2",
	           {std::to_string(mapping_id), std::to_string(generation), std::string(TableStateName(state))});
}

void MetadataStore::SetSnapshotLsn(int64_t mapping_id, int generation, Lsn lsn) {
	conn_.Exec("UPDATE duckpipe.table_mappings SET snapshot_lsn = $3, updated_at = now() "
	           "WHERE id = $1 AND generation = $2",
	           {std::to_string(mapping_id), std::to_string(generation), lsn.ToString()});
}

void MetadataStore::SetLakeTableId(int64_t mapping_id, int generation, int64_t lake_table_id) {
	conn_.Exec("UPDATE duckpipe.table_mappings SET lake_table_id = $3, updated_at = now() "
	           "WHERE id = $1 AND generation = $2",
	           {std::to_string(mapping_id), std::to_string(generation), std::to_string(lake_table_id)});
}

void MetadataStore::RecordProgress(int64_t mapping_id, int generation, Lsn applied, int64_t rows_synced) {
	conn_.Exec(
	    "UPDATE duckpipe.table_mappings SET applied_lsn = $3, rows_synced = $4, last_sync_at = now(), "
	    "updated_at = now() WHERE id = $1 AND generation = $2",
	    {std::to_string(mapping_id), std::to_string(generation), applied.ToString(), std::to_string(rows_synced)});
}

void MetadataStore::RecordError(int64_t mapping_id, int generation, const std::string &message, int max_backoff_s) {
	conn_.Exec("UPDATE duckpipe.table_mappings SET state = 'ERRORED', error_message = $3, error_at = now(), "
	           "failure_count = failure_count + 1, "
	           "retry_at = now() + make_interval(secs => least(power(2, least(failure_count, 20)), $4::float8)), "
	           "updated_at = now() WHERE id = $1 AND generation = $2",
	           {std::to_string(mapping_id), std::to_string(generation), message, std::to_string(max_backoff_s)});
}

void MetadataStore::ClearError(int64_t mapping_id, int generation) {
	conn_.Exec("UPDATE duckpipe.table_mappings SET error_message = NULL, error_at = NULL, retry_at = NULL, "
	           "failure_count = 0, updated_at = now() WHERE id = $1 AND generation = $2",
	           {std::to_string(mapping_id), std::to_string(generation)});
}

void MetadataStore::SetSourceName(int64_t mapping_id, const std::string &schema, const std::string &table) {
	conn_.Exec("UPDATE duckpipe.table_mappings SET source_schema = $2, source_table = $3, updated_at = now() "
	           "WHERE id = $1 AND (source_schema, source_table) IS DISTINCT FROM ($2, $3)",
	           {std::to_string(mapping_id), schema, table});
}

void MetadataStore::RecordRetry(int64_t mapping_id, int generation, const std::string &message, int failures,
                                int64_t retry_in_ms) {
	conn_.Exec("UPDATE duckpipe.table_mappings SET error_message = $3, error_at = now(), failure_count = $4, "
	           "retry_at = now() + make_interval(secs => $5::float8 / 1000), updated_at = now() "
	           "WHERE id = $1 AND generation = $2 AND state <> 'ERRORED'",
	           {std::to_string(mapping_id), std::to_string(generation), message, std::to_string(failures),
	            std::to_string(retry_in_ms)});
}

bool MetadataStore::RetryDue(int64_t mapping_id) {
	auto r = conn_.Exec("SELECT retry_at IS NULL OR retry_at <= now() FROM duckpipe.table_mappings WHERE id = $1",
	                    {std::to_string(mapping_id)});
	return r.Rows() > 0 && r.GetBool(0, 0);
}

void MetadataStore::RecordSnapshotStats(int64_t mapping_id, int generation, int64_t duration_ms, int64_t rows) {
	conn_.Exec(
	    "UPDATE duckpipe.table_mappings SET snapshot_duration_ms = $3, snapshot_rows = $4, updated_at = now() "
	    "WHERE id = $1 AND generation = $2",
	    {std::to_string(mapping_id), std::to_string(generation), std::to_string(duration_ms), std::to_string(rows)});
}

ConfigMap MetadataStore::GlobalConfig() {
	auto r = conn_.Exec("SELECT key, value FROM duckpipe.global_config ORDER BY key");
	ConfigMap out;
	for (int i = 0; i < r.Rows(); i++) {
		out[std::string(r.Get(i, 0))] = std::string(r.Get(i, 1));
	}
	return out;
}

void MetadataStore::SetGlobalConfig(const std::string &key, const std::optional<std::string> &value) {
	if (!value) {
		ConfigRegistry::CheckKey(key, ConfigScope::Global);
		conn_.Exec("DELETE FROM duckpipe.global_config WHERE key = $1", {key});
		return;
	}
	auto normalized = ConfigRegistry::Validate(key, *value, ConfigScope::Global);
	conn_.Exec("INSERT INTO duckpipe.global_config(key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET "
	           "value = EXCLUDED.value, updated_at = now()",
	           {key, normalized});
}

void MetadataStore::SetGroupConfig(const std::string &group, const std::string &key,
                                   const std::optional<std::string> &value) {
	ConfigRegistry::CheckKey(key, ConfigScope::Group);
	auto normalized = value ? ConfigRegistry::Validate(key, *value, ConfigScope::Group) : std::string();
	auto r =
	    value ? conn_.Exec("UPDATE duckpipe.sync_groups SET config = jsonb_set(config, ARRAY[$2], to_jsonb($3::text)), "
	                       "updated_at = now() WHERE name = $1",
	                       {group, key, normalized})
	          : conn_.Exec("UPDATE duckpipe.sync_groups SET config = config - $2, updated_at = now() WHERE name = $1",
	                       {group, key});
	if (r.AffectedRows() == 0) {
		GetGroup(group); // throws the clear error
	}
}

void MetadataStore::SetTableConfig(int64_t mapping_id, const std::string &key,
                                   const std::optional<std::string> &value) {
	ConfigRegistry::CheckKey(key, ConfigScope::Table);
	auto normalized = value ? ConfigRegistry::Validate(key, *value, ConfigScope::Table) : std::string();
	auto r = value ? conn_.Exec("UPDATE duckpipe.table_mappings SET config = jsonb_set(config, ARRAY[$2], "
	                            "to_jsonb($3::text)), updated_at = now() WHERE id = $1",
	                            {std::to_string(mapping_id), key, normalized})
	               : conn_.Exec("UPDATE duckpipe.table_mappings SET config = config - $2, updated_at = now() "
	                            "WHERE id = $1",
	                            {std::to_string(mapping_id), key});
	if (r.AffectedRows() == 0) {
		throw Error(ErrorKind::Config, "no table mapping with id " + std::to_string(mapping_id));
	}
}

} // namespace duckpipe::meta
