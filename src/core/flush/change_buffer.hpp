#pragma once

#include "core/common/lsn.hpp"
#include "core/common/private_dir.hpp"
#include "core/flush/change_batch.hpp"
#include "core/flush/typed_chunks.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace duckpipe {
class DuckConnection;
class DuckDatabase;
} // namespace duckpipe

namespace duckpipe::flush {

class StagingAppender;

struct BufferColumn {
	std::string name;      // target (lake) column name
	std::string duck_type; // DuckDB SQL type of the lake column: "INTEGER", "DECIMAL(12,2)", "VARCHAR[]"
	// DuckDB SQL expression converting the PostgreSQL text value; every `{}` stands for the VARCHAR input,
	// e.g. "from_hex(substr({}, 3))" (so a literal "{}" must be spelled chr(123) || chr(125)). The result
	// is CAST to duck_type. Empty = CAST({} AS duck_type).
	std::string from_text;
	bool key = false; // part of the primary key / replica identity
	// A value in PostgreSQL's canonical text form of this type is converted in C++ to what from_text
	// gives (any other spelling still goes through from_text). Only for a duck_type of that form.
	TextForm form = TextForm::Sql;
};

// One step of a source schema change, applied to the rows already buffered (in order).
struct BufferColumnChange {
	enum class Kind { Add, Drop, Rename, Retype };
	Kind kind = Kind::Add;
	std::string name;     // the column before the change (Add: the new column's name)
	std::string new_name; // Rename only
	BufferColumn column;  // Add, Retype: the column after the change
	std::string fill_sql; // Add: DuckDB expression the rows already buffered get (empty = NULL)
};

struct ChangeBufferOptions {
	std::string temp_dir;          // base dir (empty = system temp); the buffer uses a fresh subdirectory of it
	int64_t buffer_memory_mb = 16; // DuckDB memory_limit (MiB) while buffering; beyond it the buffer spills to disk
	int64_t flush_memory_mb = 512; // memory_limit (MiB) during compaction + apply
	int64_t temp_max_mb = 0;       // max_temp_directory_size (MiB) of the spill directory; 0 = the free space
	int threads = 1;
	bool append_mode = false; // changelog: no compaction, every change is a row
	// While the batches since the last flush total at most this many bytes (ChangeBatch::Bytes), they
	// are kept as they came and DuckDB is opened only to flush them: a table receiving small changes
	// holds no DuckDB instance (a few MB each) between flushes. Conversion errors then surface at
	// Flush. 0: every batch goes to DuckDB when appended.
	int64_t defer_bytes = 0;
	// Directories the buffer's DuckDB may open besides its own (the lake data path its flushes write
	// to and read from). It opens no other file: a flush executes catalog text (column defaults).
	std::vector<std::string> lake_directories;
};

// The per-table change buffer between the queue and the lake. It owns an embedded DuckDB instance
// opened lazily on the first Append and closed after every successful Flush, so an idle table holds
// no memory and no temp files. Not thread-safe: one flush thread owns it.
//
// Each append (one batch or several) goes through a DuckDB query appender into one INSERT ... SELECT
// (one transaction), landing in the typed buffer table: the lake types plus _seq BIGINT, _op UTINYINT,
// _unchanged USMALLINT[] and, in append mode, _commit_lsn BIGINT. Columns with a TextForm whose values
// are all in PostgreSQL's canonical text are converted in C++ and appended as typed vectors (whole
// data chunks); otherwise the values go as VARCHAR and the columns' from_text expressions convert
// them. The in-memory database spills that table to temp files beyond memory_limit.
class ChangeBuffer {
public:
	// What Flush hands to the apply step. `relation` (a table or view in the connection) has the
	// value columns (names in value_columns, in constructor order) followed by:
	//   _seq BIGINT           the change's sequence number
	//   _op VARCHAR           'I', 'U', 'D', 'M' (the insert half of an UPDATE that moved the key) or,
	//                         in append mode, 'T' (a TRUNCATE)
	//   _unchanged USMALLINT[] 0-based indexes into value_columns of unchanged-TOAST cells whose value is
	//                         not in the relation (NULL when none): keep the value already in the lake
	//   _commit_lsn BIGINT    append mode only: the source transaction's commit LSN
	// Upsert mode: one row per key, the last change by _seq; a 'D' row carries only the key columns.
	// Unchanged TOAST cells are filled from the latest earlier change of the key in the buffer when
	// there is one. Append mode: every change, in no particular order (sort by _seq when it matters).
	struct Compacted {
		std::string relation;
		uint64_t rows = 0;
		uint64_t deletes = 0;     // rows with _op = 'D'
		bool only_inserts = true; // no Update/Delete since the last flush: the lake delete can be skipped
		Lsn max_commit_lsn;
		std::vector<std::string> value_columns;
		uint64_t unchanged_rows = 0; // rows with a non-NULL _unchanged: 0 lets the apply skip the lake lookup
		// Per key column, the relation column holding the key under which a row's unchanged cells are
		// found in the lake (the old key for a row an UPDATE moved); empty: the key columns themselves.
		std::vector<std::string> lookup_columns;
		bool append_mode = false;
		// Phase times of this flush, ms: appending the batches buffered since the last flush (their
		// conversion into the buffer table), and building this relation (last change per key wins).
		double load_ms = 0;
		double compact_ms = 0;
	};
	using ApplyFunction = std::function<void(DuckConnection &, const Compacted &)>;

