// Transparent query routing: a planner hook that rewrites SELECTs reading synced source tables to
// read their lake relations instead (docs/lake-relation.md, "Query routing"). The decision and the
// rewrite are PostgreSQL-style code run inside one PgCall (no C++ object with a destructor lives
// there); the rewritten query then goes to the previous planner hook (whole-query execution in
// DuckDB sees the lake relations). A cached plan's decision is taken again at each execution in a
// later statement (an ExecutorStart hook): the plan is replaced when the state of the tables says
// otherwise now.
#include "extension/query_routing.hpp"

#include "extension/lake_am.hpp"
#include "extension/pg_boundary.hpp"
#include "extension/routing_settings.hpp"
#include "extension/routing_tree.hpp"
#include "extension/shared_state.hpp"

#include <cstdlib>
#include <cstring>

#include "extension/pg_includes.hpp"

extern "C" {
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_inherits.h"
#include "commands/extension.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "optimizer/planner.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
}

namespace duckpipe::ext {

namespace {

planner_hook_type previous_planner = nullptr;
ExecutorStart_hook_type previous_executor_start = nullptr;
// Set while the router runs: the metadata query it plans is not routed.
bool routing_now = false;

// A synced table of a group whose source is this server (a remote group's source_oid names a table
// of another server).
struct Mapping {
	Oid source_oid;
	char *target_schema;
	char *target_table;
	char *state;
	char *sync_mode;
	char *group;
	bool group_enabled;
};

bool ExtensionReady() {
	if (creating_extension || !OidIsValid(get_extension_oid("pg_duckpipe", true))) {
		return false;
	}
	Oid nsp = get_namespace_oid("duckpipe", true);
	return OidIsValid(nsp) && OidIsValid(get_relname_relid("table_mappings", nsp)) &&
	       OidIsValid(get_relname_relid("sync_groups", nsp));
}

char *Column(int row, int column) {
	char *value = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, column);
	return value ? value : pstrdup("");
}

// The metadata is not readable by the querying role: read as the bootstrap superuser, in a
// restricted context, with every operator schema-qualified (the caller's search_path is in force).
int LoadMappings(Mapping **out) {
	MemoryContext caller = CurrentMemoryContext;
	Oid saved_user;
	int saved_context;
	GetUserIdAndSecContext(&saved_user, &saved_context);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
	                       saved_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	int n = 0;
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT) {
			elog(ERROR, "pg_duckpipe: SPI_connect failed");
		}
		int rc = SPI_execute("SELECT m.source_oid, m.target_schema, m.target_table, m.state, m.sync_mode, g.name, "
		                     "g.enabled FROM duckpipe.table_mappings m JOIN duckpipe.sync_groups g "
		                     "ON g.id OPERATOR(pg_catalog.=) m.group_id WHERE g.conninfo IS NULL",
		                     true, 0);
		if (rc != SPI_OK_SELECT) {
			elog(ERROR, "pg_duckpipe: reading duckpipe.table_mappings failed (%d)", rc);
		}
		n = static_cast<int>(SPI_processed);
		MemoryContext spi = MemoryContextSwitchTo(caller);
		*out = static_cast<Mapping *>(palloc0(sizeof(Mapping) * static_cast<size_t>(n + 1)));
		for (int i = 0; i < n; i++) {
			auto &m = (*out)[i];
			m.source_oid = static_cast<Oid>(strtoul(Column(i, 1), nullptr, 10));
			m.target_schema = Column(i, 2);
			m.target_table = Column(i, 3);
			m.state = Column(i, 4);
			m.sync_mode = Column(i, 5);
			m.group = Column(i, 6);
			m.group_enabled = strcmp(Column(i, 7), "t") == 0;
		}
		MemoryContextSwitchTo(spi);
		SPI_finish();
	}
	PG_FINALLY();
	{ SetUserIdAndSecContext(saved_user, saved_context); }
	PG_END_TRY();
	return n;
}

const Mapping *FindMapping(const Mapping *mappings, int n, Oid relid) {
	for (int i = 0; i < n; i++) {
		if (mappings[i].source_oid == relid) {
			return &mappings[i];
		}
	}
	return nullptr;
}

char *RelationName(Oid relid) {
	char *nsp = get_namespace_name(get_rel_namespace(relid));
	char *name = get_rel_name(relid);
	return quote_qualified_identifier(nsp ? nsp : "?", name ? name : "?");
}

