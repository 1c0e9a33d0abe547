#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace duckpipe {
class PgConnection;
}

namespace duckpipe::lake {

// The lake's registry of commits in flight (table `duckpipe_pending_file` in the catalog schema; not
// a DuckLake table, DuckLake readers ignore it). Per commit (a token): one marker row (path NULL)
// with the snapshot it is based on, and one row per file, inserted before the file is written.
// The catalog transaction of the commit deletes the file rows and sets the marker's
// committed_snapshot, so after a lost COMMIT the marker tells whether it committed, and
// maintenance never deletes a registered file nor expires a snapshot a commit in flight reads.
// A registration is stale once older than a day and its owner (the writer's catalog session,
// pid + backend_start in pg_stat_activity) is gone.
class PendingFiles {
public:
	static constexpr const char *kTable = "duckpipe_pending_file";

	PendingFiles(PgConnection &conn, std::string catalog_schema);

	// CREATE TABLE IF NOT EXISTS (races between processes are harmless).
	void Ensure();
	// The qualified table name.
	std::string Table() const;
	// SQL that registers a commit based on `base_snapshot`, owned by this connection's session.
	std::string RegisterCommitSql(const std::string &token, const std::string &writer_id, int64_t base_snapshot) const;
	// Registers a file before it is written (autocommit).
	void RegisterFile(const std::string &token, const std::string &writer_id, const std::string &path);
	// The same as SQL text, to send with other statements.
	std::string RegisterFileSql(const std::string &token, const std::string &writer_id, const std::string &path) const;
	// Runs in the commit's own catalog transaction.
	std::string CommittedSql(const std::string &token, int64_t snapshot) const;
	// Drops every row of the commits (abandoned, or committed and no longer needed).
	std::string ForgetSql(const std::vector<std::string> &tokens) const;
	// Moves the writer's registrations to this connection's session (after a reconnect).
	void Adopt(const std::string &writer_id);

	// Whether the commit `token` committed. Run on a fresh connection: the session that sent the
	// COMMIT (old_pid) is terminated first, then the marker row is locked, which waits until that
	// session's transaction has ended either way. Unknown when the catalog cannot say (unreachable,
	// lock timeout, marker gone).
	enum class Outcome { Committed, NotCommitted, Unknown };
	struct Verdict {
		Outcome outcome = Outcome::Unknown;
		int64_t snapshot = -1;
		std::vector<std::string> files; // registered files (for NotCommitted: to remove)
		std::string reason;
	};
	static Verdict Verify(const std::string &conninfo, const std::string &catalog_schema, const std::string &token,
	                      std::optional<int> old_pid);

	// SQL condition (alias p) for a registration whose owner died long ago.
	static std::string StaleCondition(const std::string &older_than_literal);

private:
	PgConnection &conn_;
	std::string schema_;
};

} // namespace duckpipe::lake