	// Throws Error(Config) for an empty or duplicate column list, reserved names (_seq, _op,
	// _unchanged, _commit_lsn), a from_text without `{}`, or upsert mode without key columns.
	ChangeBuffer(std::string table_label, std::vector<BufferColumn> columns, ChangeBufferOptions options);
	~ChangeBuffer();
	ChangeBuffer(const ChangeBuffer &) = delete;
	ChangeBuffer &operator=(const ChangeBuffer &) = delete;

	// Opens DuckDB in a fresh subdirectory of temp_dir and creates the staging and buffer tables.
	void EnsureBuffer();
	// Appends a batch (all-or-nothing). A value that does not convert throws Error(Unsupported) naming
	// the table, the column and DuckDB's message (which quotes the value); an unchanged TOAST key
	// column throws Error(Unsupported); a seq not above the previous one throws Error(Internal).
	void Append(const ChangeBatch &batch);
	// Appends several batches, in order, as one (all-or-nothing): a run of small transactions costs
	// one DuckDB statement instead of one each.
	void Append(std::span<const ChangeBatch *const> batches);

	// The source table changed: rows already buffered get `changes` (in order) and later batches have
	// `columns`, which must be Columns() with the changes applied. Throws Error(Config) for a column
	// list the buffer cannot hold, Error(Duck) when DuckDB refuses a change (the buffer is then unusable:
	// Clear it).
	void Evolve(std::vector<BufferColumn> columns, const std::vector<BufferColumnChange> &changes);

	// Drops everything buffered and takes `columns` for the rows to come (the stream restarts from a
	// schema the lake holds).
	void Reconfigure(std::vector<BufferColumn> columns);

	bool HasNonInserts() const { return non_inserts_; }
	// Memory held by the open DuckDB instance now (its buffer manager: the buffered rows and what a
	// flush builds) plus the deferred batches; DuckDB's part is 0 while closed or when it does not
	// answer. A query: call it now and then.
	int64_t MemoryBytes() noexcept;
	uint64_t BufferedRows() const { return rows_; }
	// Appends that took the typed path (values converted in C++), since construction.
	uint64_t TypedAppends() const { return typed_appends_; }
	// Commit LSN of the last appended change (kInvalidLsn when the buffer is empty).
	Lsn LastCommitLsn() const { return last_commit_lsn_; }

