// The module's entry points: _PG_init (settings, shared memory, background workers, hooks) and the
// SQL-callable basics. Each concern registers itself from its own file.
#include "extension/compaction_gucs.hpp"
#include "extension/duck_exec.hpp"
#include "extension/lake_am.hpp"
#include "extension/lake_scan_path.hpp"
#include "extension/launcher.hpp"
#include "extension/log_redaction.hpp"
#include "extension/pg_args.hpp"
#include "extension/pg_boundary.hpp"
#include "extension/query_routing.hpp"
#include "extension/query_settings.hpp"
#include "extension/routing_settings.hpp"
#include "extension/settings.hpp"
#include "extension/shared_state.hpp"
#include "extension/time_travel.hpp"

#include <string>

#include "extension/pg_includes.hpp"

extern "C" {
#include "utils/guc.h"
}

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void); // NOLINT(bugprone-reserved-identifier): the name PostgreSQL calls
PG_FUNCTION_INFO_V1(duckpipe_version);
}

void _PG_init(void) {
	// Shared memory, the launcher and the workers' settings exist only in a preloaded library.
	if (!process_shared_preload_libraries_in_progress) {
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
		                errmsg("pg_duckpipe must be loaded through shared_preload_libraries"),
		                errhint("add pg_duckpipe to shared_preload_libraries in postgresql.conf (ALTER SYSTEM SET "
		                        "shared_preload_libraries = 'pg_duckpipe') and restart the server")));
	}
	duckpipe::ext::DefineSettings();
	duckpipe::ext::DefineQueryEngineGucs();
	duckpipe::ext::DefineQueryRoutingGucs();
	duckpipe::ext::DefineTimeTravelGucs();
	duckpipe::ext::DefineCompactionGucs();
	duckpipe::ext::RegisterLogRedaction();
	duckpipe::ext::RequestSharedState();
	duckpipe::ext::RegisterLauncher();
	duckpipe::ext::RegisterLakeRelation();
	duckpipe::ext::RegisterLakeCreate();
	duckpipe::ext::DefineDuckExecutionGucs();
	duckpipe::ext::DefineLakeScanGucs();
	duckpipe::ext::RegisterLakeScanPath();
	// Last of the hooks: its planner hook is the outermost, so the hooks installed before it plan the
	// routed query.
	duckpipe::ext::RegisterQueryRouting();
	// Last: it drops the postgresql.conf values of duckpipe.* settings not defined by then.
	MarkGUCPrefixReserved("duckpipe");
}

// duckpipe.version(): the module's version, which may differ from the installed SQL's
// (pg_extension.extversion) between a package upgrade and ALTER EXTENSION UPDATE.
Datum duckpipe_version(FunctionCallInfo) {
	return duckpipe::ext::PgBoundary([] { return duckpipe::ext::TextDatum(DUCKPIPE_VERSION); });
}
