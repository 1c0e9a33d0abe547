// Execution of the "DuckPipe Lake Scan" (see lake_scan_path.hpp). The lake is opened at the first
// row (or by EXPLAIN), once per statement: a rescan (inner side of a nested loop, new parameter
// values) reruns DuckDB's query on the same snapshot with the filter's values evaluated again. A
// rescan with the same values (the inner side of a nested loop without parameters) replays the rows
// of the first pass from a tuplestore instead: each DuckDB query costs milliseconds to start, and the
// planner, short of column statistics on lake relations, can put thousands of outer rows over it.
#include "extension/lake_scan_path.hpp"

#include <optional>
#include <string>
#include <vector>

#include "extension/lake_filter_pg.hpp"
#include "extension/lake_pushdown_scan.hpp"
#include "extension/pg_boundary.hpp"
#include "extension/pg_includes.hpp"

extern "C" {
#include "commands/explain.h"
#include "executor/executor.h"
#include "nodes/extensible.h"
#include "nodes/params.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"
}

namespace duckpipe::ext {

namespace {

// The scan state. PostgreSQL frees it with the executor's memory; the reset callback deletes the
// C++ scan then, so an error or a cancel anywhere releases DuckDB (EndCustomScan may never run).
struct LakeScanState {
	CustomScanState css;
	LakePushdownScan *scan;
	bool started; // the current (re)scan's DuckDB query runs
	bool explain_only;
	List *columns; // attribute numbers read
	List *pushed;  // clauses pushed into DuckDB
	FmgrInfo *input;
	Oid *ioparam;
	bool *read; // per attribute: read from the lake
	MemoryContext row_context;
	MemoryContextCallback release;
	// Rows of the first pass, kept when the plan may rescan with the same values (EXEC_FLAG_REWIND).
	Tuplestorestate *cache;
	TupleTableSlot *cache_slot; // minimal tuples read back from the cache
	bool cache_complete;        // the first pass reached the end: every row is in the cache
	bool replaying;             // this pass reads the cache
};

void Release(void *arg) {
	auto *state = static_cast<LakeScanState *>(arg);
	delete state->scan; // destructors never throw
	state->scan = nullptr;
}

Node *CreateState(CustomScan *plan);

const CustomScanMethods kScanMethods = {
    .CustomName = "DuckPipe Lake Scan",
    .CreateCustomScanState = CreateState,
};

void Begin(CustomScanState *node, EState *, int eflags) {
	auto *state = reinterpret_cast<LakeScanState *>(node);
	auto *plan = reinterpret_cast<CustomScan *>(node->ss.ps.plan);
	Relation rel = node->ss.ss_currentRelation;
	TupleDesc desc = RelationGetDescr(rel);
	state->explain_only = (eflags & EXEC_FLAG_EXPLAIN_ONLY) != 0;
	state->columns = static_cast<List *>(linitial(plan->custom_private));
	state->pushed = plan->custom_exprs;
	int natts = Max(desc->natts, 1);
	state->input = static_cast<FmgrInfo *>(palloc0(sizeof(FmgrInfo) * natts));
	state->ioparam = static_cast<Oid *>(palloc0(sizeof(Oid) * natts));
	state->read = static_cast<bool *>(palloc0(sizeof(bool) * natts));
	ListCell *cell;
	foreach (cell, state->columns) {
		int attno = lfirst_int(cell);
		Form_pg_attribute att = TupleDescAttr(desc, attno - 1);
		if (att->attisdropped) {
			continue;
		}
		Oid input_fn;
		getTypeInputInfo(att->atttypid, &input_fn, &state->ioparam[attno - 1]);
		fmgr_info(input_fn, &state->input[attno - 1]);
		state->read[attno - 1] = true;
	}
	state->row_context =
	    AllocSetContextCreateInternal(CurrentMemoryContext, "pg_duckpipe lake scan row", ALLOCSET_DEFAULT_SIZES);
	if ((eflags & EXEC_FLAG_REWIND) != 0 && (eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0) {
		state->cache = tuplestore_begin_heap(false, false, work_mem);
		// A copy: the relation's descriptor is reference-counted, and this slot is never dropped.
		state->cache_slot = MakeSingleTupleTableSlot(CreateTupleDescCopy(desc), &TTSOpsMinimalTuple);
	}
	state->release.func = Release;
	state->release.arg = state;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &state->release);
}

// The lake, opened once per statement.
LakePushdownScan &Open(LakeScanState *state) {
	if (!state->scan) {
		Relation rel = state->css.ss.ss_currentRelation;
		const char *schema = nullptr;
		PgCall([&] { schema = get_namespace_name(RelationGetNamespace(rel)); });
		state->scan = new LakePushdownScan(LakeSettings::Current(), schema, RelationGetRelationName(rel));
	}
	return *state->scan;
}

// The pushed clauses with the values they have now (constants, parameters: an EXPLAIN without
// ANALYZE leaves run-time parameters unknown).
std::optional<LakeFilter> Filter(LakeScanState *state) {
	auto &scan = Open(state);
	if (!scan.Table() || state->pushed == NIL) {
		return std::nullopt;
	}
	PushContext context;
	context.relid = reinterpret_cast<CustomScan *>(state->css.ss.ps.plan)->scan.scanrelid;
	context.rel = state->css.ss.ss_currentRelation;
	context.table = scan.Table();
	context.explain_only = state->explain_only;
	context.value = [state](Expr *operand, uintptr_t *value, bool *isnull) {
		if (!IsA(operand, Const) && !IsA(operand, Param)) {
			return false;
		}
		if (IsA(operand, Const)) {
			*value = reinterpret_cast<Const *>(operand)->constvalue;
			*isnull = reinterpret_cast<Const *>(operand)->constisnull;
			return true;
		}
		auto *param = reinterpret_cast<Param *>(operand);
		EState *estate = state->css.ss.ps.state;
		if (state->explain_only) {
			ParamListInfo params = estate->es_param_list_info;
			if (param->paramkind != PARAM_EXTERN || !params || param->paramid > params->numParams) {
				return false;
			}
		}
		PgCall([&] {
			ExprState *expr = ExecInitExpr(operand, &state->css.ss.ps);
			*value = ExecEvalExprSwitchContext(expr, state->css.ss.ps.ps_ExprContext, isnull);
		});
		return true;
	};
	return TranslateClauses(state->pushed, context);
}

std::vector<std::string> ColumnNames(LakeScanState *state) {
	TupleDesc desc = RelationGetDescr(state->css.ss.ss_currentRelation);
	std::vector<std::string> names(desc->natts);
	for (int i = 0; i < desc->natts; i++) {
		if (state->read[i]) {
			names[i] = NameStr(TupleDescAttr(desc, i)->attname);
		}
	}
	return names;
}

TupleTableSlot *Next(ScanState *node) {
	auto *state = reinterpret_cast<LakeScanState *>(node);
	TupleTableSlot *slot = node->ss_ScanTupleSlot;
	return PgBoundary([&]() -> TupleTableSlot * {
		PgCall([&] { ExecClearTuple(slot); });
		if (state->replaying) {
			PgCall([&] {
				if (tuplestore_gettupleslot(state->cache, true, false, state->cache_slot)) {
					ExecCopySlot(slot, state->cache_slot);
				}
			});
			return slot;
		}
		if (!state->started) {
			auto filter = Filter(state);
			Open(state).Start(ColumnNames(state), filter, false);
			state->started = true;
		}
		LakePushdownScan &lake = *state->scan;
		if (!lake.Next()) {
			state->cache_complete = state->cache != nullptr;
			return slot; // empty: the end
		}
		// Cancels are seen between rows; values go through their types' input functions, as the
		// access method's scan does (no typmod: see lake_am.cpp).
		PgCall([&] {
			CHECK_FOR_INTERRUPTS();
			MemoryContextReset(state->row_context);
			MemoryContext caller = MemoryContextSwitchTo(state->row_context);
			TupleDesc desc = slot->tts_tupleDescriptor;
			for (int i = 0; i < desc->natts; i++) {
				auto value = state->read[i] ? lake.Value(static_cast<size_t>(i)) : std::nullopt;
				slot->tts_isnull[i] = !value.has_value();
				slot->tts_values[i] = value
				                          ? InputFunctionCall(&state->input[i], pnstrdup(value->data(), value->size()),
				                                              state->ioparam[i], -1)
				                          : static_cast<Datum>(0);
			}
			MemoryContextSwitchTo(caller);
			ExecStoreVirtualTuple(slot);
			if (state->cache) {
				tuplestore_puttupleslot(state->cache, slot);
			}
		});
		return slot;
	});
}

bool Recheck(ScanState *, TupleTableSlot *) {
	return true;
}

TupleTableSlot *Exec(CustomScanState *node) {
	return ExecScan(&node->ss, Next, Recheck);
}

void End(CustomScanState *node) {
	Release(node);
}

void Rescan(CustomScanState *node) {
	auto *state = reinterpret_cast<LakeScanState *>(node);
	if (state->cache && state->cache_complete && node->ss.ps.chgParam == nullptr) {
		state->replaying = true; // the same values: the same rows
		tuplestore_rescan(state->cache);
	} else {
		state->started = false; // the next row reruns the query with the values parameters have then
		state->replaying = false;
		state->cache_complete = false;
		if (state->cache) {
			tuplestore_clear(state->cache);
		}
	}
	ExecScanReScan(&node->ss);
}

void Explain(CustomScanState *node, List *, ExplainState *es) {
	auto *state = reinterpret_cast<LakeScanState *>(node);
	char *columns = nullptr;
	char *filter = nullptr;
	char *files = nullptr;
	int64 snapshot = 0;
	PgBoundary([&] {
		auto names = ColumnNames(state);
		std::string list;
		for (const auto &n : names) {
			if (!n.empty()) {
				list += (list.empty() ? "" : ", ") + n;
			}
		}
		auto &scan = Open(state);
		if (!state->started) {
			scan.Start(names, Filter(state), true); // EXPLAIN without ANALYZE: which files it would read
		}
		std::string file_text = std::to_string(scan.FilesRead()) + " of " + std::to_string(scan.FilesTotal()) + " (" +
		                        std::to_string(scan.FilesTotal() - scan.FilesRead()) + " pruned by statistics)";
		PgCall([&] {
			columns = pstrdup(list.empty() ? "(none)" : list.c_str());
			filter = pstrdup(scan.FilterSql().empty() ? "(none)" : scan.FilterSql().c_str());
			files = pstrdup(file_text.c_str());
		});
		snapshot = scan.SnapshotId();
	});
	ExplainPropertyText("Lake Columns", columns, es);
	ExplainPropertyText("Lake Filter", filter, es);
	ExplainPropertyText("Lake Files", files, es);
	ExplainPropertyInteger("Lake Snapshot", nullptr, snapshot, es);
}

const CustomExecMethods kExecMethods = {
    .CustomName = "DuckPipe Lake Scan",
    .BeginCustomScan = Begin,
    .ExecCustomScan = Exec,
    .EndCustomScan = End,
    .ReScanCustomScan = Rescan,
    .MarkPosCustomScan = nullptr,
    .RestrPosCustomScan = nullptr,
    .EstimateDSMCustomScan = nullptr,
    .InitializeDSMCustomScan = nullptr,
    .ReInitializeDSMCustomScan = nullptr,
    .InitializeWorkerCustomScan = nullptr,
    .ShutdownCustomScan = nullptr,
    .ExplainCustomScan = Explain,
};

Node *CreateState(CustomScan *) {
	auto *state = static_cast<LakeScanState *>(palloc0(sizeof(LakeScanState)));
	NodeSetTag(state, T_CustomScanState);
	state->css.methods = &kExecMethods;
	return reinterpret_cast<Node *>(state);
}

} // namespace

const void *LakeScanExecMethods() {
	return &kScanMethods;
}

} // namespace duckpipe::ext
