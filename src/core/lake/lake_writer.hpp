#pragma once

#include "core/lake/catalog_schema.hpp"
#include "core/lake/lake_config.hpp"
#include "core/lake/write/lake_commit.hpp"
#include "core/lake/write/pending_files.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace duckpipe {
class PgConnection;
class DuckDatabase;
class DuckConnection;
} // namespace duckpipe

namespace duckpipe::lake {

class KeyIndex;

// Writes DuckLake 1.0 snapshots. Opens (creating if needed) the lake on construction. Thread-safe:
// commits of one process are serialised by a mutex (no pointless retries between our own threads);
// commits of other processes are resolved by the optimistic protocol (digest §4).
class LakeWriter {
public:
	explicit LakeWriter(LakeConfig config);
	~LakeWriter();
	LakeWriter(const LakeWriter &) = delete;
	LakeWriter &operator=(const LakeWriter &) = delete;

	// Starts a commit based on the current head snapshot (registered as in flight, see PendingFiles).
	LakeCommit Begin();

	// The outcome of a commit whose Commit() threw with OutcomeUnknown(): asks the catalog again.
	// NotCommitted also removes the commit's files. Unknown while the catalog cannot tell.
	PendingFiles::Outcome ResolveCommit(const std::string &token);

	const LakeConfig &Config() const { return config_; }
	const LakeInfo &Info() const { return info_; }
	const std::string &DataPath() const { return info_.data_path; }
	// The key index DeleteByKey looks keys up in (a cache outside the lake).
	KeyIndex &Keys() { return *keys_; }

	// Test hook: the named point throws Error(Internal, "fail point <name>") the next time it is reached
	// (once; "" clears). Points: after_parquet_write, after_delete_file_write, before_catalog_transaction,
	// before_catalog_commit, after_commit_sent (COMMIT sent, its answer not read); "name#N" fires at
	// the N-th time the point is reached instead of the first. The env var
	// DUCKPIPE_LAKE_FAIL_POINT sets one at process start. Only in builds with DUCKPIPE_FAULT_INJECTION;
	// elsewhere SetFailPoint throws and MaybeFail does nothing.
	static void SetFailPoint(const std::string &name);
	// Test hook run (until cleared with nullptr) at "before_commit_sent" / "after_commit_sent" with the catalog
	// session's backend pid and socket, e.g. to drop the connection there. Same builds only.
	using ConnectionHook = std::function<void(const std::string &point, int backend_pid, int socket)>;
	static void SetConnectionHook(ConnectionHook hook);
#ifdef DUCKPIPE_FAULT_INJECTION
	static void MaybeFail(const char *point);
	static void AtConnectionPoint(const char *point, PgConnection &conn);
#else
	static void MaybeFail(const char *) {}
	static void AtConnectionPoint(const char *, PgConnection &) {}
#endif

private:
	friend class LakeCommit;

	// The catalog session, reconnected when broken (registrations follow it). Caller holds mutex_.
	PgConnection &Conn();
	// Drops the session after an ambiguous COMMIT; returns its backend pid. Caller holds mutex_.
	std::optional<int> DropConn();
	// Caller holds mutex_.
	void ForgetLater(const std::string &token);
	void ResolveUnresolvedLocked();
	PendingFiles::Verdict VerifyLocked(const std::string &token, std::optional<int> old_pid);
	// The lake's data_inlining_row_limit for a table (table, then schema, then global scope of
	// ducklake_metadata; the reference's default 10 when unset), re-read every few seconds.
	// Caller holds mutex_. Defined in lake_commit_inline.cpp.
	int64_t InliningRowLimitLocked(int64_t schema_id, int64_t table_id);

	LakeConfig config_;
	LakeInfo info_;
	std::unique_ptr<KeyIndex> keys_; // thread-safe on its own
	std::string writer_id_;
	std::mutex mutex_; // guards everything below
	std::unique_ptr<PgConnection> conn_;
	std::unique_ptr<DuckDatabase> duck_db_;
	std::unique_ptr<DuckConnection> duck_;
	std::vector<std::string> forget_;                       // registrations to delete at the next Begin
	std::map<std::string, std::optional<int>> unresolved_;  // commits whose outcome is unknown -> old pid
	std::map<std::string, PendingFiles::Outcome> outcomes_; // resolved later, until asked for
	// data_inlining_row_limit rows by (scope, scope_id); scope "" is global.
	std::map<std::pair<std::string, int64_t>, int64_t> inlining_limits_;
	std::chrono::steady_clock::time_point inlining_limits_read_{};
	// The latest snapshot a commit of this writer made: a commit based on an older one knows the head
	// moved without asking (tables flushing in parallel), and reads it first.
	int64_t last_committed_ = -1;
};

} // namespace duckpipe::lake
