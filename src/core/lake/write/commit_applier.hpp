#pragma once

#include "core/common/error.hpp"
#include "core/lake/write/commit_state.hpp"
#include "core/lake/write/lake_commit.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace duckpipe {
class PgConnection;
class PgResult;
class PgTransaction;
class DuckConnection;
} // namespace duckpipe

namespace duckpipe::lake {

class TableStatsMerger;

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

// One attempt at turning a CommitState into catalog rows (digest §3, §4), a REPEATABLE READ
// transaction. In the common case (no snapshot committed since the base) one round trip: BEGIN, a
// guard that the head is still the base, every row and COMMIT in one message, with ids and merged
// stats derived from the base and the stats read while staging. Otherwise (the guard failed, or
// AddSql callbacks) it reads the head first, checks logical conflicts with the snapshots committed
// since the base, and derives everything from the head.
//
// The message is built by RowsSql: the lake rows, then CommitState::statements (AddStatement: the
// pipeline's progress, other writers' rows of the same transaction) before COMMIT.
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
	// Ids this attempt assigns, derived from the head it read.
	struct Allocation {
		int64_t snapshot = 0;
		int64_t next_catalog = 0;
		int64_t next_file = 0;
		int64_t schema_version = 0;
		std::vector<int64_t> data_file_ids;
		std::vector<int64_t> delete_file_ids; // -1 where a whole data file is ended instead
	};

	static constexpr const char *kHeadMoved = "duckpipe: the lake head";

	bool SingleTripApplies() const;
	std::optional<int64_t> AttemptSingleTrip(const CommitInfo &info);
	int64_t AttemptReadingHead(const CommitInfo &info);
	std::string GuardSql() const;
	static bool IsGuardFailure(const Error &e);
	std::string RowsSql(const Allocation &ids, const CommitInfo &info, TableStatsMerger &merger, std::string &changes);
	std::string ExtraStatementsSql() const;
	void CheckBaseSurvives(int64_t head);
	void CheckConflicts(int64_t head);
	Allocation AllocateIds(const SnapshotInfo &head);
	std::string SnapshotSql(const Allocation &a, const CommitInfo &info, const std::string &changes) const;
	std::string CatalogSql(const Allocation &a) const;
	std::string ColumnSql(const Allocation &a) const;
	std::string FileSql(const Allocation &a, const std::map<int64_t, int64_t> &row_id_start) const;
	std::string DeleteFileSql(const Allocation &a) const;
	std::string EndRows(const char *table, const std::string &cond, int64_t snapshot) const;
	void CommitOrAmbiguous(PgTransaction &txn, const std::string &sql, int64_t snapshot);
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
