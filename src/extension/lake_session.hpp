#pragma once

#include "core/lake/catalog_loader.hpp"
#include "core/lake/catalog_model.hpp"

#include <memory>
#include <string>

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
	// DuckDB of a scan or query: memory limit (duckpipe.duckdb_flush_memory_mb, default 512) and
	// where it spills ($PGDATA/pg_duckpipe/tmp/).
	int memory_mb = 512;
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

// One snapshot of the lake opened for reading in an embedded DuckDB: the catalog loaded over libpq,
// a view per lake table (LakeReader), and the instance sandboxed so that it can open only the
// snapshot's files. Created with every signal blocked (see SignalBlock).
class LakeSession {
public:
	// `has_lake` false (and no DuckDB) when the catalog schema holds no lake yet.
	LakeSession(const LakeSettings &settings, const lake::SnapshotSelector &selector);
	~LakeSession();
	LakeSession(const LakeSession &) = delete;
	LakeSession &operator=(const LakeSession &) = delete;

	bool HasLake() const { return duck_ != nullptr; }
	const lake::CatalogState &State() const { return state_; }
	DuckConnection &Duck() { return *duck_; }
	// "schema.table, ..." of the snapshot (for error hints).
	std::string TableList() const;

private:
	lake::CatalogState state_;
	std::unique_ptr<DuckDatabase> db_;
	std::unique_ptr<DuckConnection> duck_;
};

} // namespace duckpipe::ext
