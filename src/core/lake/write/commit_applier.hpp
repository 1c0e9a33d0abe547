#pragma once

#include "core/common/error.hpp"
#include "core/lake/write/commit_state.hpp"
#include "core/lake/write/lake_commit.hpp"

#include <string>

namespace duckpipe {
class PgConnection;
class DuckConnection;
} // namespace duckpipe

namespace duckpipe::lake {

// COMMIT was sent (or being sent) when the connection failed: the transaction may have committed.
class AmbiguousCommitError : public Error {
public:
	AmbiguousCommitError(int64_t snapshot, const Error &cause)
	    : Error(cause.Kind(), cause.what(), cause.Context()), snapshot_(snapshot), cause_(cause) {}
	int64_t Snapshot() const { return snapshot_; }
	const Error &Cause() const { return cause_; }

private:
	int64_t snapshot_;
	Error cause_;
};

// One attempt at turning a CommitState into catalog rows (digest §3, §4): a REPEATABLE READ
// transaction that reads the head, checks logical conflicts with snapshots committed since the
// base, derives ids / row ids / merged stats from the head and issues all DML in one round trip.
class CommitApplier {
public:
	CommitApplier(PgConnection &conn, DuckConnection &duck, std::string catalog_schema, std::string data_path,
	              CommitState &state);

	// Returns the new snapshot id. Serialization failures surface as Error with sqlstate 23505/40001/40P01
	// (the caller retries); logical conflicts (and a base snapshot expired meanwhile) as Error(Conflict);
	// a failure of COMMIT itself as AmbiguousCommitError.
	int64_t Attempt(const CommitInfo &info);

	// Splits a changes_made string into (type, value) entries, quote-aware.
	static std::vector<std::pair<std::string, std::string>> ParseChanges(const std::string &changes);

private:
	void CheckBaseSurvives(int64_t head);
	void CheckConflicts(int64_t head);
	std::string ChangesMade() const;
	int64_t Resolve(int64_t id_or_handle) const;
	std::string T(const char *table) const;
	std::string Lit(const std::string &value) const;
	std::string Lit(const std::optional<std::string> &value) const;

	PgConnection &conn_;
	DuckConnection &duck_;
	std::string schema_;
	std::string data_path_;
	CommitState &state_;
};

} // namespace duckpipe::lake
