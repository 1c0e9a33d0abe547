// The "DuckDB Query" custom scan: runs the SQL the planner wrote in DuckDB at the first row and
// converts the result chunk by chunk (a LIMIT stops DuckDB early: nothing is materialised here).
#include "extension/duck_exec.hpp"

#include "core/common/error.hpp"
#include "core/duck/duck_numeric_div.hpp"
#include "extension/duck_datum.hpp"
#include "extension/duck_query_run.hpp"
#include "extension/pg_boundary.hpp"

#include <memory>
#include <string>
#include <vector>

#include "extension/pg_includes.hpp"

extern "C" {
#include "commands/explain.h"
#include "executor/executor.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "utils/guc.h"
#include "utils/memutils.h"
}

namespace duckpipe::ext {

namespace {

// The run and its converters, owned through the executor's memory context (its reset callback
// deletes them: an error or a cancel anywhere releases DuckDB).
struct DuckRun {
	std::unique_ptr<DuckQueryRun> query;
	std::vector<std::unique_ptr<DuckDatum>> columns;
	duckdb_data_chunk chunk = nullptr;
	uint64_t chunk_rows = 0;
	uint64_t row = 0;
	bool done = false;
};

struct DuckScanState {
	CustomScanState css;
	DuckRun *run;
	MemoryContext row_context;
	MemoryContextCallback release;
};

void ReleaseRun(void *arg) {
	auto *state = static_cast<DuckScanState *>(arg);
	delete state->run; // destructors never throw
	state->run = nullptr;
}

// duckpipe.numeric_div's zero divisor is PostgreSQL's error, with its SQLSTATE (22012).
template <typename Fn>
auto DivisionAsPostgreSQL(Fn &&fn) -> decltype(fn()) {
	try {
		return fn();
	} catch (const Error &e) {
		if (DuckNumericDiv::IsDivisionByZero(e.Message())) {
			throw PgError(ERRCODE_DIVISION_BY_ZERO, "division by zero", "", "");
		}
		throw;
	}
}

std::string PrivateString(List *list, int index) {
	return strVal(list_nth(list, index));
}

void BeginScan(CustomScanState *node, EState *, int) {
	auto *state = reinterpret_cast<DuckScanState *>(node);
	PgBoundary([&] {
		PgCall([&] {
			state->row_context =
			    AllocSetContextCreateInternal(CurrentMemoryContext, "pg_duckpipe duckdb row", ALLOCSET_DEFAULT_SIZES);
			state->release.func = ReleaseRun;
			state->release.arg = state;
			MemoryContextRegisterResetCallback(CurrentMemoryContext, &state->release);
		});
	});
}

DuckRun *StartRun(DuckScanState *state) {
	auto *cscan = reinterpret_cast<CustomScan *>(state->css.ss.ps.plan);
	List *data = cscan->custom_private;
	std::string sql = PrivateString(data, 0);
	// custom_private: the SQL, the result columns' char pad widths (duck_exec_types.hpp), then each
	// table's schema, name and empty select.
	List *pads = static_cast<List *>(lsecond(data));
	std::vector<DuckQueryTable> tables;
	for (int i = 2; i + 2 < list_length(data); i += 3) {
		tables.push_back({PrivateString(data, i), PrivateString(data, i + 1), PrivateString(data, i + 2)});
	}
	const char *timezone = nullptr;
	PgCall([&] { timezone = GetConfigOption("TimeZone", false, false); });
	auto run = std::make_unique<DuckRun>();
	LakeSettings settings = LakeSettings::Current();
	run->query = DivisionAsPostgreSQL(
	    [&] { return std::make_unique<DuckQueryRun>(settings, sql, tables, timezone ? timezone : "UTC"); });
	TupleDesc desc = state->css.ss.ss_ScanTupleSlot->tts_tupleDescriptor;
	if (run->query->ColumnCount() != static_cast<uint64_t>(desc->natts)) {
		throw PgError(ERRCODE_INTERNAL_ERROR,
		              "DuckDB returned " + std::to_string(run->query->ColumnCount()) + " columns where the query has " +
		                  std::to_string(desc->natts),
		              "", "SET duckpipe.duckdb_execution = off runs the query on the row path");
	}
	for (int i = 0; i < desc->natts; i++) {
		run->columns.push_back(std::make_unique<DuckDatum>(
		    run->query->ColumnType(static_cast<uint64_t>(i)), TupleDescAttr(desc, i)->atttypid,
		    TupleDescAttr(desc, i)->atttypmod, i < list_length(pads) ? list_nth_int(pads, i) : 0));
	}
	return run.release();
}

TupleTableSlot *ExecScan(CustomScanState *node) {
	auto *state = reinterpret_cast<DuckScanState *>(node);
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	return PgBoundary([&]() -> TupleTableSlot * {
		PgCall([&] { ExecClearTuple(slot); });
		if (!state->run) {
			state->run = StartRun(state);
		}
		DuckRun &run = *state->run;
		if (run.done) {
			return slot;
		}
		if (run.chunk && run.row + 1 < run.chunk_rows) {
			run.row++;
		} else {
			PgCall([] { CHECK_FOR_INTERRUPTS(); }); // a cancel is seen between chunks
			run.chunk = DivisionAsPostgreSQL([&] { return run.query->NextChunk(); });
			run.row = 0;
			run.chunk_rows = run.chunk ? duckdb_data_chunk_get_size(run.chunk) : 0;
			while (run.chunk && run.chunk_rows == 0) {
				run.chunk = DivisionAsPostgreSQL([&] { return run.query->NextChunk(); });
				run.chunk_rows = run.chunk ? duckdb_data_chunk_get_size(run.chunk) : 0;
			}
			if (!run.chunk) {
				run.done = true;
				return slot;
			}
		}
		PgCall([&] {
			MemoryContextReset(state->row_context);
			MemoryContext caller = MemoryContextSwitchTo(state->row_context);
			for (size_t i = 0; i < run.columns.size(); i++) {
				duckdb_vector vector = duckdb_data_chunk_get_vector(run.chunk, i);
				slot->tts_values[i] = run.columns[i]->Convert(vector, run.row, &slot->tts_isnull[i]);
			}
			MemoryContextSwitchTo(caller);
			ExecStoreVirtualTuple(slot);
		});
		return slot;
	});
}

void EndScan(CustomScanState *node) {
	ReleaseRun(node);
}

void RescanScan(CustomScanState *node) {
	ReleaseRun(node); // the next row runs the query again
}

void ExplainScan(CustomScanState *node, List *, ExplainState *es) {
	auto *cscan = reinterpret_cast<CustomScan *>(node->ss.ps.plan);
	ExplainPropertyText("DuckDB SQL", strVal(linitial(cscan->custom_private)), es);
}

CustomExecMethods exec_methods = {
    .CustomName = "DuckDB Query",
    .BeginCustomScan = BeginScan,
    .ExecCustomScan = ExecScan,
    .EndCustomScan = EndScan,
    .ReScanCustomScan = RescanScan,
    .MarkPosCustomScan = nullptr,
    .RestrPosCustomScan = nullptr,
    .EstimateDSMCustomScan = nullptr,
    .InitializeDSMCustomScan = nullptr,
    .ReInitializeDSMCustomScan = nullptr,
    .InitializeWorkerCustomScan = nullptr,
    .ShutdownCustomScan = nullptr,
    .ExplainCustomScan = ExplainScan,
};

Node *CreateState(CustomScan *) {
	auto *state = reinterpret_cast<DuckScanState *>(newNode(sizeof(DuckScanState), T_CustomScanState));
	state->css.methods = &exec_methods;
	return reinterpret_cast<Node *>(state);
}

CustomScanMethods scan_methods = {
    .CustomName = "DuckDB Query",
    .CreateCustomScanState = CreateState,
};

} // namespace

Plan *MakeDuckQueryScan(List *scan_tlist, List *private_data) {
	CustomScan *cscan = makeNode(CustomScan);
	cscan->methods = &scan_methods;
	cscan->custom_private = private_data;
	cscan->custom_scan_tlist = scan_tlist;
	cscan->scan.scanrelid = 0;
	List *tlist = NIL;
	ListCell *cell;
	foreach (cell, scan_tlist) {
		auto *tle = static_cast<TargetEntry *>(lfirst(cell));
		Node *expr = reinterpret_cast<Node *>(tle->expr);
		Var *var = makeVar(INDEX_VAR, tle->resno, exprType(expr), exprTypmod(expr), exprCollation(expr), 0);
		tlist = lappend(tlist, makeTargetEntry(reinterpret_cast<Expr *>(var), tle->resno, tle->resname, false));
	}
	cscan->scan.plan.targetlist = tlist;
	cscan->scan.plan.startup_cost = 0;
	cscan->scan.plan.total_cost = 1;
	cscan->scan.plan.plan_rows = 1000;
	cscan->scan.plan.plan_width = 32;
	return reinterpret_cast<Plan *>(cscan);
}

void RegisterDuckQueryScan() {
	RegisterCustomScanMethods(&scan_methods);
}

} // namespace duckpipe::ext
