#pragma once

#include "core/lake/catalog_model.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace duckpipe {
class PgConnection;
}

namespace duckpipe::lake {

// Which snapshot of the lake to load.
struct SnapshotSelector {
	enum class Kind { Latest, Id, AsOf };
	Kind kind = Kind::Latest;
	int64_t snapshot_id = 0; // Kind::Id
	std::string timestamp;   // Kind::AsOf: any text PostgreSQL accepts as timestamptz (UTC if no zone)
	// What chose this snapshot (e.g. a setting's name) and how to pick another: named in the error
	// when the snapshot does not exist. Empty: the error speaks of --snapshot / --as-of.
	std::string origin;
	std::string hint;

	static SnapshotSelector Latest() { return {}; }
	static SnapshotSelector Id(int64_t id) {
		SnapshotSelector s;
		s.kind = Kind::Id;
		s.snapshot_id = id;
		return s;
	}
	// The latest snapshot whose snapshot_time <= timestamp.
	static SnapshotSelector AsOf(std::string timestamp) {
		SnapshotSelector s;
		s.kind = Kind::AsOf;
		s.timestamp = std::move(timestamp);
		return s;
	}
};

// Reads the DuckLake catalog in `catalog_schema` as of the selected snapshot, in one REPEATABLE READ
// transaction: metadata (version must be '1.0'), the snapshot row, and every schema, table, column
// (as a tree, in column_order), live data file and its visible delete file, with resolved paths.
// Called inside an open transaction, it reads within that transaction and leaves it open (a writer
// loads the state it commits on top of); otherwise it opens and commits its own.
// Throws Error(Lake) when the schema holds no catalog, the version is not 1.0, or the catalog is
// malformed; Error(Config) when the selected snapshot does not exist.
CatalogState LoadCatalog(PgConnection &conn, const std::string &catalog_schema,
                         const SnapshotSelector &selector = SnapshotSelector::Latest());

struct SnapshotRecord {
	int64_t snapshot_id = 0;
	std::string snapshot_time; // UTC, as PostgreSQL prints timestamptz
	int64_t schema_version = 0;
	std::string changes_made; // raw ducklake_snapshot_changes.changes_made ("" if none)
};

// Every snapshot of the lake, oldest first (for `duckpipe status`-like listings and tests).
std::vector<SnapshotRecord> ListSnapshots(PgConnection &conn, const std::string &catalog_schema);

} // namespace duckpipe::lake
