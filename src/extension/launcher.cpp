#include "extension/launcher.hpp"

#include "extension/pg_boundary.hpp"
#include "extension/settings.hpp"
#include "extension/shared_state.hpp"

#include <cstring>
#include <string>
#include <vector>

#include "extension/pg_includes.hpp"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "utils/snapmgr.h"

PGDLLEXPORT void duckpipe_launcher_main(Datum arg);
PGDLLEXPORT void duckpipe_probe_main(Datum arg);
}

namespace duckpipe::ext {

namespace {

constexpr int kMaxDatabases = 1024;

// The databases one can connect to (shared catalog: readable without a database).
int ListDatabases(Oid *out) {
	int count = 0;
	StartTransactionCommand();
	Relation rel = table_open(DatabaseRelationId, AccessShareLock);
	TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
	HeapTuple tuple;
	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != nullptr && count < kMaxDatabases) {
		auto *db = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple));
		if (db->datallowconn && !db->datistemplate) {
			out[count++] = db->oid;
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return count;
}

struct ProbeRow {
	int count = 0;
	char groups[64][NAMEDATALEN] = {};
};

// Groups of this database whose worker should run: enabled, mode bgworker, with tables.
void ReadGroupsToStart(ProbeRow *row) {
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_duckpipe'", true, 1);
	if (SPI_processed == 1) {
		// The group <-> table join lives in duckpipe._group_tables() (sql/extension/20_worker.sql).
		SPI_execute("SELECT g.name FROM duckpipe.sync_groups g WHERE duckpipe._runs_in_bgworker(g) "
		            "AND EXISTS (SELECT 1 FROM duckpipe._group_tables() t WHERE (t.g).name = g.name) ORDER BY g.name",
		            true, 64);
		for (uint64 i = 0; i < SPI_processed; i++) {
			char *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
			strlcpy(row->groups[row->count++], name ? name : "", NAMEDATALEN);
		}
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

// A worker of this library running `function` once (never restarted).
BackgroundWorker RunOnce(const char *function) {
	BackgroundWorker worker;
	std::memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "pg_duckpipe", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, function, BGW_MAXLEN);
	return worker;
}

void RunProbe(Oid dboid) {
	BackgroundWorker worker = RunOnce("duckpipe_probe_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_duckpipe probe (database %u)", dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "pg_duckpipe probe");
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_notify_pid = MyProcPid;
	BackgroundWorkerHandle *handle = nullptr;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle)) {
		ereport(WARNING, (errmsg("pg_duckpipe: could not start the probe of database %u", dboid),
		                  errhint("raise max_worker_processes, then start the workers with "
		                          "SELECT duckpipe.start_worker()")));
		return;
	}
	WaitForBackgroundWorkerShutdown(handle);
}

} // namespace

void RegisterLauncher() {
	BackgroundWorker worker = RunOnce("duckpipe_launcher_main");
	strlcpy(worker.bgw_name, "pg_duckpipe launcher", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "pg_duckpipe launcher", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

} // namespace duckpipe::ext

void duckpipe_launcher_main(Datum) {
	using namespace duckpipe::ext;
	BackgroundWorkerUnblockSignals();
	if (!PgBoundary([] { return CurrentSettings().enabled; })) {
		proc_exit(0);
	}
	BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
	static Oid databases[kMaxDatabases];
	int count = ListDatabases(databases);
	for (int i = 0; i < count; i++) {
		RunProbe(databases[i]);
	}
	proc_exit(0);
}

void duckpipe_probe_main(Datum arg) {
	using namespace duckpipe::ext;
	Oid dboid = DatumGetObjectId(arg);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	static ProbeRow row;
	ReadGroupsToStart(&row);
	PgBoundary([&] {
		for (int i = 0; i < row.count; i++) {
			if (StartGroupWorker(dboid, row.groups[i])) {
				ereport(LOG, (errmsg("pg_duckpipe: started the worker of group \"%s\"", row.groups[i])));
			}
		}
	});
	proc_exit(0);
}