bool IsLakeRelationOid(Oid relid) {
	Relation rel = RelationIdGetRelation(relid);
	if (!RelationIsValid(rel)) {
		return false;
	}
	bool lake = IsLakeRelation(rel);
	RelationClose(rel);
	return lake;
}

Bitmapset *MapColumns(const Bitmapset *columns, const short *map, int length) {
	Bitmapset *out = nullptr;
	int member = -1;
	while ((member = bms_next_member(columns, member)) >= 0) {
		int attno = member + FirstLowInvalidHeapAttributeNumber;
		if (attno > 0 && attno <= length) {
			attno = map[attno - 1];
		}
		out = bms_add_member(out, attno - FirstLowInvalidHeapAttributeNumber);
	}
	return out;
}

// Whether this source table may be read from its lake relation; fills `target` when it may,
// otherwise returns why not.
char *CheckTable(const RoutingRelation &relation, const Mapping &mapping, const RoutingSettings &settings,
                 RouteTarget *target, char **lake_name) {
	RangeTblEntry *rte = relation.rte;
	char *source_name = RelationName(rte->relid);
	if (strcmp(mapping.sync_mode, "upsert") != 0) {
		return psprintf("%s is synced in %s mode: its lake table is a changelog, not a copy", source_name,
		                mapping.sync_mode);
	}
	if (!mapping.group_enabled) {
		return psprintf("the group %s of %s is disabled", quote_identifier(mapping.group), source_name);
	}
	if (strcmp(mapping.state, "STREAMING") != 0) {
		return psprintf("%s is in state %s, not STREAMING", source_name, mapping.state);
	}
	if (rte->tablesample) {
		return psprintf("%s is read with TABLESAMPLE", source_name);
	}
	if (rte->relkind == RELKIND_RELATION && rte->inh && has_subclass(rte->relid)) {
		return psprintf("%s has inheritance children", source_name);
	}
	Oid nsp = get_namespace_oid(mapping.target_schema, true);
	Oid lake_oid = OidIsValid(nsp) ? get_relname_relid(mapping.target_table, nsp) : InvalidOid;
	*lake_name = quote_qualified_identifier(mapping.target_schema, mapping.target_table);
	if (!OidIsValid(lake_oid)) {
		return psprintf("its lake relation %s does not exist", *lake_name);
	}
	Relation lake = relation_open(lake_oid, AccessShareLock);
	Relation source = relation_open(rte->relid, NoLock);
	char *reason = nullptr;
	TupleDesc source_desc = RelationGetDescr(source);
	TupleDesc lake_desc = RelationGetDescr(lake);
	if (!IsLakeRelation(lake)) {
		reason = psprintf("%s is not a duckpipe_lake relation", *lake_name);
	} else if (source->rd_rel->relrowsecurity || lake->rd_rel->relrowsecurity) {
		reason = psprintf("%s or %s has row-level security", source_name, *lake_name);
	}
	auto *map = static_cast<short *>(palloc0(sizeof(short) * static_cast<size_t>(source_desc->natts + 1)));
	for (int i = 0; !reason && i < source_desc->natts; i++) {
		Form_pg_attribute column = TupleDescAttr(source_desc, i);
		if (column->attisdropped) {
			continue;
		}
		Form_pg_attribute found = nullptr;
		for (int j = 0; j < lake_desc->natts && !found; j++) {
			Form_pg_attribute candidate = TupleDescAttr(lake_desc, j);
			if (!candidate->attisdropped && strcmp(NameStr(candidate->attname), NameStr(column->attname)) == 0) {
				found = candidate;
			}
		}
		if (!found) {
			reason = psprintf("column %s of %s is not in %s", quote_identifier(NameStr(column->attname)), source_name,
			                  *lake_name);
		} else if (found->atttypid != column->atttypid || found->atttypmod != column->atttypmod ||
		           found->attcollation != column->attcollation) {
			reason = psprintf("column %s differs in type or collation between %s and %s",
			                  quote_identifier(NameStr(column->attname)), source_name, *lake_name);
		} else {
			map[i] = found->attnum;
		}
	}
	if (!reason && HasWholeRowOrSystemRef(relation)) {
		reason = psprintf("the query reads %s as a whole row or a system column", source_name);
	}
	if (!reason && settings.mode == RoutingMode::Auto) {
		Bitmapset *key = RelationGetIndexAttrBitmap(source, INDEX_ATTR_BITMAP_PRIMARY_KEY);
		if (bms_is_empty(key)) {
			key = RelationGetIndexAttrBitmap(source, INDEX_ATTR_BITMAP_IDENTITY_KEY);
		}
		if (IsPointLookup(relation, key)) {
			reason = psprintf("point lookup on %s by its key", source_name);
		}
	}
	List *colnames = NIL;
	for (int j = 0; !reason && j < lake_desc->natts; j++) {
		Form_pg_attribute column = TupleDescAttr(lake_desc, j);
		const char *name = column->attisdropped ? "" : NameStr(column->attname);
		// The query's column aliases of the source column, for EXPLAIN.
		for (int i = 0; i < source_desc->natts; i++) {
			if (map[i] == column->attnum && i < list_length(rte->eref->colnames)) {
				name = strVal(list_nth(rte->eref->colnames, i));
			}
		}
		colnames = lappend(colnames, makeString(pstrdup(name)));
	}
	int natts = source_desc->natts;
	relation_close(source, NoLock);
	relation_close(lake, NoLock);
	if (reason) {
		return reason;
	}
	// SELECT on both: the source's (as if not routed), and the lake relation's for the same columns.
	// Without either, the query is not routed (and fails as it would have, or reads the source).
	if (!ExecCheckRTPerms(list_make1(rte), false)) {
		return psprintf("no SELECT privilege on %s", source_name);
	}
	RangeTblEntry *check = static_cast<RangeTblEntry *>(copyObjectImpl(rte));
	check->relid = lake_oid;
	check->requiredPerms = ACL_SELECT;
	check->selectedCols = MapColumns(rte->selectedCols, map, natts);
	check->insertedCols = check->updatedCols = check->extraUpdatedCols = nullptr;
	if (!ExecCheckRTPerms(list_make1(check), false)) {
		return psprintf("no SELECT privilege on its lake relation %s", *lake_name);
	}
	Freshness fresh = ReadFreshness(MyDatabaseId, mapping.group);
	if (!fresh.running) {
		return psprintf("the worker of group %s is not running", quote_identifier(mapping.group));
	}
	if (fresh.lag_ms < 0) {
		return psprintf("group %s has not caught up since its worker started", quote_identifier(mapping.group));
	}
	if (fresh.lag_ms > settings.max_lag_ms) {
		return psprintf("the lake of group %s lags %lld ms, over duckpipe.query_routing_max_lag (%lld ms)",
		                quote_identifier(mapping.group), static_cast<long long>(fresh.lag_ms),
		                static_cast<long long>(settings.max_lag_ms));
	}
	*target = RouteTarget{relation.query, relation.rti, lake_oid, map, natts, colnames, check->selectedCols};
	return nullptr;
}

