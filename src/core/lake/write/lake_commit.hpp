#pragma once

#include "core/lake/catalog_model.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace duckpipe {
class PgConnection;
class DuckConnection;
} // namespace duckpipe

namespace duckpipe::lake {

class LakeWriter;
class AmbiguousCommitError;
struct CommitState;
struct TableBase;
struct WrittenFile;

struct CommitInfo {
	std::optional<std::string> author;
	std::optional<std::string> message;
	std::optional<std::string> extra_info;
};

// One DuckLake snapshot in the making. Stage operations, then Commit(): one PostgreSQL transaction
// on the catalog that inserts snapshot S = head+1 and every row. Parquet files are written while
// staging (Insert) or just before the transaction (delete files), never rewritten on retry.
// Destroying an uncommitted LakeCommit (or Abort) deletes every file it wrote.
//
// Tables and schemas are named by id; CreateSchema/CreateTable return negative handles that every
// method accepts and ResolveId() turns into the real id (inside AddSql callbacks and after Commit).
// Not thread-safe: one thread stages and commits it.
class LakeCommit {
public:
	~LakeCommit();
	LakeCommit(LakeCommit &&other) noexcept;
	LakeCommit &operator=(LakeCommit &&) = delete;
	LakeCommit(const LakeCommit &) = delete;
	LakeCommit &operator=(const LakeCommit &) = delete;

	// The snapshot staging reads from (the head when Begin ran).
	int64_t BaseSnapshot() const;
	// Table lookup at the base snapshot, including tables created in this commit.
	std::optional<int64_t> FindTable(const std::string &schema, const std::string &name);
	// The table as this commit sees it (staged column changes included).
	const LakeTable &Table(int64_t table);

	// --- schema operations (digest §3.1, 3.2, 3.6, 3.7, 3.8)
	int64_t CreateSchema(const std::string &name); // -> handle
	// Columns get ids 1.. depth-first (children after their parent); `column_id`s passed in are ignored.
	// The schema must exist at the base snapshot or be created in this commit. -> handle
	int64_t CreateTable(const std::string &schema, const std::string &name, std::vector<LakeColumn> columns);
	void DropTable(int64_t table);
	void RenameTable(int64_t table, const std::string &new_name);
	// initial_default: what existing rows read; default_value: for future inserts. -> the new column id
	int64_t AddColumn(int64_t table, LakeColumn column);
	void DropColumn(int64_t table, const std::string &name);
	void RenameColumn(int64_t table, const std::string &old_name, const std::string &new_name);
	// Only IsSafeWidening() changes (int32 -> int64, float32 -> float64, ...); Error(Unsupported) otherwise.
	void WidenColumnType(int64_t table, const std::string &name, const std::string &new_type);
	// Ends every live data file; earlier staged inserts/deletes of the table in this commit are dropped.
	void Truncate(int64_t table);

	// --- data
	// Writes the rows of `select_sql` (run on `duck`) as one Parquet file. Output columns are matched
	// to the table's columns by name (case-insensitive) and cast to the lake type; table columns the
	// query lacks get their default. -> rows written (0 writes no file).
	int64_t Insert(int64_t table, DuckConnection &duck, const std::string &select_sql);
	// Deletes every live row whose key equals a row of `keys_sql` (columns named like key_columns).
	// Candidate files are pruned with file_column_stats min/max of the keys; then one integer key
	// column is looked up in the candidates' KeyIndex (a few blocks per key, whatever the table's
	// size), other keys by reading the candidates.
	// -> positions found (rows already deleted may be counted again; the delete file holds them once).
	int64_t DeleteByKey(int64_t table, DuckConnection &duck, const std::vector<std::string> &key_columns,
	                    const std::string &keys_sql);
	// Row-match delete for tables without a key: `rows_sql` yields distinct rows with the columns
	// named in `columns` plus kMatchCountColumn (BIGINT, > 0). For each row, that many live lake rows
	// equal to it in every listed column (IS NOT DISTINCT FROM) are deleted. Rows already deleted (in
	// the lake or staged in this commit) never match. Throws Error(Lake) naming the table when fewer
	// equal rows are live than must be deleted (the lake diverged from the source). -> positions deleted.
	int64_t DeleteMatchingRows(int64_t table, DuckConnection &duck, const std::vector<std::string> &columns,
	                           const std::string &rows_sql);
	static constexpr const char *kMatchCountColumn = "__dp_count";
	// Deletes physical row positions of a live data file.
	void DeletePositions(int64_t table, int64_t data_file_id, const std::vector<int64_t> &positions);

	// Lets Insert write a table's rows into the catalog's inlined data table instead of a Parquet
	// file when they number at most the lake's data_inlining_row_limit (DuckLake data inlining), and
	// for tables whose columns can all be inlined. Off unless called (the pipeline's flushes call it).
	void AllowInlining();

