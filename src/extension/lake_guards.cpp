// The guards around lake relations that are not table access method callbacks: the executor hook
// that refuses writes before any row is read, and the utility hook that refuses renaming them.
#include <string>

#include "extension/lake_am.hpp"
#include "extension/pg_boundary.hpp"
#include "extension/pg_includes.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/skey.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
}

namespace duckpipe::ext {

namespace {

ExecutorCheckPerms_hook_type previous_check_perms = nullptr;

// INSERT, UPDATE, DELETE, MERGE, COPY FROM and SELECT FOR UPDATE ask for write permissions: refused
// before any row is read, even when no row would be written.
bool CheckPerms(List *range_table, bool ereport_on_violation) {
	PgBoundary([&] {
		PgCall([&] {
			ListCell *cell;
			foreach (cell, range_table) {
				auto *rte = static_cast<RangeTblEntry *>(lfirst(cell));
				if (rte->rtekind != RTE_RELATION ||
				    !(rte->requiredPerms & (ACL_INSERT | ACL_UPDATE | ACL_DELETE | ACL_TRUNCATE))) {
					continue;
				}
				Relation rel = RelationIdGetRelation(rte->relid);
				if (!RelationIsValid(rel)) {
					continue;
				}
				bool lake = IsLakeRelation(rel);
				char *name = lake ? quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
				                                               RelationGetRelationName(rel))
				                  : nullptr;
				RelationClose(rel);
				if (lake) {
					ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					                errmsg("cannot modify %s: it is maintained by pg_duckpipe", name),
					                errhint("Change its source table instead: pg_duckpipe copies every change "
					                        "there into the lake, and this relation reads the lake.")));
				}
			}
		});
	});
	return previous_check_perms ? previous_check_perms(range_table, ereport_on_violation) : true;
}

ProcessUtility_hook_type previous_utility = nullptr;

// A lake relation of the schema (qualified name, palloc'd), or nullptr. Renaming a schema renames it
// for its relations too: a lake relation would then read a lake table that is not there.
char *LakeRelationIn(const char *schema) {
	Oid nsp = get_namespace_oid(schema, true);
	Oid am = get_am_oid("duckpipe_lake", true);
	if (!OidIsValid(nsp) || !OidIsValid(am)) {
		return nullptr;
	}
	Relation classes = table_open(RelationRelationId, AccessShareLock);
	ScanKeyData key;
	ScanKeyInit(&key, Anum_pg_class_relnamespace, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(nsp));
	TableScanDesc scan = table_beginscan_catalog(classes, 1, &key);
	// The first by name, so the message does not depend on pg_class's physical order.
	char *first = nullptr;
	HeapTuple tuple;
	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
		auto *form = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple));
		if (form->relam == am && (!first || strcmp(NameStr(form->relname), first) < 0)) {
			first = pstrdup(NameStr(form->relname));
		}
	}
	table_endscan(scan);
	table_close(classes, AccessShareLock);
	return first ? quote_qualified_identifier(schema, first) : nullptr;
}

void CheckSchemaRename(const RenameStmt *stmt) {
	PgBoundary([&] {
		PgCall([&] {
			char *lake = LakeRelationIn(stmt->subname);
			if (lake) {
				ereport(ERROR,
				        (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				         errmsg("cannot rename schema %s: it holds the pg_duckpipe lake relation %s",
				                quote_identifier(stmt->subname), lake),
				         errdetail("A lake relation reads the lake table of its own schema and name."),
				         errhint("Drop its lake relations first: duckpipe.remove_table(source_table, drop_target "
				                 "=> true) for each table synced into it.")));
			}
		});
	});
}

// A lake relation reads the lake table of its own schema and name: renaming it or moving it to
// another schema would silently disconnect it, so both are refused, and so is row-level security (its columns may be
// renamed: the pipeline does so when the source's are).
void CheckUtility(PlannedStmt *pstmt) {
	RangeVar *target = nullptr;
	bool row_security = false;
	if (IsA(pstmt->utilityStmt, AlterTableStmt)) {
		// Row-level security: the DuckDB path (duck_exec.cpp) cannot apply policies, so it is never
		// turned on for a lake relation.
		auto *stmt = castNode(AlterTableStmt, pstmt->utilityStmt);
		ListCell *cell;
		foreach (cell, stmt->cmds) {
			auto subtype = castNode(AlterTableCmd, lfirst(cell))->subtype;
			if (subtype == AT_EnableRowSecurity || subtype == AT_ForceRowSecurity) {
				row_security = true;
				target = stmt->relation;
			}
		}
	} else if (IsA(pstmt->utilityStmt, RenameStmt)) {
		auto *stmt = castNode(RenameStmt, pstmt->utilityStmt);
		if (stmt->renameType == OBJECT_TABLE) {
			target = stmt->relation;
		} else if (stmt->renameType == OBJECT_SCHEMA) {
			CheckSchemaRename(stmt);
		}
	} else if (IsA(pstmt->utilityStmt, AlterObjectSchemaStmt)) {
		auto *stmt = castNode(AlterObjectSchemaStmt, pstmt->utilityStmt);
		if (stmt->objectType == OBJECT_TABLE) {
			target = stmt->relation;
		}
	}
	if (!target) {
		return;
	}
	PgBoundary([&] {
		PgCall([&] {
			Oid relid = RangeVarGetRelid(target, NoLock, true);
			if (!OidIsValid(relid)) {
				return;
			}
			Relation rel = RelationIdGetRelation(relid);
			if (!RelationIsValid(rel)) {
				return;
			}
			bool lake = IsLakeRelation(rel);
			RelationClose(rel);
			if (lake && row_security) {
				ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				                errmsg("cannot enable row-level security on %s: it is a pg_duckpipe lake relation",
				                       quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
				                                                  get_rel_name(relid))),
				                errdetail("Queries on lake relations may run in DuckDB, which does not apply "
				                          "policies."),
				                errhint("Expose the rows a role may see through a view over the lake relation.")));
			}
			if (lake) {
				ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				                errmsg("cannot rename or move %s: it is a pg_duckpipe lake relation",
				                       quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
				                                                  get_rel_name(relid))),
				                errdetail("It reads the lake table of its own schema and name.")));
			}
		});
	});
}

void OnUtility(PlannedStmt *pstmt, const char *query, bool read_only_tree, ProcessUtilityContext context,
               ParamListInfo params, QueryEnvironment *query_env, DestReceiver *dest, QueryCompletion *qc) {
	CheckUtility(pstmt);
	if (previous_utility) {
		previous_utility(pstmt, query, read_only_tree, context, params, query_env, dest, qc);
	} else {
		standard_ProcessUtility(pstmt, query, read_only_tree, context, params, query_env, dest, qc);
	}
}

} // namespace

void RefuseWrite(const char *relation) {
	throw PgError(ERRCODE_FEATURE_NOT_SUPPORTED,
	              std::string("cannot modify ") + relation + ": it is maintained by pg_duckpipe", "",
	              "Change its source table instead: pg_duckpipe copies every change there into the lake, and this "
	              "relation reads the lake.");
}

void RegisterLakeRelation() {
	previous_check_perms = ExecutorCheckPerms_hook;
	ExecutorCheckPerms_hook = CheckPerms;
	previous_utility = ProcessUtility_hook;
	ProcessUtility_hook = OnUtility;
	RegisterLakeDrop();
}

} // namespace duckpipe::ext
