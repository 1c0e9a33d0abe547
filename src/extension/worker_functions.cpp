// SQL-callable functions of the workers: actions taken at COMMIT (start, stop, wake a group's
// worker: a rolled-back call does nothing) and the live figures read from shared memory.
#include "core/common/error.hpp"
#include "extension/pg_args.hpp"
#include "extension/pg_boundary.hpp"
#include "extension/shared_state.hpp"

#include <string>
#include <vector>

#include "extension/pg_includes.hpp"

extern "C" {
#include "access/xact.h"
#include "funcapi.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(duckpipe_at_commit);
PG_FUNCTION_INFO_V1(duckpipe_live_workers);
PG_FUNCTION_INFO_V1(duckpipe_live_tables);
}

namespace duckpipe::ext {

namespace {

enum class Action { Start, Stop, Wake };

struct PendingAction {
	std::string group;
	Action action;
	SubTransactionId subxact;
};

// Actions of the current transaction, in call order (backend-local; main thread only).
std::vector<PendingAction> pending;
bool callbacks_registered = false;

void RunPending(const std::vector<PendingAction> &actions) {
	for (const auto &a : actions) {
		try {
			switch (a.action) {
			case Action::Start:
				StartGroupWorker(MyDatabaseId, a.group);
				break;
			case Action::Stop:
				StopGroupWorker(MyDatabaseId, a.group);
				break;
			case Action::Wake:
				WakeGroupWorker(MyDatabaseId, a.group);
				break;
			}
		} catch (const std::exception &e) {
			// The transaction has committed: an ERROR is no longer possible, say it instead.
			ereport(WARNING,
			        (errmsg("pg_duckpipe: could not start the worker of group \"%s\": %s", a.group.c_str(), e.what())));
		} catch (...) {
			ereport(WARNING, (errmsg("pg_duckpipe: could not start the worker of group \"%s\"", a.group.c_str())));
		}
	}
}

void OnXact(XactEvent event, void *) {
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT) {
		auto actions = std::move(pending);
		pending.clear();
		RunPending(actions);
	} else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE) {
		// A prepared transaction commits later, in another session: its actions are dropped (the
		// worker still sees its metadata changes through their notifications once it commits).
		pending.clear();
	}
}

void OnSubXact(SubXactEvent event, SubTransactionId sub, SubTransactionId parent, void *) {
	if (event == SUBXACT_EVENT_ABORT_SUB) {
		std::erase_if(pending, [&](const PendingAction &a) { return a.subxact == sub; });
	} else if (event == SUBXACT_EVENT_COMMIT_SUB) {
		for (auto &a : pending) {
			if (a.subxact == sub) {
				a.subxact = parent;
			}
		}
	}
}

// A set-returning function's rows, `put(worker, row)` for each worker of this database, where
// row(values, nulls) adds one. Rows are made with the C++ values alive: under PgCall.
template <class Put>
Datum LiveRows(FunctionCallInfo fcinfo, Put put) {
	return PgBoundary([&] {
		auto workers = ReadLiveWorkers(MyDatabaseId);
		PgCall([&] {
			InitMaterializedSRF(fcinfo, 0);
			auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
			auto row = [&](Datum *values, bool *nulls) {
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			};
			for (const auto &w : workers) {
				put(w, row);
			}
		});
		return static_cast<Datum>(0);
	});
}

} // namespace

} // namespace duckpipe::ext

using namespace duckpipe::ext;

// duckpipe._at_commit(sync_group text, action text): 'start' (start it, or wake it if it runs),
// 'stop' or 'wake', done when the transaction commits.
Datum duckpipe_at_commit(PG_FUNCTION_ARGS) {
	if (!callbacks_registered) {
		RegisterXactCallback(OnXact, nullptr);
		RegisterSubXactCallback(OnSubXact, nullptr);
		callbacks_registered = true;
	}
	PgBoundary([&] {
		auto group = TextArg(fcinfo, 0);
		auto action = TextArg(fcinfo, 1);
		Action a;
		if (action == "start") {
			a = Action::Start;
		} else if (action == "stop") {
			a = Action::Stop;
		} else if (action == "wake") {
			a = Action::Wake;
		} else {
			throw duckpipe::Error(duckpipe::ErrorKind::Config, "unknown worker action " + action);
		}
		pending.push_back({group, a, GetCurrentSubTransactionId()});
	});
	PG_RETURN_VOID();
}

// duckpipe._live_workers(): one row per worker of this database.
Datum duckpipe_live_workers(PG_FUNCTION_ARGS) {
	return LiveRows(fcinfo, [](const LiveWorker &w, const auto &row) {
		Datum values[8];
		bool nulls[8] = {};
		values[0] = CStringGetTextDatum(w.group.c_str());
		values[1] = Int32GetDatum(w.pid);
		nulls[1] = w.pid == 0;
		values[2] = Int64GetDatum(w.figures.queued_bytes);
		values[3] = Int64GetDatum(w.figures.queued_changes);
		values[4] = BoolGetDatum(w.figures.backpressured);
		values[5] = Int32GetDatum(w.figures.active_flushes);
		values[6] = Int32GetDatum(static_cast<int>(w.figures.tables.size()));
		values[7] = BoolGetDatum(w.figures.catching_up);
		row(values, nulls);
	});
}

// duckpipe._live_tables(): one row per table of a running worker of this database.
Datum duckpipe_live_tables(PG_FUNCTION_ARGS) {
	return LiveRows(fcinfo, [](const LiveWorker &w, const auto &row) {
		for (const auto &t : w.figures.tables) {
			Datum values[8];
			bool nulls[8] = {};
			values[0] = CStringGetTextDatum(w.group.c_str());
			values[1] = Int64GetDatum(t.mapping_id);
			values[2] = Int64GetDatum(t.queued_changes);
			values[3] = Int64GetDatum(t.buffered_rows);
			values[4] = Int64GetDatum(t.flush_count);
			values[5] = Int64GetDatum(t.last_flush_ms);
			values[6] = BoolGetDatum(t.flushing);
			values[7] = Int64GetDatum(t.duckdb_memory_bytes);
			row(values, nulls);
		}
	});
}
