#pragma once

struct RelationData; // PostgreSQL's Relation is a RelationData *

// The table access method duckpipe_lake: a read-only relation whose rows are a lake table's
// current snapshot (lake_am.cpp), and the guards around it (lake_guards.cpp, lake_drop.cpp).
namespace duckpipe::ext {

// Installs the hooks that refuse INSERT/UPDATE/DELETE/MERGE/COPY FROM and renames of lake
// relations, and the drop tracking. Called once from _PG_init.
void RegisterLakeRelation();

// Drop tracking of lake relations (lake_drop.cpp), registered by RegisterLakeRelation.
void RegisterLakeDrop();

// The lake table of duckpipe.add_table, dropped again if the add_table rolls back (lake_create.cpp).
// Called once from _PG_init.
void RegisterLakeCreate();

// Whether the relation uses duckpipe_lake.
bool IsLakeRelation(RelationData *rel);

// Raises (as a PgError) the error for a write to the lake relation `relation` ("schema.name").
[[noreturn]] void RefuseWrite(const char *relation);

} // namespace duckpipe::ext
