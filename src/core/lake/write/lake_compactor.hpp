#pragma once

#include "core/lake/catalog_model.hpp"
#include "core/lake/write/catalog_reads.hpp"
#include "core/lake/write/parquet_file_writer.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace duckpipe {
class PgConnection;
class DuckDatabase;
class DuckConnection;
} // namespace duckpipe

namespace duckpipe::lake {

class LakeWriter;
class AmbiguousCommitError;

struct CompactionOptions {
	// Files smaller than this are merged, in batches that stay below it.
	int64_t target_file_size_bytes = 128LL << 20;
	// A batch of small files is merged only when it holds at least this many files.
	int min_files_to_merge = 2;
	// A file whose delete_count / record_count exceeds this is rewritten with its live rows only
	// (merged with small files when it is small itself). Files with fewer deletes are left alone.
	double delete_ratio_threshold = 0.5;
	// memory_limit of the private DuckDB that reads and writes the files.
	std::string duck_memory_limit = "256MB";
	// Merge only files of like size, smallest first: a file joins a batch when it is at most twice
	// the batch so far (or below tier_floor_bytes: tiny files always merge). A table that grows by
	// small flushes then has each row rewritten a logarithmic number of times in all, where merging
	// every small file each time would rewrite the whole table at every compaction.
	bool tiered = false;
	int64_t tier_floor_bytes = 1LL << 20;
	// Small files with a few deleted rows are merged too (their live rows). A table receiving updates
	// has deletes in nearly every recent file: without this its small files would never merge.
	bool merge_small_with_deletes = false;
};

struct CompactionResult {
	std::optional<int64_t> snapshot_id; // nullopt: nothing to compact, no snapshot
	int64_t files_merged = 0;           // source files without deletes (small ones, merged)
	int64_t files_rewritten = 0;        // source files whose deleted rows were dropped
	int64_t files_written = 0;
	int64_t rows_written = 0;
};

// One compaction of one lake table (digest §3.9, the hand-rolled form): Prepare() reads the table at
// the head snapshot N and writes the new Parquet files; Commit() adds one snapshot S that only
// compacts: the new files begin at S with fresh row ids, the sources and their delete files end at
// S (time travel before S still sees them; expiry + cleanup delete them later), logged as
// rewrite_delete:T. Row counts stay exact (the new files hold exactly the live rows); table stats
// are left alone, they remain true bounds. A snapshot since N that dropped, altered, deleted from
// or compacted T makes Commit throw Error(Conflict) and remove the new files, as does a concurrent
// delete that commits after us (it sees our rewrite_delete:T). Destroying an uncommitted
// TableCompaction removes its files. Like a LakeCommit, it registers itself and each new file in
// PendingFiles before writing it (maintenance never collects them), and when the answer to its COMMIT
// is lost it asks the catalog whether it committed before removing anything.
class TableCompaction {
public:
	TableCompaction(LakeWriter &writer, int64_t table_id, CompactionOptions options = {});
	~TableCompaction();
	TableCompaction(const TableCompaction &) = delete;
	TableCompaction &operator=(const TableCompaction &) = delete;

	// Chooses the files and writes the replacements. Returns false when there is nothing to do.
	bool Prepare();
	// Commits the snapshot (retrying serialization failures like LakeCommit). Prepare() first.
	CompactionResult Commit();

private:
	struct Output {
		std::vector<LakeDataFile> sources;
		std::string file_name; // relative to the table path; empty when no live rows remain
		WrittenFile file;
	};

	void WriteOutput(Output &output);
	void CheckConflicts(PgConnection &conn, const CatalogReads &reads);
	int64_t Attempt();
	// The committed snapshot; throws the cause when it did not commit, Error(Connection) when unknown.
	int64_t Resolve(const AmbiguousCommitError &e);
	// The catalog session, reconnected (registrations adopted) after a lost connection.
	PgConnection &Conn();
	void RemoveFiles();
	// Drops this compaction's registrations (best effort: maintenance sweeps stale ones).
	void Forget() noexcept;

	LakeWriter &writer_;
	int64_t table_id_;
	CompactionOptions options_;
	std::unique_ptr<PgConnection> conn_;
	std::unique_ptr<DuckDatabase> duck_db_;
	std::unique_ptr<DuckConnection> duck_;
	SnapshotInfo base_;
	TableBase table_;
	std::vector<Output> outputs_;
	CompactionResult result_;
	std::string token_; // PendingFiles registration (also its writer id); empty until registered
	bool done_ = false;
	bool outcome_unknown_ = false; // files and registrations kept: the catalog may reference them
};

// Prepare + Commit in one call.
CompactionResult CompactTable(LakeWriter &writer, int64_t table_id, const CompactionOptions &options = {});

} // namespace duckpipe::lake
