#pragma once

#include "core/cdc/relation_cache.hpp"
#include "core/flush/change_buffer.hpp"
#include "core/lake/catalog_model.hpp"
#include "core/pipeline/table_schema.hpp"

#include <string>
#include <vector>

namespace duckpipe {
class PgConnection;
}
namespace duckpipe::lake {
class LakeCommit;
}

namespace duckpipe::pipeline {

// One DuckLake schema evolution step, staged into the lake commit that carries the rows after it.
struct LakeColumnChange {
	// Retype: the source type changed but the lake type stays (varchar(10) -> text): nothing changes in
	// the lake, the lake relation takes the new source type.
	enum class Kind { Add, Drop, Rename, Widen, Retype };
	Kind kind = Kind::Add;
	std::string name;        // the column before the change (Add: the new column's name)
	std::string new_name;    // Rename
	lake::LakeColumn column; // Add: with initial_default for the rows already in the lake
	std::string new_type;    // Widen: the DuckLake type after; Retype: the (unchanged) DuckLake type
};

// What a source DDL means for a synced table: the table's schema after it, the steps for the rows
// already buffered, and the steps for the lake table (applied in the same commit as the rows
// that follow, so the lake never shows the new columns without their data or the reverse).
struct SchemaChange {
	TableSchema schema;
	std::vector<flush::BufferColumnChange> buffer;
	std::vector<LakeColumnChange> lake;
	std::string summary; // "add column c; rename column a to b", for logs

	bool Empty() const { return buffer.empty() && lake.empty(); }

	// True when `rel` has exactly the columns (names, declared types, key flags) `schema` was
	// built from, so nothing needs to be looked up.
	static bool Matches(const TableSchema &schema, const cdc::RelationInfo &rel);

	// Compares `rel` (a Relation message) with `current`, telling a rename from a drop + add by
	// attribute number (looked up in the source catalog by name). Throws Error(Unsupported) naming
	// the table, what changed and how to resync when the lake cannot follow: a type change that is
	// not a widening, a key column dropped or the key changed, a column added with a volatile
	// default (PostgreSQL rewrote the rows without sending them), or a catalog that moved on again.
	static SchemaChange Plan(PgConnection &source, const TableSchema &current, const cdc::RelationInfo &rel);

	// Stages the lake steps into `commit` for lake table `table`.
	static void StageLake(lake::LakeCommit &commit, int64_t table, const std::vector<LakeColumnChange> &changes);
	// Adds to `commit` the call that makes the lake table's PostgreSQL relation follow (when the lake
	// catalog's database has pg_duckpipe: duckpipe.sync_target_relation), in the same transaction.
	static void FollowInRelation(lake::LakeCommit &commit, const std::string &schema, const std::string &table,
	                             const std::string &changes_json);
	// The sync_target_relation change of a lake table created with `columns` (a new copy).
	static std::string ColumnsJson(const std::vector<lake::LakeColumn> &columns);
};

} // namespace duckpipe::pipeline