// What the router did, for the planner hook to record in the plan.
struct Outcome {
	bool touched;  // the query reads synced tables: the decision depends on their state
	List *sources; // OIDs of the routed source tables (the plan is invalidated when they change)
};

void Notice(const char *text) {
	ereport(NOTICE, (errmsg("duckpipe.query_routing: %s", text)));
}

Query *Route(Query *parse, const RoutingSettings &settings, Outcome *outcome) {
	QueryShape shape = DescribeQuery(parse);
	bool any_table = false;
	for (int i = 0; i < shape.nrelations; i++) {
		char kind = shape.relations[i].rte->relkind;
		any_table = any_table || kind == RELKIND_RELATION || kind == RELKIND_PARTITIONED_TABLE;
	}
	if (!any_table || !ExtensionReady()) {
		return parse;
	}
	Mapping *mappings = nullptr;
	int nmappings = LoadMappings(&mappings);
	auto *synced = static_cast<int *>(palloc(sizeof(int) * static_cast<size_t>(shape.nrelations)));
	auto **synced_mapping =
	    static_cast<const Mapping **>(palloc(sizeof(Mapping *) * static_cast<size_t>(shape.nrelations)));
	int nsynced = 0;
	char *other = nullptr;
	for (int i = 0; i < shape.nrelations; i++) {
		RangeTblEntry *rte = shape.relations[i].rte;
		if (rte->relkind == RELKIND_VIEW) {
			continue; // the view's permission entry: its tables are in the query already
		}
		const Mapping *mapping = FindMapping(mappings, nmappings, rte->relid);
		if (mapping) {
			synced_mapping[nsynced] = mapping;
			synced[nsynced++] = i;
		} else if (!other && !IsLakeRelationOid(rte->relid)) {
			other = RelationName(rte->relid);
		}
	}
	if (nsynced == 0) {
		return parse;
	}
	outcome->touched = true;
	char *reason = nullptr;
	if (shape.writes) {
		reason = pstrdup("the query writes (INSERT, UPDATE, DELETE, MERGE or a data-modifying WITH)");
	} else if (shape.row_marks) {
		reason = pstrdup("the query locks rows (FOR UPDATE/SHARE)");
	} else if (settings.mode == RoutingMode::Auto && other) {
		reason = psprintf("the query also reads %s, which is not synced", other);
	} else if (settings.mode == RoutingMode::Auto && TransactionIdIsValid(GetTopTransactionIdIfAny())) {
		reason = pstrdup("the transaction has written");
	} else if (settings.mode == RoutingMode::Auto && IsolationIsSerializable()) {
		reason = pstrdup("the transaction is SERIALIZABLE");
	}
	auto *targets = static_cast<RouteTarget *>(palloc0(sizeof(RouteTarget) * static_cast<size_t>(nsynced)));
	auto **lake_names = static_cast<char **>(palloc0(sizeof(char *) * static_cast<size_t>(nsynced)));
	for (int k = 0; !reason && k < nsynced; k++) {
		reason = CheckTable(shape.relations[synced[k]], *synced_mapping[k], settings, &targets[k], &lake_names[k]);
	}
	if (reason) {
		if (settings.log) {
			Notice(psprintf("not routed: %s", reason));
		}
		return parse;
	}
	Query *routed = RewriteQuery(parse, targets, nsynced);
	for (int k = 0; k < nsynced; k++) {
		Oid source = shape.relations[synced[k]].rte->relid;
		outcome->sources = list_append_unique_oid(outcome->sources, source);
		if (settings.log) {
			Notice(psprintf("%s -> %s", RelationName(source), lake_names[k]));
		}
	}
	return routed;
}

