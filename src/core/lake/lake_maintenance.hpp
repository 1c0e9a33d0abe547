#pragma once

#include "core/lake/lake_config.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace duckpipe {
class PgConnection;
}

namespace duckpipe::lake {

struct ExpireResult {
	int64_t snapshots_expired = 0;
	int64_t files_scheduled = 0; // data and delete files no surviving snapshot needs
};

struct CleanupResult {
	int64_t files_deleted = 0;
	int64_t files_missing = 0; // scheduled but already gone (a previous cleanup crashed midway)
};

// Keeps a lake small: expires old snapshots, deletes the files no snapshot needs any more, and
// removes files a crashed writer left behind. Follows the reference's semantics (digest §3.10), so
// a lake maintained here or by DuckDB's ducklake_* functions ends up the same.
class LakeMaintenance {
public:
	explicit LakeMaintenance(const LakeConfig &config);
	~LakeMaintenance();

	// Expires every snapshot taken more than `older_than` ago (a PostgreSQL interval such as
	// '7 days'), never the latest one nor any from the base of a commit in flight on, in one
	// catalog transaction. Rows no surviving snapshot can
	// see are deleted; their files are scheduled for deletion.
	ExpireResult ExpireSnapshots(const std::string &older_than);
	// Deletes the files scheduled for deletion more than `older_than` ago, then their rows.
	CleanupResult CleanupOldFiles(const std::string &older_than = "0 seconds");
	// Deletes Parquet files under the data path that no catalog row references, that no commit in
	// flight has registered (PendingFiles) and that are older than `older_than`. Registrations of a
	// writer whose catalog session is gone and that are older than max(older_than, 1 day) are
	// dropped first (their files are then orphans).
	CleanupResult DeleteOrphanedFiles(const std::string &older_than = "1 hour");

private:
	std::string Table(const char *name) const;

	LakeConfig config_;
	std::string data_path_;
	std::unique_ptr<PgConnection> conn_;
};

} // namespace duckpipe::lake
