#pragma once

#include "core/lake/catalog_schema.hpp"
#include "core/lake/lake_config.hpp"
#include "core/lake/write/lake_commit.hpp"

#include <memory>
#include <mutex>
#include <string>

namespace duckpipe {
class PgConnection;
class DuckDatabase;
class DuckConnection;
} // namespace duckpipe

namespace duckpipe::lake {

// Writes DuckLake 1.0 snapshots. Opens (creating if needed) the lake on construction. Thread-safe:
// commits of one process are serialised by a mutex (no pointless retries between our own threads);
// commits of other processes are resolved by the optimistic protocol (digest §4).
class LakeWriter {
public:
	explicit LakeWriter(LakeConfig config);
	~LakeWriter();
	LakeWriter(const LakeWriter &) = delete;
	LakeWriter &operator=(const LakeWriter &) = delete;

	// Starts a commit based on the current head snapshot.
	LakeCommit Begin();

	const LakeConfig &Config() const { return config_; }
	const LakeInfo &Info() const { return info_; }
	const std::string &DataPath() const { return info_.data_path; }

	// Test hook: the named point throws Error(Internal, "fail point <name>") the next time it is reached
	// (once; "" clears). Points: after_parquet_write, after_delete_file_write, before_catalog_transaction,
	// before_catalog_commit. The env var DUCKPIPE_LAKE_FAIL_POINT sets one at process start.
	static void SetFailPoint(const std::string &name);
	static void MaybeFail(const char *point);

private:
	friend class LakeCommit;

	LakeConfig config_;
	LakeInfo info_;
	std::mutex mutex_; // guards conn_ and duck_
	std::unique_ptr<PgConnection> conn_;
	std::unique_ptr<DuckDatabase> duck_db_;
	std::unique_ptr<DuckConnection> duck_;
};

} // namespace duckpipe::lake
