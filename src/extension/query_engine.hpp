#pragma once

#include "core/common/private_dir.hpp"
#include "core/lake/catalog_loader.hpp"
#include "core/lake/catalog_model.hpp"

#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace duckpipe {
class DuckConnection;
class DuckDatabase;
class PgConnection;
} // namespace duckpipe

namespace duckpipe::ext {

struct LakeSettings;

// Lake tables (schema, name) a read needs views of.
using LakeTableNames = std::vector<std::pair<std::string, std::string>>;

// What one read of the lake gets from the engine: the DuckDB whose views show `state`, and the
// state (null, and no DuckDB, when the catalog holds no lake yet).
struct LakeRead {
	std::shared_ptr<DuckDatabase> db;
	std::shared_ptr<const lake::CatalogState> state;
};

// The backend's query engine, which every lake read of the backend goes through (LakeSession):
// - one embedded DuckDB, created at the first read with every signal blocked and reused by every
//   later statement; replaced when duckpipe.query_memory_mb / query_threads, the data path or the
//   catalog change (once no read holds the old one), closed at backend exit. It spills to a private
//   directory of its own, $PGDATA/pg_duckpipe/tmp/duckpipe-query-backend_<pid>-XXXXXX/, locked while
//   it lives and removed when it closes; a backend that dies first (a server crash, the OOM killer)
//   leaves it to the sweep of the next group worker to start (SweepAbandonedDirectories). Its start-up (~20 ms: DuckDB
//   builds its catalog of built-in functions) runs on a thread of its own while the first read loads
//   the lake catalog. Parquet footers are cached across statements (lake files never change in
//   place: a rewrite is a new file). Sandboxed to the lake's
//   directories (DuckSandbox::directories: the catalog's data path, plus the directory of any file
//   the catalog places outside it), since the files change with every snapshot and the allow lists
//   cannot grow once locked;
// - one libpq connection to the lake catalog, kept open: a statement's first read asks it for the
//   latest snapshot id (one cheap query), and the catalog is loaded, and the views of changed,
//   new and dropped tables re-created or dropped, only when that snapshot is not the one loaded;
//   a read that names its tables gets only their views (created at its first read, re-created when
//   the table changed): a backend's first query does not bind a view per lake table;
// - repeatable reads: every read of one statement (same start time and transaction) with the same
//   selector sees the same snapshot.
// Main thread only.
class QueryEngine {
public:
	static QueryEngine &Backend();

	// The lake at `selector` for the current statement, with the views of `tables` (every table when
	// null: arbitrary DuckDB SQL) showing that snapshot in the DuckDB.
	LakeRead Open(const LakeSettings &settings, const lake::SnapshotSelector &selector,
	              const LakeTableNames *tables = nullptr);
	// The same state without DuckDB (a probe of what the lake holds).
	std::shared_ptr<const lake::CatalogState> Catalog(const LakeSettings &settings,
	                                                  const lake::SnapshotSelector &selector);
	// Closes DuckDB (removing its temp directory) and the catalog connection.
	void Close();

	// The check every engine connection runs between DuckDB's tasks: CHECK_FOR_INTERRUPTS through
	// PgCall (a cancel or statement_timeout becomes a PgError, which interrupts the query).
	static void CheckInterrupts();

	struct Status {
		bool running = false;
		int64_t instances_created = 0;
		int64_t catalog_loads = 0;
		int64_t views_created = 0;
		int64_t reads = 0;
		int64_t snapshot_id = -1; // the snapshot the views show
		int memory_mb = 0;
		int threads = 0;
		std::string temp_directory;
	};
	Status GetStatus() const;

	// A started DuckDB and its spill directory (destroyed in that order).
	struct StartedDatabase {
		PrivateDirectory dir;
		std::unique_ptr<DuckDatabase> db;
	};

private:
	struct Config {
		int memory_mb = 0;
		int threads = 0;
		std::string temp_directory; // where the instance's spill directory is made
		std::string dir_prefix;     // its name's start (the backend's pid in it, for the administrator)
		bool operator==(const Config &) const = default;
	};
	struct StatementKey {
		int64_t start = 0;
		uint32_t transaction = 0;
		bool operator==(const StatementKey &) const = default;
	};

	std::shared_ptr<const lake::CatalogState> Resolve(const LakeSettings &settings,
	                                                  const lake::SnapshotSelector &selector);
	std::shared_ptr<const lake::CatalogState> Load(const LakeSettings &settings,
	                                               const lake::SnapshotSelector &selector);
	PgConnection &CatalogConnection(const LakeSettings &settings);
	void EnsureExitHook();
	static Config Wanted(const LakeSettings &settings);
	void PrestartInstance(const LakeSettings &settings);
	StartedDatabase TakePrestarted(const Config &want);
	void EnsureInstance(const LakeSettings &settings, const lake::CatalogState &state);
	void CloseInstance();
	void AttachViews(const lake::CatalogState &state, const LakeTableNames *tables);

	// DuckDB.
	std::shared_ptr<DuckDatabase> db_;
	std::unique_ptr<DuckConnection> admin_; // creates the views
	Config config_;
	std::string instance_dir_; // the running DuckDB's spill directory
	std::vector<std::string> directories_;
	int64_t attached_ = -1;                                            // the snapshot of the last views attached
	bool attached_all_ = false;                                        // and whether every table's view shows it
	std::map<std::pair<std::string, std::string>, std::string> views_; // (schema, table) -> its SELECT
	std::set<std::string> schemas_;
	std::future<StartedDatabase> prestarted_; // DuckDB starting on its own thread
	Config prestarted_config_;

	// The catalog.
	std::unique_ptr<PgConnection> catalog_;
	std::string catalog_id_; // conninfo and schema the loaded states come from
	std::map<int64_t, std::shared_ptr<const lake::CatalogState>> loaded_;

	// This statement's reads.
	StatementKey statement_;
	std::vector<std::pair<lake::SnapshotSelector, std::shared_ptr<const lake::CatalogState>>> statement_reads_;

	bool exit_hook_ = false;
	Status counters_;
};

} // namespace duckpipe::ext
