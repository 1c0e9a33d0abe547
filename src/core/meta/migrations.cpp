#include "core/meta/migrations.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"
#include "core/pg/pg_connection.hpp"

#include <algorithm>

namespace duckpipe::meta {

namespace {
// Arbitrary but fixed: pg_advisory_xact_lock key shared by every duckpipe process.
constexpr const char *kLockKey = "7491550217301";

constexpr const char *kBootstrap = "SET LOCAL client_min_messages = warning; "
                                   "CREATE SCHEMA IF NOT EXISTS duckpipe; "
                                   "CREATE TABLE IF NOT EXISTS duckpipe.schema_migrations ("
                                   "version integer PRIMARY KEY, name text NOT NULL, "
                                   "applied_at timestamptz NOT NULL DEFAULT now())";
} // namespace

int LatestMigrationVersion() {
	int latest = 0;
	for (const auto &m : AllMigrations()) {
		latest = std::max(latest, m.version);
	}
	return latest;
}

int CurrentMetadataVersion(PgConnection &conn) {
	auto exists = conn.Exec("SELECT to_regclass('duckpipe.schema_migrations') IS NOT NULL");
	if (!exists.GetBool(0, 0)) {
		return 0;
	}
	auto r = conn.Exec("SELECT coalesce(max(version), 0) FROM duckpipe.schema_migrations");
	return static_cast<int>(r.GetInt(0, 0));
}

std::optional<Error> ExtensionOwnsSchema(const std::optional<std::string> &extension_version, int found, int latest) {
	if (!extension_version || found >= latest) {
		return std::nullopt;
	}
	return Error(ErrorKind::Config,
	             "the duckpipe schema belongs to the pg_duckpipe extension at version " + *extension_version +
	                 " (metadata version " + std::to_string(found) + ", this duckpipe needs " + std::to_string(latest) +
	                 ")",
	             {.hint = "run ALTER EXTENSION pg_duckpipe UPDATE in that database (with the extension of this "
	                      "duckpipe's version installed); the daemon does not alter an extension's objects"});
}

std::vector<int> Migrate(PgConnection &conn) {
	std::vector<int> applied;
	// Up to date (the common case) costs one query and takes no lock.
	int found = CurrentMetadataVersion(conn);
	if (found == LatestMigrationVersion()) {
		return applied;
	}
	auto extension = conn.Exec("SELECT extversion FROM pg_extension WHERE extname = 'pg_duckpipe'");
	if (auto refusal = ExtensionOwnsSchema(extension.Rows() > 0 ? extension.GetOptional(0, 0) : std::nullopt, found,
	                                       LatestMigrationVersion())) {
		throw *refusal;
	}
	auto migrations = AllMigrations();
	std::sort(migrations.begin(), migrations.end(),
	          [](const Migration &a, const Migration &b) { return a.version < b.version; });
	for (const auto &m : migrations) {
		PgTransaction tx(conn);
		conn.Exec(std::string("SELECT pg_advisory_xact_lock(") + kLockKey + ")");
		conn.Exec(kBootstrap);
		int current = static_cast<int>(
		    conn.Exec("SELECT coalesce(max(version), 0) FROM duckpipe.schema_migrations").GetInt(0, 0));
		if (current > LatestMigrationVersion()) {
			throw Error(ErrorKind::Config,
			            "the duckpipe metadata schema is at version " + std::to_string(current) +
			                ", newer than this duckpipe knows (" + std::to_string(LatestMigrationVersion()) + ")",
			            {.hint = "upgrade duckpipe to the version that created this metadata"});
		}
		if (m.version <= current) {
			continue;
		}
		try {
			conn.Exec(m.sql);
		} catch (const Error &e) {
			throw Error(ErrorKind::Source, "metadata migration " + std::string(m.name) + " failed: " + e.Message(),
			            {.sqlstate = e.Context().sqlstate,
			             .hint = "the database was left unchanged; fix the cause (privileges to create schema "
			                     "duckpipe?) and retry"});
		}
		conn.Exec("INSERT INTO duckpipe.schema_migrations(version, name) VALUES ($1, $2)",
		          {std::to_string(m.version), std::string(m.name)});
		tx.Commit();
		log::Info("metadata.migrated", "version", m.version, "name", m.name);
		applied.push_back(m.version);
	}
	return applied;
}

} // namespace duckpipe::meta
