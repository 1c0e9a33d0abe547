// The planner side of whole-query execution in DuckDB: duckpipe.duckdb_execution, the planner hook
// that checks a SELECT (duck_exec_check.cpp), writes its DuckDB SQL with pg_get_querydef, and
// returns a PlannedStmt whose plan is the "DuckDB Query" custom scan (duck_exec_scan.cpp). The
// PlannedStmt keeps every relation of the query in its range table, so PostgreSQL's permission
// checks and plan invalidation work as for any plan.
#include "extension/duck_exec.hpp"

#include "extension/duck_exec_check.hpp"
#include "extension/duck_exec_exists.hpp"
#include "extension/duck_exec_types.hpp"
#include "extension/pg_boundary.hpp"

#include <cstring>
#include <set>
#include <string>
#include <utility>

#include "extension/pg_includes.hpp"

extern "C" {
#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "optimizer/optimizer.h"
#include "optimizer/planmain.h"
#include "optimizer/planner.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
}

namespace duckpipe::ext {

namespace {

bool duckdb_execution = true;
planner_hook_type previous_planner = nullptr;

// The DuckDB type of a lake column of this PostgreSQL type (as pg_type_mapping.cpp maps it), for
// the empty view of a lake table not created yet.
std::string DuckTypeOf(Oid type, int32 typmod) {
	switch (type) {
	case BOOLOID:
		return "BOOLEAN";
	case INT2OID:
		return "SMALLINT";
	case INT4OID:
		return "INTEGER";
	case INT8OID:
		return "BIGINT";
	case FLOAT8OID:
		return "DOUBLE";
	case DATEOID:
		return "DATE";
	case TIMESTAMPOID:
		return "TIMESTAMP";
	case TIMESTAMPTZOID:
		return "TIMESTAMPTZ";
	case UUIDOID:
		return "UUID";
	case NUMERICOID: {
		int precision = typmod < VARHDRSZ ? 0 : ((typmod - VARHDRSZ) >> 16) & 0xffff;
		int scale = typmod < VARHDRSZ ? -1 : (typmod - VARHDRSZ) & 0x7ff; // 0x400 set: negative
		if (precision >= 1 && precision <= 38 && scale >= 0 && scale <= precision) {
			return "DECIMAL(" + std::to_string(precision) + "," + std::to_string(scale) + ")";
		}
		return "VARCHAR";
	}
	default:
		return "VARCHAR";
	}
}

std::string QuoteDuck(const char *ident) {
	std::string out = "\"";
	for (const char *p = ident; *p; p++) {
		out += *p == '"' ? "\"\"" : std::string(1, *p);
	}
	return out + "\"";
}

// Schema, name and empty select of each distinct relation, as String nodes.
List *TableList(List *relations) {
	List *out = NIL;
	std::set<Oid> seen;
	ListCell *cell;
	foreach (cell, relations) {
		Oid relid = castNode(RangeTblEntry, lfirst(cell))->relid;
		if (castNode(RangeTblEntry, lfirst(cell))->relkind == RELKIND_VIEW || !seen.insert(relid).second) {
			continue;
		}
		Relation rel = table_open(relid, NoLock);
		TupleDesc desc = RelationGetDescr(rel);
		std::string select;
		for (int i = 0; i < desc->natts; i++) {
			Form_pg_attribute att = TupleDescAttr(desc, i);
			if (!att->attisdropped) {
				select += std::string(select.empty() ? "" : ", ") + "CAST(NULL AS " +
				          DuckTypeOf(att->atttypid, att->atttypmod) + ") AS " + QuoteDuck(NameStr(att->attname));
			}
		}
		select = "SELECT " + (select.empty() ? std::string("NULL") : select) + " WHERE false";
		out = lappend(out, makeString(get_namespace_name(RelationGetNamespace(rel))));
		out = lappend(out, makeString(pstrdup(RelationGetRelationName(rel))));
		out = lappend(out, makeString(pstrdup(select.c_str())));
		table_close(rel, NoLock);
	}
	return out;
}

// pg_get_querydef with an empty search_path: every relation comes out schema-qualified, as the lake
// views are named (lake schema = the relation's schema, lake table = its name), and every
// identifier quoted.
char *DuckSql(Query *query) {
	int nest_level = NewGUCNestLevel();
	(void)set_config_option("search_path", "", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	// DuckDB's keywords are not PostgreSQL's (a column named "at"): every identifier is quoted.
	// Constants are printed in the forms DuckDB reads: ISO dates, PostgreSQL-style intervals, floats
	// with every digit.
	for (auto [name, value] : {std::pair{"quote_all_identifiers", "on"}, std::pair{"DateStyle", "ISO, YMD"},
	                           std::pair{"IntervalStyle", "postgres"}, std::pair{"extra_float_digits", "1"}}) {
		(void)set_config_option(name, value, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	}
	char *sql = pg_get_querydef(query, false);
	AtEOXact_GUC(true, nest_level);
	return sql;
}

PlannedStmt *DuckPlan(Query *parse, List *relations, ParamListInfo params, int cursor_options) {
	Query *prepared = PrepareForDuckDB(parse, params);
	char *sql = DuckSql(prepared);
	List *rtable = NIL;
	List *relation_oids = NIL;
	ListCell *cell;
	foreach (cell, relations) {
		auto *rte = static_cast<RangeTblEntry *>(copyObjectImpl(lfirst(cell)));
		rtable = lappend(rtable, rte);
		relation_oids = lappend_oid(relation_oids, rte->relid);
	}
	// An RTE that names the result columns, for EXPLAIN VERBOSE's output lists.
	RangeTblEntry *names = makeNode(RangeTblEntry);
	names->rtekind = RTE_FUNCTION;
	names->eref = makeAlias("duckdb", NIL);
	names->inFromCl = false;
	rtable = lappend(rtable, names);
	Index names_index = static_cast<Index>(list_length(rtable));
	List *scan_tlist = NIL;
	AttrNumber resno = 0;
	foreach (cell, parse->targetList) {
		auto *tle = static_cast<TargetEntry *>(lfirst(cell));
		if (tle->resjunk) {
			continue;
		}
		resno++;
		Node *expr = reinterpret_cast<Node *>(tle->expr);
		const char *name = tle->resname ? tle->resname : "?column?";
		names->eref->colnames = lappend(names->eref->colnames, makeString(pstrdup(name)));
		Var *var = makeVar(names_index, resno, exprType(expr), exprTypmod(expr), exprCollation(expr), 0);
		scan_tlist = lappend(scan_tlist, makeTargetEntry(reinterpret_cast<Expr *>(var), resno, pstrdup(name), false));
	}
	List *pads = NIL;
	for (int pad : ResultPads(parse)) {
		pads = lappend_int(pads, pad);
	}
	List *private_data = lcons(makeString(sql), lcons(pads, TableList(relations)));
	Plan *plan = MakeDuckQueryScan(scan_tlist, private_data);
	if (cursor_options & CURSOR_OPT_SCROLL) {
		plan = materialize_finished_plan(plan); // the scan only goes forward
	}
	PlannedStmt *stmt = makeNode(PlannedStmt);
	stmt->commandType = CMD_SELECT;
	stmt->queryId = parse->queryId;
	stmt->hasReturning = false;
	stmt->hasModifyingCTE = false;
	stmt->canSetTag = parse->canSetTag;
	stmt->transientPlan = false;
	stmt->dependsOnRole = false;
	stmt->parallelModeNeeded = false;
	stmt->jitFlags = 0;
	stmt->planTree = plan;
	stmt->rtable = rtable;
	stmt->relationOids = relation_oids;
	stmt->utilityStmt = parse->utilityStmt;
	stmt->stmt_location = parse->stmt_location;
	stmt->stmt_len = parse->stmt_len;
	return stmt;
}

// Whether DuckDB (ICU) reads the TimeZone as PostgreSQL does: zone names yes; offsets and POSIX
// rules ("UTC+3", "-08", "<+03>-03") no, their signs mean the opposite there.
bool ZoneDuckDBKnows(const char *zone) {
	std::string z = zone ? zone : "";
	if (z.empty() || z.find_first_of("<>,") != std::string::npos || z[0] == '+' || z[0] == '-' ||
	    (z[0] >= '0' && z[0] <= '9')) {
		return false;
	}
	for (const char *prefix : {"UTC+", "UTC-", "GMT+", "GMT-", "UT+", "UT-"}) {
		if (z.rfind(prefix, 0) == 0) {
			return false;
		}
	}
	return true;
}

// The DuckDB plan of the query, or nullptr for the next planner.
PlannedStmt *TryDuckPlan(Query *parse, const char *query_string, int cursor_options, ParamListInfo params) {
	if (!duckdb_execution || parse->commandType != CMD_SELECT || parse->utilityStmt) {
		return nullptr;
	}
	PlannedStmt *stmt = nullptr;
	PgCall([&] {
		DuckExecVerdict verdict = CheckDuckExecution(parse, params);
		if (!verdict.all_lake) {
			return;
		}
		Query *query = WithExistsSelectingConstants(parse);
		if (query != parse) {
			verdict = CheckDuckExecution(query, params);
		}
		if (!verdict.rls_relation.empty()) {
			ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			                errmsg("row-level security is enabled on lake relation %s", verdict.rls_relation.c_str()),
			                errdetail("pg_duckpipe lake relations do not support row-level security."),
			                errhint("ALTER TABLE %s DISABLE ROW LEVEL SECURITY, and expose the rows a role may see "
			                        "through a view instead.",
			                        verdict.rls_relation.c_str())));
		}
		if (verdict.reason.empty() && (cursor_options & CURSOR_OPT_HOLD)) {
			verdict.reason = "a cursor WITH HOLD";
		}
		if (verdict.reason.empty() && !ZoneDuckDBKnows(GetConfigOption("TimeZone", false, false))) {
			verdict.reason = "the session's TimeZone is an offset or POSIX rule, which DuckDB reads differently "
			                 "(use a zone name such as Europe/Berlin or Etc/GMT+3)";
		}
		if (!verdict.reason.empty()) {
			// A NOTICE for the statement the client sent; a statement inside a function (a polling
			// loop, a monitoring call) says it at DEBUG1 rather than once per call.
			bool top_level = query_string && debug_query_string && strcmp(query_string, debug_query_string) == 0;
			ereport(top_level ? NOTICE : DEBUG1,
			        (errmsg("pg_duckpipe: this query on lake relations runs row by row, not in DuckDB: %s",
			                verdict.reason.c_str()),
			         errhint("docs/lake-relation.md lists what DuckDB execution supports.")));
			return;
		}
		stmt = DuckPlan(query, CollectRelations(parse), params, cursor_options);
	});
	return stmt;
}

PlannedStmt *Planner(Query *parse, const char *query_string, int cursor_options, ParamListInfo params) {
	PlannedStmt *stmt = PgBoundary([&] { return TryDuckPlan(parse, query_string, cursor_options, params); });
	if (stmt) {
		return stmt;
	}
	return previous_planner ? previous_planner(parse, query_string, cursor_options, params)
	                        : standard_planner(parse, query_string, cursor_options, params);
}

} // namespace

void DefineDuckExecutionGucs() {
	DefineCustomBoolVariable("duckpipe.duckdb_execution",
	                         "Runs a SELECT whose relations are all pg_duckpipe lake relations whole in DuckDB.",
	                         "Off: such queries read the lake row by row and PostgreSQL executes them.",
	                         &duckdb_execution, true, PGC_USERSET, 0, nullptr, nullptr, nullptr);
	RegisterDuckQueryScan();
	previous_planner = planner_hook;
	planner_hook = Planner;
}

} // namespace duckpipe::ext