// The SELECTs planned for synced tables whose plans may be cached, each under the tag its plan
// carries as its last relation OID (a value no relation of this backend's plans has in practice,
// and checked against the plan's other OIDs): the statement as parsed, to decide and plan again when
// the decision changed. The oldest is forgotten first (its plan, if still cached, then keeps its
// decision until re-planned for another reason).
struct TrackedPlan {
	Oid tag;
	MemoryContext context; // holds query and relations
	Query *query;          // before routing (the planner changes the Query it plans)
	List *relations;       // the plan's relation OIDs, tag excluded
	int cursor_options;
	bool routed;
	TimestampTz statement; // when the statement that planned it started
	LocalTransactionId transaction;
};
constexpr int kTrackedPlans = 64;
constexpr Oid kFirstTag = 0xC0000000u;
TrackedPlan tracked[kTrackedPlans];
int tracked_next = 0;
Oid next_tag = kFirstTag;

bool SameStatement(const TrackedPlan &plan) {
	return plan.statement == GetCurrentStatementStartTimestamp() && MyProc && plan.transaction == MyProc->lxid;
}

// Remembers a plan of a statement that read synced tables (PostgreSQL-style code).
void Track(PlannedStmt *plan, Query *original, int cursor_options, bool routed) {
	TrackedPlan &slot = tracked[tracked_next];
	tracked_next = (tracked_next + 1) % kTrackedPlans;
	if (slot.context) {
		MemoryContextDelete(slot.context);
		slot = TrackedPlan{};
	}
	MemoryContext context =
	    AllocSetContextCreateInternal(TopMemoryContext, "pg_duckpipe routed plan", ALLOCSET_SMALL_SIZES);
	MemoryContext caller = MemoryContextSwitchTo(context);
	slot.query = static_cast<Query *>(copyObjectImpl(original));
	slot.relations = list_copy(plan->relationOids);
	MemoryContextSwitchTo(caller);
	slot.context = context;
	slot.tag = next_tag++;
	if (next_tag == InvalidOid) {
		next_tag = kFirstTag;
	}
	slot.cursor_options = cursor_options;
	slot.routed = routed;
	slot.statement = GetCurrentStatementStartTimestamp();
	slot.transaction = MyProc ? MyProc->lxid : InvalidLocalTransactionId;
	plan->relationOids = lappend_oid(plan->relationOids, slot.tag);
}

