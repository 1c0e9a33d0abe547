#pragma once

#include "core/common/lsn.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace duckpipe::flush {

// InsertMoved: the new row of an UPDATE that changed the key, right after the Delete of the old key;
// its unchanged TOAST cells hold the old key's values. Truncate appears only in changelog (append
// mode) buffers: a row of NULLs recording the TRUNCATE.
enum class ChangeOp : uint8_t { Insert = 'I', Update = 'U', Delete = 'D', InsertMoved = 'M', Truncate = 'T' };

enum class CellKind : uint8_t {
	Null,
	Unchanged, // unchanged TOAST value: PostgreSQL did not send it, the previous value stands
	Text,
};

// Decoded row changes of ONE table, the unit that crosses the slot-consumer -> flush-thread queue.
// Values are PostgreSQL's text output (pgoutput / COPY text). All text lives in one arena and each
// cell costs one kind byte and one offset, so filling a batch does no per-cell allocation.
//
// A Delete row carries the key columns and Null for the others; a key-changing Update is split by
// the caller into Delete(old key) + Insert(new row). A row is built by BeginRow followed by exactly
// `columns` Add* calls. Misuse (wrong cell count, non-increasing seq) throws Error(Internal).
class ChangeBatch {
public:
	explicit ChangeBatch(size_t columns);

	// seq orders changes of one table: strictly increasing within a batch and across batches.
	void BeginRow(ChangeOp op, uint64_t seq, Lsn commit_lsn);
	void AddNull();
	void AddUnchanged();
	void AddText(std::string_view text);

	// Preallocates for `rows` rows holding `text_bytes` bytes of text in total.
	void Reserve(size_t rows, size_t text_bytes);
	// Forgets all rows but keeps the allocations, so a batch can be reused.
	void Clear();

	size_t Columns() const { return columns_; }
	size_t Rows() const { return ops_.size(); }
	// Memory held (capacity, not size): what the queue charges for backpressure.
	size_t Bytes() const;
	// True when the last row has all its cells (or there are no rows).
	bool Complete() const { return kinds_.size() == ops_.size() * columns_; }

	ChangeOp Op(size_t row) const { return ops_[row]; }
	uint64_t Seq(size_t row) const { return seqs_[row]; }
	Lsn CommitLsn(size_t row) const { return lsns_[row]; }
	CellKind Kind(size_t row, size_t col) const { return kinds_[row * columns_ + col]; }
	// Empty for Null and Unchanged cells.
	std::string_view Text(size_t row, size_t col) const;

	bool OnlyInserts() const { return non_inserts_ == 0; }
	bool HasUnchanged() const { return unchanged_cells_ != 0; }

private:
	void AddCell(CellKind kind, std::string_view text);

	size_t columns_;
	std::vector<ChangeOp> ops_;
	std::vector<uint64_t> seqs_;
	std::vector<Lsn> lsns_;
	std::vector<CellKind> kinds_; // row-major, Rows() * columns_ once complete
	std::vector<uint32_t> ends_;  // end offset in arena_ of each cell; a cell starts where the previous ends
	std::string arena_;
	size_t non_inserts_ = 0;
	size_t unchanged_cells_ = 0;
};

} // namespace duckpipe::flush
