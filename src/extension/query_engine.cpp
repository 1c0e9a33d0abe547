#include "extension/query_engine.hpp"

#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "core/duck/duck_numeric_div.hpp"
#include "core/duck/duck_sandbox.hpp"
#include "core/lake/lake_reader.hpp"
#include "core/pg/pg_connection.hpp"
#include "extension/lake_session.hpp"
#include "extension/pg_boundary.hpp"
#include "extension/signal_block.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <system_error>

#include "extension/pg_includes.hpp"

extern "C" {
#include "access/xact.h"
#include "funcapi.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(duckpipe_query_engine_status);
}

namespace duckpipe::ext {

namespace {

// States kept loaded: the latest and a few time-travel reads.
constexpr size_t kLoadedStates = 4;

bool SameSelector(const lake::SnapshotSelector &a, const lake::SnapshotSelector &b) {
	return a.kind == b.kind && a.snapshot_id == b.snapshot_id && a.timestamp == b.timestamp;
}

std::string WithSlash(std::string dir) {
	return dir.empty() || dir.back() == '/' ? dir : dir + "/";
}

// The directories DuckDB must be allowed to read: the data path, and the directory of any file the
// catalog places outside it (a table or file with an absolute path).
std::vector<std::string> Directories(const lake::CatalogState &state) {
	std::set<std::string> dirs{WithSlash(state.data_path)};
	for (const auto &file : lake::LakeReader::Files(state)) {
		bool covered = std::any_of(dirs.begin(), dirs.end(), [&](const std::string &d) { return file.starts_with(d); });
		if (!covered) {
			dirs.insert(WithSlash(std::filesystem::path(file).parent_path().string()));
		}
	}
	return {dirs.begin(), dirs.end()};
}

bool Covers(const std::vector<std::string> &have, const std::vector<std::string> &need) {
	return std::all_of(need.begin(), need.end(), [&](const std::string &n) {
		return std::any_of(have.begin(), have.end(), [&](const std::string &h) { return n.starts_with(h); });
	});
}

void CloseAtExit(int, Datum) {
	try {
		QueryEngine::Backend().Close();
	} catch (...) {
		// Exiting: nothing to report to.
	}
}

// Run with every signal blocked: DuckDB's threads inherit the mask of the thread that creates them.
// The spill directory is the instance's own (DuckDB's spill file names are not unique across
// instances) and locked while it lives, so a sweep tells a dead backend's from a live one's.
QueryEngine::StartedDatabase StartDatabase(int memory_mb, int threads, const std::string &base,
                                           const std::string &prefix) {
	QueryEngine::StartedDatabase started{PrivateDirectory(base, prefix), nullptr};
	started.db = std::make_unique<DuckDatabase>(
	    "", std::map<std::string, std::string>{{"threads", std::to_string(threads)},
	                                           {"memory_limit", std::to_string(memory_mb) + "MB"},
	                                           {"temp_directory", started.dir.Path() + "/spill"}});
	return started;
}

void Debug(const std::string &message) {
	PgCall([&] { elog(DEBUG1, "pg_duckpipe: %s", message.c_str()); });
}

} // namespace

QueryEngine &QueryEngine::Backend() {
	static QueryEngine engine;
	return engine;
}

void QueryEngine::CheckInterrupts() {
	SignalBlock::Window signals; // a cancel that arrived while DuckDB ran is delivered now
	if (ProcDiePending && InterruptHoldoffCount == 0 && CritSectionCount == 0) {
		// CHECK_FOR_INTERRUPTS would exit right here, DuckDB's query still running on other threads.
		throw PgTerminate();
	}
	PgCall([] { CHECK_FOR_INTERRUPTS(); });
}

void QueryEngine::EnsureExitHook() {
	if (!exit_hook_) {
		PgCall([] { before_shmem_exit(CloseAtExit, 0); });
		exit_hook_ = true;
	}
}

LakeRead QueryEngine::Open(const LakeSettings &settings, const lake::SnapshotSelector &selector,
                           const LakeTableNames *tables) {
	EnsureExitHook();           // before any DuckDB exists, so that it is closed at exit
	PrestartInstance(settings); // while the catalog loads
	auto state = Catalog(settings, selector);
	if (!state) {
		return {};
	}
	EnsureInstance(settings, *state);
	AttachViews(*state, tables);
	return {db_, state};
}

std::shared_ptr<const lake::CatalogState> QueryEngine::Catalog(const LakeSettings &settings,
                                                               const lake::SnapshotSelector &selector) {
	EnsureExitHook();
	counters_.reads++;
	std::string catalog_id = settings.catalog_conninfo + '\n' + settings.catalog_schema;
	if (catalog_id != catalog_id_) {
		catalog_.reset();
		loaded_.clear();
		statement_reads_.clear();
		attached_ = -1; // another catalog's snapshot of the same id is another lake
		attached_all_ = false;
		catalog_id_ = catalog_id;
	}
	StatementKey key{GetCurrentStatementStartTimestamp(), MyProc ? MyProc->lxid : 0};
	if (!(key == statement_)) {
		statement_reads_.clear();
		statement_ = key;
	}
	for (const auto &[seen, state] : statement_reads_) {
		if (SameSelector(seen, selector)) {
			return state;
		}
	}
	std::shared_ptr<const lake::CatalogState> state;
	try {
		state = Resolve(settings, selector);
	} catch (const Error &e) {
		if (e.Kind() != ErrorKind::Connection) {
			throw;
		}
		catalog_.reset(); // the kept connection broke (a server restart): once more on a new one
		state = Resolve(settings, selector);
	}
	statement_reads_.emplace_back(selector, state);
	return state;
}

PgConnection &QueryEngine::CatalogConnection(const LakeSettings &settings) {
	if (catalog_ && !catalog_->IsHealthy()) {
		catalog_.reset();
	}
	if (!catalog_) {
		catalog_ = std::make_unique<PgConnection>(settings.catalog_conninfo,
		                                          PgConnection::Options{.application_name = "pg_duckpipe lake reader"});
	}
	return *catalog_;
}

// The snapshot the selector names, loading the catalog only when it is not loaded yet.
std::shared_ptr<const lake::CatalogState> QueryEngine::Resolve(const LakeSettings &settings,
                                                               const lake::SnapshotSelector &selector) {
	auto &conn = CatalogConnection(settings);
	std::string snapshots = conn.QuoteIdent(settings.catalog_schema) + ".ducklake_snapshot";
	int64_t latest = 0;
	try {
		auto r = conn.Exec("SELECT max(snapshot_id) FROM " + snapshots);
		if (r.IsNull(0, 0)) {
			return Load(settings, selector); // LoadCatalog says what is wrong with the catalog
		}
		latest = r.GetInt(0, 0);
	} catch (const Error &e) {
		const auto &state = e.Context().sqlstate;
		if (state == "42P01" || state == "3F000") {
			return nullptr; // no lake yet: the worker creates it with the first table it copies
		}
		throw;
	}
	int64_t id = latest;
	if (selector.kind == lake::SnapshotSelector::Kind::Id) {
		id = selector.snapshot_id;
	} else if (selector.kind == lake::SnapshotSelector::Kind::AsOf) {
		try {
			auto r = conn.Exec("SELECT snapshot_id FROM " + snapshots +
			                       " WHERE snapshot_time <= $1::timestamptz ORDER BY snapshot_id DESC LIMIT 1",
			                   {selector.timestamp});
			if (r.Rows() == 0) {
				return Load(settings, selector);
			}
			id = r.GetInt(0, 0);
		} catch (const Error &e) {
			if (e.Kind() == ErrorKind::Connection) {
				throw;
			}
			return Load(settings, selector); // with LoadCatalog's own words for a bad timestamp
		}
	}
	if (auto it = loaded_.find(id); it != loaded_.end()) {
		return it->second;
	}
	// By id from here on, still named as the caller named it (its setting or argument) if it is gone.
	auto by_id = selector;
	by_id.kind = lake::SnapshotSelector::Kind::Id;
	by_id.snapshot_id = id;
	return Load(settings, by_id);
}

std::shared_ptr<const lake::CatalogState> QueryEngine::Load(const LakeSettings &settings,
                                                            const lake::SnapshotSelector &selector) {
	auto state = std::make_shared<const lake::CatalogState>(
	    lake::LoadCatalog(CatalogConnection(settings), settings.catalog_schema, selector));
	counters_.catalog_loads++;
	if (loaded_.size() >= kLoadedStates) {
		loaded_.erase(loaded_.begin()); // the oldest snapshot
	}
	loaded_[state->snapshot.snapshot_id] = state;
	return state;
}

QueryEngine::Config QueryEngine::Wanted(const LakeSettings &settings) {
	return {settings.memory_mb, settings.threads, settings.temp_directory,
	        std::string(kQueryDirPrefix) + "backend_" + std::to_string(MyProcPid) + "-"};
}

// Starts the backend's DuckDB on a thread of its own (the first read of a backend): the start-up
// then overlaps the catalog connection and load, which need no DuckDB.
void QueryEngine::PrestartInstance(const LakeSettings &settings) {
	if (db_ || prestarted_.valid()) {
		return;
	}
	prestarted_config_ = Wanted(settings);
	SignalBlock blocked; // the thread, and DuckDB's threads it creates, inherit the mask
	try {
		prestarted_ = std::async(std::launch::async, [config = prestarted_config_] {
			return StartDatabase(config.memory_mb, config.threads, config.temp_directory, config.dir_prefix);
		});
	} catch (const std::system_error &) {
		// No thread to spare: EnsureInstance starts it on this one.
	}
}

// The DuckDB started by PrestartInstance if it was started as `want` says (else closed, its spill
// directory removed), or none.
QueryEngine::StartedDatabase QueryEngine::TakePrestarted(const Config &want) {
	if (!prestarted_.valid()) {
		return {};
	}
	SignalBlock blocked;
	StartedDatabase started;
	try {
		started = prestarted_.get();
	} catch (...) {
		return {}; // started again on this thread, which reports the error
	}
	if (prestarted_config_ == want) {
		return started;
	}
	return {};
}

void QueryEngine::EnsureInstance(const LakeSettings &settings, const lake::CatalogState &state) {
	Config want = Wanted(settings);
	auto directories = Directories(state);
	if (db_ && config_ == want && Covers(directories_, directories)) {
		return;
	}
	if (db_ && db_.use_count() > 1) {
		// A read still open (a cursor) uses it, and two instances must not share a spill directory:
		// replaced at a later statement.
		return;
	}
	CloseInstance();
	auto started = TakePrestarted(want);
	SignalBlock blocked;
	if (!started.db) {
		started = StartDatabase(want.memory_mb, want.threads, want.temp_directory, want.dir_prefix);
	}
	// The directory goes once DuckDB has closed, when the last read holding the instance ends.
	auto dir = std::make_shared<PrivateDirectory>(std::move(started.dir));
	std::string temp = dir->Path();
	db_ = std::shared_ptr<DuckDatabase>(started.db.release(), [dir](DuckDatabase *db) {
		SignalBlock blocked_here;
		delete db;
		dir->Remove();
	});
	instance_dir_ = temp;
	try {
		admin_ = db_->Connect();
		// Every connection reads and renders timestamps in UTC (set before the sandbox, for all).
		admin_->Execute("SET GLOBAL TimeZone = 'UTC'");
		// avg and numeric / as PostgreSQL computes them (duck_exec_prepare.cpp writes the calls).
		DuckNumericDiv::Register(*admin_);
		// Every statement binds its lake views and opens their files, reading each file's footer:
		// cached across statements (lake files never change in place: a rewrite is a new file).
		admin_->Execute("SET GLOBAL parquet_metadata_cache = true");
		// The configuration stays unlocked so that the views can be re-created and a connection may set
		// its own TimeZone; user SQL cannot run SET (DuckSandbox::CheckReadOnly), and the file lockdown
		// holds anyway.
		DuckSandbox{.directories = directories, .lock_configuration = false}.Lock(*admin_);
		// Creating views binds them (reads the Parquet footers): interruptible like every statement.
		admin_->SetInterruptCheck(CheckInterrupts);
	} catch (...) {
		CloseInstance();
		throw;
	}
	config_ = want;
	directories_ = directories;
	counters_.instances_created++;
	Debug("query engine started DuckDB (memory_limit " + std::to_string(want.memory_mb) + " MB, " +
	      std::to_string(want.threads) + " threads, temp_directory " + temp + ")");
}

void QueryEngine::CloseInstance() {
	SignalBlock blocked;
	admin_.reset();
	db_.reset(); // DuckDB closes when the last read holding it ends
	attached_ = -1;
	attached_all_ = false;
	views_.clear();
	schemas_.clear();
	directories_.clear();
}

// Brings the views of `tables` (all when null) to `state`: a view per table under the lake's names
// (LakeReader::TableQuery), created or replaced only where the table's SELECT changed; the views
// and schemas of tables gone since are dropped.
void QueryEngine::AttachViews(const lake::CatalogState &state, const LakeTableNames *tables) {
	bool same_snapshot = attached_ == state.snapshot.snapshot_id;
	if (same_snapshot && attached_all_) {
		return;
	}
	bool all = tables == nullptr;
	attached_ = -1; // until every view is in place
	SignalBlock blocked;
	auto Q = [](const std::string &ident) { return DuckConnection::QuoteIdent(ident); };
	std::set<std::string> lake_schemas;
	for (const auto &s : state.schemas) {
		lake_schemas.insert(s.name);
	}
	std::map<std::pair<std::string, std::string>, std::string> views;
	std::set<std::string> schemas = all ? lake_schemas : std::set<std::string>{};
	for (const auto &t : state.tables) {
		lake_schemas.insert(t.schema_name);
		std::pair<std::string, std::string> name{t.schema_name, t.name};
		if (all || std::find(tables->begin(), tables->end(), name) != tables->end()) {
			schemas.insert(t.schema_name);
			views[name] = lake::LakeReader::TableQuery(state, t);
		}
	}
	for (auto it = views_.begin(); it != views_.end();) {
		if (!state.FindTable(it->first.first, it->first.second)) {
			admin_->Execute("DROP VIEW IF EXISTS " + Q(it->first.first) + "." + Q(it->first.second));
			it = views_.erase(it);
		} else {
			++it;
		}
	}
	for (auto it = schemas_.begin(); it != schemas_.end();) {
		if (!lake_schemas.contains(*it) && *it != "main" && *it != "duckpipe") { // duckpipe: the macro's
			admin_->Execute("DROP SCHEMA IF EXISTS " + Q(*it));
			it = schemas_.erase(it);
		} else {
			++it;
		}
	}
	for (const auto &s : schemas) {
		if (!schemas_.contains(s)) {
			admin_->Execute("CREATE SCHEMA IF NOT EXISTS " + Q(s));
			schemas_.insert(s);
		}
	}
	for (const auto &[name, sql] : views) {
		auto it = views_.find(name);
		if (it != views_.end() && it->second == sql) {
			continue;
		}
		views_.erase(name);
		admin_->Execute("CREATE OR REPLACE VIEW " + Q(name.first) + "." + Q(name.second) + " AS " + sql);
		views_[name] = sql;
		counters_.views_created++;
	}
	attached_all_ = all;
	attached_ = state.snapshot.snapshot_id;
}

void QueryEngine::Close() {
	TakePrestarted(Config{}); // waits for a start-up still running, and closes that DuckDB
	statement_reads_.clear();
	loaded_.clear();
	CloseInstance(); // the spill directory goes with the instance
	catalog_.reset();
}

QueryEngine::Status QueryEngine::GetStatus() const {
	Status status = counters_;
	status.running = db_ != nullptr;
	status.snapshot_id = db_ ? attached_ : -1;
	status.memory_mb = config_.memory_mb;
	status.threads = config_.threads;
	status.temp_directory = db_ ? instance_dir_ : std::string();
	return status;
}

} // namespace duckpipe::ext