	// Runs inside the catalog transaction after the lake rows (on every attempt: keep it idempotent
	// per attempt, e.g. plain UPDATE/INSERT; the transaction rolls back on retry).
	void AddSql(std::function<void(PgConnection &)> fn);
	// The same for SQL text: `fn` returns statements (';'-separated) that go to the catalog in the
	// round trip that carries the lake rows and COMMIT, so they cost no round trip of their own. They
	// run before the AddSql callbacks.
	void AddStatement(std::function<std::string(PgConnection &)> fn);

	// Commits; returns the new snapshot id (the base snapshot when nothing changed in the lake: then
	// only the AddSql callbacks run, in their own transaction). Throws Error(Conflict) when a concurrent
	// commit conflicts (files removed), other Errors on failure (catalog unchanged, files removed).
	// When the connection fails after COMMIT was sent, the catalog is asked on a new connection whether
	// it committed: committed returns the snapshot; not committed fails as above; when the catalog
	// cannot tell, throws Error(Connection) with OutcomeUnknown() true and the files kept (they may be
	// referenced): LakeWriter::ResolveCommit(Token()) answers later.
	int64_t Commit(const CommitInfo &info = {});
	bool OutcomeUnknown() const { return outcome_unknown_; }
	// Where Commit() spent its time, in ms: writing the delete files DeleteByKey & co. staged (part of
	// the data write), and the catalog transaction (every attempt, retries and their back-off included).
	struct Times {
		double delete_files_ms = 0;
		double catalog_ms = 0;
		// Messages the committing attempt waited for: 1 when no other writer committed since Begin.
		int64_t catalog_round_trips = 0;
	};
	const Times &CommitTimes() const { return times_; }
	// This commit's unique id in the catalog's registry of commits in flight (PendingFiles).
	const std::string &Token() const;
	// Runs right after COMMIT was sent, before its answer is read (crash tests).
	void OnCommitSent(std::function<void()> fn);
	void Abort();
	// A CreateSchema/CreateTable handle -> its id (ids pass through unchanged).
	int64_t ResolveId(int64_t id_or_handle) const;

private:
	friend class LakeWriter;
	LakeCommit(LakeWriter &writer, const SnapshotInfo &base);
	void SetToken(std::string token);
	// Registers a file in the catalog before it is written; the caller holds the writer mutex or not.
	// With a table (id >= 0), the same round trip reads its stats for the commit the first time.
	void RegisterFile(const std::string &path, bool locked, int64_t stats_of_table = -1);

	TableBase &Working(int64_t table);
	LakeColumn *FindColumn(TableBase &table, const std::string &name);
	void AssignIds(LakeColumn &column, int64_t &next_id);
	void StageColumnRows(int64_t table, const LakeColumn &column, std::optional<int64_t> parent);
	void StageReplace(int64_t table, const LakeColumn &column);
	void RequireExisting(int64_t table, const char *op);
	void DiscardStaged(int64_t table);
	void MaterialiseDeletes();
	// The live data files of `table` that may hold a row of `rows_from` (a DuckDB FROM item, e.g.
	// "__dp_keys r"): those whose file_column_stats min/max of each column admit the row's value of
	// the paired expression. Every file when `bounds` is empty.
	std::vector<const LakeDataFile *>
	FilesAdmitting(int64_t table, DuckConnection &duck,
	               const std::vector<std::pair<const LakeColumn *, std::string>> &bounds, const std::string &rows_from);
	// DeleteByKey of one integer key column through the writer's KeyIndex: -> positions found; nullopt
	// when the key type does not fit or the keys are too many for the candidates' rows (then scan).
	std::optional<int64_t> DeleteByIndexedKey(int64_t table, DuckConnection &duck, const LakeColumn &key,
	                                          const std::string &schema_map,
	                                          const std::vector<const LakeDataFile *> &candidates);
	static constexpr int64_t kIndexedKeysMax = 200000;
	static constexpr int64_t kIndexedKeysSparsity = 32; // at most one key per 32 candidate rows
	void RemoveFiles();
	// Data inlining (lake_commit_inline.cpp). Stages `file`'s rows as inlined rows when allowed and
	// small enough (the file is removed) -> true; false leaves the file as it is.
	bool StageInlined(int64_t table, DuckConnection &duck, const WrittenFile &file, const std::string &file_name);
	// Ends the live inlined rows of `table` whose key equals a row of the __dp_keys temp table
	// (columns k0.. typed as `keys`) and drops staged file positions the lake already deleted
	// inline (ducklake_inlined_delete_<T>). -> inlined rows found.
	// `loaded` is WithInlinedRows(table).
	int64_t DeleteInlinedByKey(int64_t table, DuckConnection &duck, const std::vector<const LakeColumn *> &keys,
	                           const LakeTable &loaded);
	// The working table with its inlined rows live at the commit's base snapshot.
	LakeTable WithInlinedRows(int64_t table);
	std::optional<int64_t> Resolve(const AmbiguousCommitError &e);

	LakeWriter *writer_;
	std::unique_ptr<CommitState> state_;
	bool done_ = false;
	bool outcome_unknown_ = false;
	Times times_;
};

} // namespace duckpipe::lake
