// The group worker. Its main thread is PostgreSQL's: it waits on the latch, the postmaster and the
// log relay's eventfd, and turns signals into Pipeline calls. The pipeline runs on core threads
// (started with every signal blocked) and reaches PostgreSQL only through libpq.
#include "extension/group_worker.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/common/thread.hpp"
#include "core/pg/conninfo.hpp"
#include "core/pipeline/pipeline.hpp"
#include "extension/compaction_gucs.hpp"
#include "extension/log_relay.hpp"
#include "extension/pg_boundary.hpp"
#include "extension/settings.hpp"
#include "extension/shared_state.hpp"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <thread>

#include "extension/pg_includes.hpp"

extern "C" {
#include "access/xact.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "postmaster/postmaster.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/wait_event.h"

PGDLLEXPORT void duckpipe_group_worker_main(Datum arg);
}

namespace duckpipe::ext {

namespace {

// What the worker is told at registration (bgw_extra).
struct WorkerArgs {
	Oid dboid;
	char group[NAMEDATALEN];
};
static_assert(sizeof(WorkerArgs) <= BGW_EXTRALEN);

volatile sig_atomic_t got_sigterm = 0;

void HandleSigterm(int) {
	int save_errno = errno;
	got_sigterm = 1;
	SetLatch(MyLatch);
	errno = save_errno;
}

// What the worker reads of its database before starting (plain C data: filled under PgCall).
struct GroupRow {
	bool extension = false;
	bool exists = false;
	bool enabled = false;
	char mode[32] = {};
	char owner[NAMEDATALEN] = {};
	char dbname[NAMEDATALEN] = {};
};

void CopyValue(char *out, size_t size, int column) {
	char *value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, column);
	strlcpy(out, value ? value : "", size);
}

// One transaction on the main thread: the extension's owner and the group's row (mode read
// through to_jsonb so that this works before and after the migration that adds it).
void ReadGroupRow(const char *group, GroupRow *row) {
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_execute("SELECT r.rolname, current_database() FROM pg_extension e JOIN pg_roles r ON r.oid = e.extowner "
	            "WHERE e.extname = 'pg_duckpipe'",
	            true, 1);
	if (SPI_processed == 1) {
		row->extension = true;
		CopyValue(row->owner, sizeof(row->owner), 1);
		CopyValue(row->dbname, sizeof(row->dbname), 2);
		Oid types[1] = {TEXTOID};
		Datum values[1] = {CStringGetTextDatum(group)};
		SPI_execute_with_args("SELECT g.enabled, coalesce(to_jsonb(g)->>'mode', 'bgworker') "
		                      "FROM duckpipe.sync_groups g WHERE g.name = $1",
		                      1, types, values, nullptr, true, 1);
		if (SPI_processed == 1) {
			row->exists = true;
			char enabled[8];
			CopyValue(enabled, sizeof(enabled), 1);
			row->enabled = enabled[0] == 't';
			CopyValue(row->mode, sizeof(row->mode), 2);
		}
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

std::string PrivateDir(const std::string &path) {
	std::filesystem::create_directories(path);
	chmod(path.c_str(), S_IRWXU);
	return path.back() == '/' ? path : path + "/";
}

pipeline::PipelineConfig BuildConfig(const Settings &settings, const GroupRow &row, const std::string &group) {
	pipeline::PipelineConfig config;
	std::string application = Conninfo::QuoteValue("pg_duckpipe: " + group);
	if (!settings.conninfo.empty()) {
		// Keywords given later win: the setting may name another database, user, host...
		config.source_conninfo =
		    "dbname=" + Conninfo::QuoteValue(row.dbname) + " application_name=" + application + " " + settings.conninfo;
	} else {
		auto socket_dir = SocketDirectory();
		if (socket_dir.empty()) {
			throw Error(ErrorKind::Config, "the server listens on no Unix socket",
			            {.hint = "set duckpipe.conninfo to a connection string the worker can use to reach this "
			                     "server (passwords in ~/.pgpass)"});
		}
		config.source_conninfo = "host=" + Conninfo::QuoteValue(socket_dir) +
		                         " port=" + std::to_string(PostPortNumber) +
		                         " dbname=" + Conninfo::QuoteValue(row.dbname) +
		                         " user=" + Conninfo::QuoteValue(row.owner) + " application_name=" + application;
	}
	config.lake_catalog_conninfo = settings.lake_catalog;
	std::string base = std::string(DataDir) + "/pg_duckpipe/";
	config.data_path = PrivateDir(settings.data_path.empty() ? DefaultDataPath() : settings.data_path);
	config.temp_dir = PrivateDir(base + "tmp");
	config.groups = {group};
	config.mode = meta::GroupMode::Bgworker;
	config.flush_interval_ms = settings.flush_interval_ms;
	config.flush_batch_threshold = settings.flush_batch_threshold;
	config.max_queued_bytes = settings.max_queued_bytes;
	config.duckdb_buffer_memory_mb = settings.duckdb_buffer_memory_mb;
	config.duckdb_flush_memory_mb = settings.duckdb_flush_memory_mb;
	config.duckdb_threads = settings.duckdb_threads;
	ApplyCompactionGucs(config);
	return config;
}

void ApplyLogLevel(const Settings &settings) {
	log::SetLevel(settings.debug_log ? log::Level::Debug : log::Level::Info);
}

// The slot is kept reserved when the worker fails (it is restarted), freed on a clean stop.
int attached_slot = -1;
WorkerArgs worker_args;
bool release_slot = false;

void DetachAtExit(int, Datum) {
	if (attached_slot < 0) {
		return;
	}
	try {
		// A successor that cannot be registered leaves the slot reserved: it is reclaimed as stale.
		if (DetachGroupWorker(attached_slot, release_slot)) {
			RegisterGroupWorker(worker_args.dboid, worker_args.group);
		}
	} catch (...) {
	}
	attached_slot = -1;
}

Error ExplainFailure(const std::exception_ptr &failure) {
	try {
		std::rethrow_exception(failure);
	} catch (const Error &e) {
		if (e.Kind() != ErrorKind::Connection) {
			return e;
		}
		ErrorContext context = e.Context();
		context.hint = "the worker connects to this server over its Unix socket as the extension's owner; set "
		               "duckpipe.conninfo to a connection string that works (passwords in ~/.pgpass), then "
		               "SELECT pg_reload_conf()";
		return Error(ErrorKind::Connection, e.Message(), context);
	} catch (const std::exception &e) {
		return Error(ErrorKind::Internal, e.what());
	}
}

// The whole life of the worker once connected; returns to exit cleanly, throws to fail.
void RunWorker(const WorkerArgs &args) {
	std::string group = args.group;
	GroupRow row;
	PgCall([&] { ReadGroupRow(args.group, &row); });
	auto settings = CurrentSettings();
	auto leave = [&](const char *why) {
		ereport(LOG, (errmsg("pg_duckpipe worker of group \"%s\" exits: %s", args.group, why)));
		release_slot = true;
	};
	if (!row.extension) {
		return leave("the extension is not installed in this database");
	}
	if (!row.exists) {
		return leave("the group does not exist");
	}
	if (!row.enabled) {
		return leave("the group is disabled");
	}
	if (std::string(row.mode) != "bgworker") {
		return leave("the group is run by the duckpipe daemon (mode daemon)");
	}
	if (!settings.enabled) {
		return leave("duckpipe.enabled is off");
	}
	if (TakeWorkerRequests(attached_slot).stop) {
		return leave("stop_worker() was called");
	}

	LogRelay relay;
	relay.Install();
	ApplyLogLevel(settings);
	pipeline::Pipeline pipeline(BuildConfig(settings, row, group));
	std::atomic<bool> done{false};
	std::exception_ptr failure;
	std::thread runner = StartThread("dp-pipeline", [&] {
		try {
			pipeline.Run();
		} catch (...) {
			failure = std::current_exception();
		}
		done.store(true);
		relay.Notify();
	});
	struct Joiner {
		std::thread &thread;
		pipeline::Pipeline &pipeline;
		~Joiner() {
			if (thread.joinable()) {
				pipeline.RequestStop();
				thread.join();
			}
		}
	} joiner{runner, pipeline};

	// PostgreSQL calls below run under PgCall while the pipeline thread lives: an ERROR becomes an
	// exception, so Joiner stops and joins the core's threads before the worker exits.
	WaitEventSet *events = nullptr;
	PgCall([&] {
		events = CreateWaitEventSet(CurrentMemoryContext, 3);
		AddWaitEventToSet(events, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, nullptr);
		// Not WL_EXIT_ON_PM_DEATH: exiting from inside the wait would leave the core's threads running
		// while the process tears down; the pipeline is stopped (without final flushes) first.
		AddWaitEventToSet(events, WL_POSTMASTER_DEATH, PGINVALID_SOCKET, nullptr, nullptr);
		AddWaitEventToSet(events, WL_SOCKET_READABLE, relay.Fd(), nullptr, nullptr);
	});
	bool stopping = false;
	bool postmaster_died = false;
	bool had_group = false; // the pipeline ran its group since the last look at the group's row
	while (!done.load()) {
		// Live figures refresh at least every second, whatever the poll interval.
		long timeout = std::min(settings.poll_interval_ms, 1000);
		WaitEvent event;
		int fired = 0;
		PgCall([&] { fired = WaitEventSetWait(events, timeout, &event, 1, PG_WAIT_EXTENSION); });
		ResetLatch(MyLatch);
		relay.Drain();
		if (fired > 0 && (event.events & WL_POSTMASTER_DEATH) && !postmaster_died) {
			postmaster_died = true;
			stopping = true;
			pipeline.RequestStop();
		}
		if (got_sigterm && !stopping) {
			ereport(LOG, (errmsg("pg_duckpipe worker of group \"%s\" stopping (SIGTERM)", args.group)));
			stopping = true;
			release_slot = true;
			pipeline.RequestStop();
		}
		if (ConfigReloadPending) {
			ConfigReloadPending = false;
			PgCall([] { ProcessConfigFile(PGC_SIGHUP); });
			settings = CurrentSettings();
			ApplyLogLevel(settings);
			try {
				pipeline.Reload(BuildConfig(settings, row, group));
			} catch (const std::exception &e) {
				ereport(WARNING, (errmsg("pg_duckpipe: settings not reloaded: %s", e.what())));
			}
			if (!settings.enabled && !stopping) {
				ereport(LOG,
				        (errmsg("pg_duckpipe worker of group \"%s\" stopping: duckpipe.enabled is off", args.group)));
				stopping = true;
				release_slot = true;
				pipeline.RequestStop();
			}
		}
		auto requests = TakeWorkerRequests(attached_slot);
		if (requests.stop && !stopping) {
			ereport(LOG, (errmsg("pg_duckpipe worker of group \"%s\" stopping: stop_worker()", args.group)));
			stopping = true;
			release_slot = true;
			pipeline.RequestStop();
		}
		if (requests.wake) {
			pipeline.Wake();
		}
		auto figures = pipeline.Figures();
		if (!figures.empty()) {
			had_group = true;
		} else if (had_group && !stopping) {
			// The pipeline let its group go: disabled, dropped or handed to the daemon (its mode
			// changed by an UPDATE, which wakes no worker). Leave rather than idle in a worker slot;
			// anything else (a lost lock, a restart of the group) gets the group back by itself.
			GroupRow now;
			PgCall([&] { ReadGroupRow(args.group, &now); });
			if (!now.exists || !now.enabled || std::string(now.mode) != "bgworker") {
				ereport(LOG, (errmsg("pg_duckpipe worker of group \"%s\" exits: the group is %s", args.group,
				                     !now.exists    ? "dropped"
				                     : !now.enabled ? "disabled"
				                                    : "run by the duckpipe daemon now (mode daemon)")));
				stopping = true;
				release_slot = true;
				pipeline.RequestStop();
			}
			had_group = false;
		}
		PublishFigures(attached_slot, figures);
	}
	FreeWaitEventSet(events);
	runner.join();
	relay.Drain();
	if (postmaster_died) {
		throw Error(ErrorKind::Internal, "the postmaster died: the pg_duckpipe worker exits");
	}
	if (failure) {
		release_slot = false;
		throw ExplainFailure(failure);
	}
	if (!stopping) {
		// Run() returned by itself: the group was disabled or dropped.
		release_slot = true;
	}
}

} // namespace

bool RegisterGroupWorker(uint32_t dboid, const std::string &group) {
	BackgroundWorker worker;
	std::memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	strlcpy(worker.bgw_library_name, "pg_duckpipe", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "duckpipe_group_worker_main", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_duckpipe: %s (database %u)", group.c_str(), dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "pg_duckpipe: %s", group.c_str());
	WorkerArgs args{};
	args.dboid = dboid;
	strlcpy(args.group, group.c_str(), NAMEDATALEN);
	std::memcpy(worker.bgw_extra, &args, sizeof(args));
	worker.bgw_notify_pid = 0;
	return RegisterDynamicBackgroundWorker(&worker, nullptr);
}

} // namespace duckpipe::ext

void duckpipe_group_worker_main(Datum) {
	using namespace duckpipe::ext;
	WorkerArgs args;
	std::memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	pqsignal(SIGTERM, HandleSigterm);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(args.dboid, InvalidOid, 0);
	worker_args = args;
	PgBoundary([&] {
		attached_slot = AttachGroupWorker(args.dboid, args.group);
		if (attached_slot < 0) {
			ereport(LOG, (errmsg("pg_duckpipe: group \"%s\" already has a worker; this one exits", args.group)));
			return;
		}
		before_shmem_exit(DetachAtExit, 0);
		RunWorker(args);
	});
	proc_exit(0);
}