// duckpipe.query_engine_status(): this backend's query engine (whether its DuckDB is open, how often
// it was created and the catalog loaded, the snapshot its views show, its limits).
Datum duckpipe_query_engine_status(PG_FUNCTION_ARGS) {
	using namespace duckpipe::ext;
	return PgBoundary([&] {
		auto status = QueryEngine::Backend().GetStatus();
		Datum result = 0;
		PgCall([&] {
			TupleDesc tupdesc;
			if (get_call_result_type(fcinfo, nullptr, &tupdesc) != TYPEFUNC_COMPOSITE) {
				elog(ERROR, "return type must be a row type");
			}
			tupdesc = BlessTupleDesc(tupdesc);
			Datum values[9] = {BoolGetDatum(status.running),
			                   Int64GetDatum(status.instances_created),
			                   Int64GetDatum(status.catalog_loads),
			                   Int64GetDatum(status.views_created),
			                   Int64GetDatum(status.reads),
			                   Int64GetDatum(status.snapshot_id),
			                   Int32GetDatum(status.memory_mb),
			                   Int32GetDatum(status.threads),
			                   CStringGetTextDatum(status.temp_directory.c_str())};
			bool nulls[9] = {false,           false,           false,
			                 false,           false,           status.snapshot_id < 0,
			                 !status.running, !status.running, status.temp_directory.empty()};
			result = HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
		});
		return result;
	});
}
