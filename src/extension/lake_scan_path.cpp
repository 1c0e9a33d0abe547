// Planning of the "DuckPipe Lake Scan" (see lake_scan_path.hpp): no parallel paths for lake
// relations, and a CustomPath for each base relation of the duckpipe_lake access method
// that reads the needed columns and carries the pushable restriction clauses to the executor.
#include "extension/lake_scan_path.hpp"

#include <algorithm>

#include "extension/lake_am.hpp"
#include "extension/lake_filter_pg.hpp"
#include "extension/lake_session.hpp"
#include "extension/pg_boundary.hpp"
#include "extension/pg_includes.hpp"

extern "C" {
#include "access/relation.h"
#include "access/sysattr.h"
#include "catalog/pg_class.h"
#include "nodes/extensible.h"
#include "nodes/pathnodes.h"
#include "optimizer/cost.h"
#include "optimizer/joininfo.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/plancat.h"
#include "optimizer/restrictinfo.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
}

namespace duckpipe::ext {

namespace {

bool pushdown_enabled = true;
set_rel_pathlist_hook_type previous_pathlist_hook = nullptr;
get_relation_info_hook_type previous_relation_info_hook = nullptr;

// What starting one DuckDB query costs, in the planner's units (~ a sequential page read each).
constexpr Cost kDuckScanStartup = 500.0;

bool IsLake(Oid relid) {
	bool lake = false;
	PgCall([&] {
		Relation rel = RelationIdGetRelation(relid);
		if (rel) {
			lake = IsLakeRelation(rel);
			RelationClose(rel);
		}
	});
	return lake;
}

// The sizes come from the access method's estimate (the lake catalog's, lake_am.cpp); a lake scan is
// not parallel-aware, so no partial seq scan paths for them.
void RelationInfo(PlannerInfo *root, Oid relid, bool inhparent, RelOptInfo *rel) {
	if (previous_relation_info_hook) {
		previous_relation_info_hook(root, relid, inhparent, rel);
	}
	if (!pushdown_enabled || inhparent) {
		return;
	}
	PgBoundary([&] {
		if (IsLake(relid)) {
			rel->rel_parallel_workers = 0;
		}
	});
}

struct LakePath {
	CustomPath path;
};

Plan *PlanLakePath(PlannerInfo *, RelOptInfo *rel, CustomPath *best_path, List *tlist, List *clauses, List *) {
	// newNode/list_makeN are GNU statement expressions and compound literals: spelled out.
	auto *scan = static_cast<CustomScan *>(palloc0(sizeof(CustomScan)));
	NodeSetTag(scan, T_CustomScan);
	scan->scan.plan.targetlist = tlist;
	// Every clause is checked again by PostgreSQL: DuckDB's filter only narrows what comes back.
	scan->scan.plan.qual = extract_actual_clauses(clauses, false);
	scan->scan.scanrelid = rel->relid;
	scan->flags = best_path->flags;
	scan->custom_private = lappend(NIL, linitial(best_path->custom_private));
	scan->custom_exprs = static_cast<List *>(lsecond(best_path->custom_private));
	scan->methods = static_cast<const CustomScanMethods *>(LakeScanExecMethods());
	return &scan->scan.plan;
}

const CustomPathMethods kPathMethods = {
    .CustomName = "DuckPipe Lake Scan",
    .PlanCustomPath = PlanLakePath,
    .ReparameterizeCustomPathByChild = nullptr,
};

void AddLakePath(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte) {
	Relation relation = nullptr;
	PgCall([&] { relation = RelationIdGetRelation(rte->relid); });
	struct Closer {
		Relation r;
		~Closer() { RelationClose(r); } // drops a reference count: cannot fail
	} closer{relation};
	if (!IsLakeRelation(relation)) {
		return;
	}
	// The columns read: the query's and those of every clause (PostgreSQL checks them all again).
	Bitmapset *attrs = nullptr;
	List *pushed = NIL;
	PushContext context;
	context.relid = rti;
	context.rel = relation;
	bool ok = true;
	PgCall([&] {
		pull_varattnos(reinterpret_cast<Node *>(rel->reltarget->exprs), rti, &attrs);
		ListCell *cell;
		foreach (cell, rel->baserestrictinfo) {
			auto *rinfo = static_cast<RestrictInfo *>(lfirst(cell));
			pull_varattnos(reinterpret_cast<Node *>(rinfo->clause), rti, &attrs);
		}
	});
	ListCell *cell;
	foreach (cell, rel->baserestrictinfo) {
		auto *rinfo = static_cast<RestrictInfo *>(lfirst(cell));
		if (!rinfo->pseudoconstant && PushableClause(rinfo->clause, context)) {
			PgCall([&] { pushed = lappend(pushed, rinfo->clause); });
		}
	}
	TupleDesc desc = RelationGetDescr(relation);
	List *columns = NIL;
	int x = -1;
	bool whole_row = false;
	while ((x = bms_next_member(attrs, x)) >= 0) {
		int attno = x + FirstLowInvalidHeapAttributeNumber;
		if (attno < 0) {
			ok = false; // a system column: the access method's scan answers those as it does
		} else if (attno == 0) {
			whole_row = true;
		}
	}
	if (!ok) {
		return;
	}
	PgCall([&] {
		for (int i = 1; i <= desc->natts; i++) {
			if (whole_row || bms_is_member(i - FirstLowInvalidHeapAttributeNumber, attrs)) {
				columns = lappend_int(columns, i);
			}
		}
	});

	// Cost: the share of the table's bytes the columns hold, DuckDB's filter per row, and
	// PostgreSQL's per row that comes back; never above the access method's scan of every column.
	double tuples = std::max(rel->tuples, 1.0);
	double share = desc->natts > 0 ? static_cast<double>(list_length(columns)) / desc->natts : 1.0;
	Selectivity selectivity = 1.0;
	QualCost quals{};
	PgCall([&] {
		selectivity = clauselist_selectivity(root, pushed, rti, JOIN_INNER, nullptr);
		cost_qual_eval(&quals, extract_actual_clauses(rel->baserestrictinfo, false), root);
	});
	double returned = std::max(1.0, tuples * selectivity);
	Cost startup = quals.startup + rel->reltarget->cost.startup;
	Cost total = startup + seq_page_cost * rel->pages * share + cpu_operator_cost * tuples * list_length(pushed) +
	             (cpu_tuple_cost + quals.per_tuple) * returned + rel->reltarget->cost.per_tuple * rel->rows;
	// Every scan (and rescan) of a lake table is a DuckDB query: a few milliseconds before its first
	// row, whatever the table's size. Without that start-up in the costs the planner put lake tables
	// on the inner side of nested loops and reran DuckDB for each of thousands of outer rows (TPC-H
	// q8: 90 s instead of 0.1 s through hash joins). The access method's scans get it too.
	foreach (cell, rel->pathlist) {
		auto *path = static_cast<Path *>(lfirst(cell));
		if (path->pathtype == T_SeqScan || path->pathtype == T_SampleScan) {
			path->startup_cost += kDuckScanStartup;
			path->total_cost += kDuckScanStartup;
		}
	}
	foreach (cell, rel->partial_pathlist) {
		auto *path = static_cast<Path *>(lfirst(cell));
		path->startup_cost += kDuckScanStartup;
		path->total_cost += kDuckScanStartup;
	}
	startup += kDuckScanStartup;
	total += kDuckScanStartup;
	// Never above the access method's scan of every column (by a margin add_path does not blur).
	foreach (cell, rel->pathlist) {
		auto *path = static_cast<Path *>(lfirst(cell));
		if (path->pathtype == T_SeqScan && path->param_info == nullptr) {
			total = std::min(total, path->total_cost * 0.9);
			startup = std::min(startup, path->startup_cost);
		}
	}

	auto add = [&](ParamPathInfo *param_info, List *clauses, double rows) {
		// A parameterized scan reruns DuckDB for every outer row, and the outer side's estimate is often
		// off by orders of magnitude for lake relations (no column statistics): without a margin the
		// planner gambled on selective-looking joins (TPC-H q9: 11 s instead of 0.8 s).
		Cost penalty = param_info ? kDuckScanStartup * 4 : 0;
		PgCall([&] {
			auto *path = static_cast<CustomPath *>(palloc0(sizeof(CustomPath)));
			NodeSetTag(path, T_CustomPath);
			path->path.pathtype = T_CustomScan;
			path->path.parent = rel;
			path->path.pathtarget = rel->reltarget;
			path->path.param_info = param_info;
			path->path.parallel_aware = false;
			path->path.parallel_safe = false;
			path->path.parallel_workers = 0;
			path->path.rows = rows;
			path->path.startup_cost = startup + penalty;
			path->path.total_cost = std::max(total, startup) + penalty;
			path->path.pathkeys = NIL;
			path->flags = CUSTOMPATH_SUPPORT_PROJECTION;
			path->custom_private = lappend(lappend(NIL, columns), clauses);
			path->methods = &kPathMethods;
			add_path(rel, &path->path);
		});
	};
	add(nullptr, pushed, rel->rows);

	// Join clauses "column op column of one other relation": as the inner side of a nested loop the
	// scan gets the outer row's value as a parameter, pushed (and pruning files) like a constant.
	// Each rescan runs DuckDB's query again: costed as a whole scan, so chosen for few outer rows.
	PushContext outer = context;
	outer.outer_vars = true;
	// Equijoins live in equivalence classes, not joininfo: each other base relation joined with
	// this one is a candidate, its ParamPathInfo lists the clauses a parameter would move here.
	List *outer_sets = NIL;
	PgCall([&] {
		for (int i = 1; i < root->simple_rel_array_size; i++) {
			RelOptInfo *other = root->simple_rel_array[i];
			if (other && other != rel && other->reloptkind == RELOPT_BASEREL &&
			    !bms_overlap(other->relids, rel->lateral_referencers) && have_relevant_joinclause(root, rel, other)) {
				outer_sets = lappend(outer_sets, other->relids);
			}
		}
	});
	foreach (cell, outer_sets) {
		ParamPathInfo *param_info = nullptr;
		List *clauses = NIL;
		bool moved = false;
		PgCall([&] {
			clauses = list_copy(pushed);
			param_info = get_baserel_parampathinfo(root, rel, static_cast<Relids>(lfirst(cell)));
		});
		ListCell *c;
		foreach (c, param_info->ppi_clauses) {
			auto *rinfo = static_cast<RestrictInfo *>(lfirst(c));
			if (!rinfo->pseudoconstant && PushableClause(rinfo->clause, outer)) {
				PgCall([&] { clauses = lappend(clauses, rinfo->clause); });
				moved = true;
			}
		}
		if (moved) {
			add(param_info, clauses, param_info->ppi_rows);
		}
	}
}

void SetRelPathlist(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte) {
	if (previous_pathlist_hook) {
		previous_pathlist_hook(root, rel, rti, rte);
	}
	// Plain relations only: not an inheritance parent (its members come here themselves).
	if (!pushdown_enabled || rte->rtekind != RTE_RELATION || rte->relkind != RELKIND_RELATION || rte->inh ||
	    rte->tablesample || IS_DUMMY_REL(rel) ||
	    (rel->reloptkind != RELOPT_BASEREL && rel->reloptkind != RELOPT_OTHER_MEMBER_REL)) {
		return;
	}
	PgBoundary([&] { AddLakePath(root, rel, rti, rte); });
}

} // namespace

bool LakeScanPushdownEnabled() {
	return pushdown_enabled;
}

void DefineLakeScanGucs() {
	DefineCustomBoolVariable(
	    "duckpipe.lake_scan_pushdown",
	    "Scans lake relations with projection and filter pushdown into DuckDB (DuckPipe Lake Scan).",
	    "Off: the table access method's scan, every column of every row, filtered by PostgreSQL.", &pushdown_enabled,
	    true, PGC_USERSET, 0, nullptr, nullptr, nullptr);
}

void RegisterLakeScanPath() {
	previous_pathlist_hook = set_rel_pathlist_hook;
	set_rel_pathlist_hook = SetRelPathlist;
	previous_relation_info_hook = get_relation_info_hook;
	get_relation_info_hook = RelationInfo;
	RegisterCustomScanMethods(static_cast<const CustomScanMethods *>(LakeScanExecMethods()));
}

} // namespace duckpipe::ext
