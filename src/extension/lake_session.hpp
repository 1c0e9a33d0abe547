#pragma once

#include "core/lake/catalog_loader.hpp"
#include "core/lake/catalog_model.hpp"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace duckpipe {
class DuckDatabase;
class DuckConnection;
} // namespace duckpipe

namespace duckpipe::ext {

// Where this database's lake is: its catalog (reached over libpq, as the background worker reaches
// it) and the directory of its files. Read from the session's settings on the main thread.
struct LakeSettings {
	std::string catalog_conninfo;
	std::string catalog_schema = "ducklake";
	std::string data_path;
	// The backend's query engine (QueryEngine): memory limit (duckpipe.query_memory_mb, default
	// 1024), threads (duckpipe.query_threads, default 2), and where it spills
	// (a directory of its own under $PGDATA/pg_duckpipe/tmp/).
	int memory_mb = 1024;
	int threads = 2;
	std::string temp_directory;
	// Which snapshot a read sees: the latest unless the session asks for time travel
	// (duckpipe.as_of_snapshot / duckpipe.as_of_time; Current() errors when both are set).
	lake::SnapshotSelector snapshot;

	// duckpipe.lake_catalog (a connection string; default this database through duckpipe.conninfo or
	// the Unix socket), schema ducklake, duckpipe.data_path (default DefaultDataPath()). Calls
	// PostgreSQL: main thread, inside PgBoundary.
	static LakeSettings Current();
	// The same with `snapshot` Latest whatever the session chose (never an error for the session's
	// time travel settings): for what acts on the lake as it is now (drops, listings).
	static LakeSettings Location();
};

// One read of the lake, at one snapshot, through the backend's query engine (QueryEngine): the
// catalog loaded over the engine's libpq connection (reused while the snapshot is the same), a view
// per lake table in the engine's DuckDB (reused across statements, sandboxed to the lake's files),
// and a DuckDB connection of this read's own. Every statement run on Duck() is interruptible: a
// cancel or statement_timeout interrupts DuckDB between its tasks and surfaces as PostgreSQL's own
// error. Reads of one statement see the same snapshot.
class LakeSession {
public:
	// `has_lake` false (and no DuckDB) when the catalog schema holds no lake yet. `tables`: the lake
	// tables (schema, name) whose views the read uses; null for every table (arbitrary SQL).
	LakeSession(const LakeSettings &settings, const lake::SnapshotSelector &selector,
	            const std::vector<std::pair<std::string, std::string>> *tables = nullptr);
	~LakeSession();
	LakeSession(const LakeSession &) = delete;
	LakeSession &operator=(const LakeSession &) = delete;

	bool HasLake() const { return duck_ != nullptr; }
	const lake::CatalogState &State() const { return state_ ? *state_ : empty_; }
	DuckConnection &Duck() { return *duck_; }
	// "schema.table, ..." of the snapshot (for error hints).
	std::string TableList() const;

private:
	lake::CatalogState empty_;
	std::shared_ptr<const lake::CatalogState> state_;
	std::shared_ptr<DuckDatabase> db_;
	std::unique_ptr<DuckConnection> duck_;
};

} // namespace duckpipe::ext
