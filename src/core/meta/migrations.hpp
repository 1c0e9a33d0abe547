#pragma once

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
std::vector<int> Migrate(PgConnection &conn);

} // namespace duckpipe::meta
