#pragma once

#include "core/common/error.hpp"

#include <optional>
#include <string>
#include <vector>

namespace duckpipe {
class PgConnection;
}

namespace duckpipe::meta {

// One versioned file of sql/migrations, embedded at build time.
struct Migration {
	int version;
	const char *name;
	const char *sql;
};

const std::vector<Migration> &AllMigrations();
int LatestMigrationVersion();

// The version of the `duckpipe` schema in this database; 0 when absent.
int CurrentMetadataVersion(PgConnection &conn);

// Creates or upgrades the `duckpipe` schema, each migration in its own transaction, serialized
// across processes by an advisory lock. Returns the versions it applied (empty if up to date).
// A schema newer than this binary is refused rather than touched.
// When the pg_duckpipe extension is installed in the database, its objects (the duckpipe schema
// among them) are upgraded by ALTER EXTENSION only; Migrate refuses to touch them.
std::vector<int> Migrate(PgConnection &conn);

// The decision Migrate takes: the error to raise when the metadata at version `found` is older than
// this binary's `latest` and belongs to the extension installed at `extension_version`; nullopt when
// the migrations may run (no extension, or nothing to apply).
std::optional<Error> ExtensionOwnsSchema(const std::optional<std::string> &extension_version, int found, int latest);

} // namespace duckpipe::meta