	// Compacts and calls apply with the open connection, memory_limit raised to flush_memory_mb. On
	// success the buffer is dropped and the DuckDB instance closed (its subdirectory removed). When
	// apply throws, the buffer stays intact for a retry and the exception propagates. With nothing
	// buffered, apply is not called.
	void Flush(const ApplyFunction &apply);
	// New memory limits and threads (positive): the flush limit applies from the next Flush, the
	// others when the instance next opens (it closes after every flush).
	void SetResources(int64_t buffer_memory_mb, int64_t flush_memory_mb, int threads);
	// Drops everything without flushing (shutdown, error, resync) and closes the instance.
	void Clear() noexcept;

	const std::string &TableLabel() const { return label_; }
	const std::vector<BufferColumn> &Columns() const { return columns_; }
	bool IsOpen() const { return conn_ != nullptr; }
	// The buffer's own subdirectory (DuckDB temp files live below it); empty while closed.
	const std::string &Directory() const { return dir_.Path(); }
	// The open connection (nullptr while closed), for diagnostics and tests; invalid after Flush/Clear.
	DuckConnection *Connection() const { return conn_.get(); }

	// The query appender's virtual table of the batch being appended.
	static constexpr const char *kBatchRelation = "duckpipe_batch";
	// Holds a batch (VARCHAR) only while a failed conversion is diagnosed.
	static constexpr const char *kStagingTable = "duckpipe_staging";
	static constexpr const char *kBufferTable = "duckpipe_buffer";
	static constexpr const char *kCompactedRelation = "duckpipe_compacted";
	static constexpr const char *kChangesRelation = "duckpipe_changes";
	static constexpr const char *kLookupPrefix = "_lookup_key_";

private:
	void Open();
	void Close() noexcept;
	// Validates columns_ and derives key_columns_, staging_names_, insert_sql_ and the typed path from it.
	void Configure();
	std::string StagingTableSql() const;
	void ResetCounters();
	void AppendConverted(std::span<const ChangeBatch *const> batches);
	// Runs `fill` on a query appender of `sql` in one transaction; a failure rolls back and is diagnosed.
	void AppendWith(std::span<const ChangeBatch *const> batches, const std::vector<duckdb_type> &types,
	                const std::string &sql, const std::function<void(StagingAppender &)> &fill);
	// Opens DuckDB and moves the deferred batches into it, in one append.
	void AppendDeferred();
	void AppendRows(const ChangeBatch &batch, StagingAppender &app);
	[[noreturn]] void DiagnoseConversion(std::span<const ChangeBatch *const> batches, const std::exception_ptr &cause);
	std::string ColumnExpression(size_t col) const;
	std::string BuildRelation();
	std::string CompactionSql() const;
	void DropRelation(const std::string &relation, bool is_view) noexcept;
	std::string MemoryLimit(int64_t mb) const;

	std::string label_;
	std::vector<BufferColumn> columns_;
	ChangeBufferOptions options_;
	std::vector<size_t> key_columns_;
	std::vector<std::string> staging_names_;
	std::string insert_sql_; // staging -> buffer conversion, built once
	// The typed path (columns converted in C++ where their form allows): its chunk builder and
	// conversion statement; null when no column has a form.
	std::unique_ptr<TypedChunks> typed_;
	std::string typed_insert_sql_;

	PrivateDirectory dir_; // before the database: removed after it closes
	std::unique_ptr<DuckDatabase> db_;
	std::unique_ptr<DuckConnection> conn_;

	std::vector<ChangeBatch> deferred_; // appended, not yet in DuckDB (options_.defer_bytes)
	int64_t deferred_bytes_ = 0;
	uint64_t rows_ = 0;
	uint64_t typed_appends_ = 0;
	double load_ms_ = 0; // Append time since the last flush
	bool non_inserts_ = false;
	bool any_seq_ = false;
	uint64_t last_seq_ = 0;
	Lsn last_commit_lsn_;
	Lsn max_commit_lsn_;
	std::vector<bool> unchanged_columns_; // columns that arrived as unchanged TOAST since the last flush
};

} // namespace duckpipe::flush