TrackedPlan *FindTracked(const PlannedStmt *plan) {
	if (plan->commandType != CMD_SELECT || list_length(plan->relationOids) == 0) {
		return nullptr;
	}
	Oid tag = llast_oid(plan->relationOids);
	if (tag < kFirstTag) {
		return nullptr;
	}
	for (auto &candidate : tracked) {
		if (candidate.context && candidate.tag == tag &&
		    list_length(candidate.relations) + 1 == list_length(plan->relationOids)) {
			bool same = true;
			for (int i = 0; same && i < list_length(candidate.relations); i++) {
				same = list_nth_oid(candidate.relations, i) == list_nth_oid(plan->relationOids, i);
			}
			if (same) {
				return &candidate;
			}
		}
	}
	return nullptr;
}

struct RoutingGuard {
	RoutingGuard() { routing_now = true; }
	~RoutingGuard() { routing_now = false; }
};

PlannedStmt *RoutingPlanner(Query *parse, const char *query_string, int cursor_options, ParamListInfo params) {
	Outcome outcome{false, NIL};
	Query *query = parse;
	Query *original = nullptr;
	RoutingSettings settings = CurrentRoutingSettings();
	if (settings.mode != RoutingMode::Off && !routing_now && parse->commandType != CMD_UTILITY &&
	    IsTransactionState()) {
		PgBoundary([&] {
			RoutingGuard guard;
			PgCall([&] {
				original = static_cast<Query *>(copyObjectImpl(parse));
				query = Route(parse, settings, &outcome);
			});
		});
	}
	PlannedStmt *plan = previous_planner ? previous_planner(query, query_string, cursor_options, params)
	                                     : standard_planner(query, query_string, cursor_options, params);
	if (outcome.touched) {
		// Transient: re-planned when TransactionXmin moves; invalidated with the source tables'
		// definitions and privileges (their relcache invalidations reach the plan); and decided again
		// by RoutingExecutorStart at each later execution.
		plan->transientPlan = true;
		ListCell *cell;
		foreach (cell, outcome.sources) {
			plan->relationOids = lappend_oid(plan->relationOids, lfirst_oid(cell));
		}
		if (original->commandType == CMD_SELECT && !original->rowMarks) {
			PgBoundary([&] { PgCall([&] { Track(plan, original, cursor_options, query != parse); }); });
		}
	}
	return plan;
}

// A cached plan of a SELECT of synced tables, run in a statement after the one that planned it: is
// it routed as the tables' state (group enabled, STREAMING, worker running, lag, ...) says now? The
// plan to replace when not, else null.
TrackedPlan *Stale(QueryDesc *desc) {
	TrackedPlan *plan = FindTracked(desc->plannedstmt);
	if (!plan || SameStatement(*plan)) {
		return nullptr;
	}
	RoutingSettings settings = CurrentRoutingSettings();
	bool routed_now = false;
	if (settings.mode != RoutingMode::Off) {
		settings.log = false; // the decision is told once, when planned
		Outcome outcome{false, NIL};
		Query *query = static_cast<Query *>(copyObjectImpl(plan->query));
		routed_now = Route(query, settings, &outcome) != query;
	}
	if (routed_now != plan->routed) {
		return plan;
	}
	plan->statement = GetCurrentStatementStartTimestamp(); // decided for this statement
	plan->transaction = MyProc ? MyProc->lxid : InvalidLocalTransactionId;
	return nullptr;
}

void RoutingExecutorStart(QueryDesc *desc, int eflags) {
	const List *relations = desc->plannedstmt->relationOids;
	if (!routing_now && relations && llast_oid(relations) >= kFirstTag && IsTransactionState()) {
		PgBoundary([&] {
			TrackedPlan *stale = nullptr;
			{
				RoutingGuard guard;
				PgCall([&] { stale = Stale(desc); });
			}
			if (stale) {
				// This execution runs a new plan of the statement (planned with the routing NOTICE), and
				// the cached plans are invalidated so that the next execution plans again.
				PgCall([&] {
					Query *query = static_cast<Query *>(copyObjectImpl(stale->query));
					int cursor_options = stale->cursor_options; // the slot may be reused by the planner
					ResetPlanCache();
					desc->plannedstmt = pg_plan_query(query, desc->sourceText, cursor_options, desc->params);
				});
			}
		});
	}
	if (previous_executor_start) {
		previous_executor_start(desc, eflags);
	} else {
		standard_ExecutorStart(desc, eflags);
	}
}

} // namespace

void RegisterQueryRouting() {
	previous_planner = planner_hook;
	planner_hook = RoutingPlanner;
	previous_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = RoutingExecutorStart;
}

} // namespace duckpipe::ext
