#pragma once

#include "core/lake/catalog_model.hpp"
#include "core/lake/write/parquet_file_writer.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace duckpipe {
class PgConnection;
class DuckDatabase;
class DuckConnection;
} // namespace duckpipe

namespace duckpipe::lake {

class LakeWriter;

struct InlinedFlushResult {
	std::optional<int64_t> snapshot_id; // nullopt: no inlined rows, no snapshot
	int64_t rows = 0;
};

// Moves a table's inlined rows (ducklake_inlined_data_<T>_<V>, written by DuckDB clients or by us)
// into one Parquet file in one lake commit, as DuckLake's ducklake_flush_inlined_data does: the
// rows live at the head snapshot N are written to a new file that begins at S = N+1 with fresh row
// ids, and those rows end at S in their inlined tables, so a snapshot before S still reads them
// inlined and S onwards reads the file (logged inline_flush:T). Deleted inline positions of the
// table's files are left alone (the reader applies them). A snapshot since N that drops, alters,
// deletes from or flushes T, or ends one of the rows, makes it throw Error(Conflict) and remove the
// file. The file is registered in PendingFiles before it is written, like a compaction's.
class InlinedDataFlush {
public:
	InlinedDataFlush(LakeWriter &writer, int64_t table_id);
	~InlinedDataFlush();
	InlinedDataFlush(const InlinedDataFlush &) = delete;
	InlinedDataFlush &operator=(const InlinedDataFlush &) = delete;

	// Reads the inlined rows at the head and writes the file. False when there are none.
	bool Prepare();
	// Commits (retrying serialization failures). Prepare() first.
	InlinedFlushResult Commit();

private:
	int64_t Attempt();
	void CheckConflicts(PgConnection &conn, int64_t head);
	void Cleanup() noexcept;

	LakeWriter &writer_;
	int64_t table_id_;
	std::unique_ptr<PgConnection> conn_;
	std::unique_ptr<DuckDatabase> duck_db_;
	std::unique_ptr<DuckConnection> duck_;
	CatalogState state_;
	LakeTable table_;
	std::string file_name_;
	WrittenFile file_;
	std::string token_;
	bool done_ = false;
	bool keep_files_ = false; // the COMMIT's answer was lost: the catalog may reference the file
};

// Prepare + Commit in one call.
InlinedFlushResult FlushInlinedData(LakeWriter &writer, int64_t table_id);

} // namespace duckpipe::lake
