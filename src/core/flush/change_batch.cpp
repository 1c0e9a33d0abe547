#include "core/flush/change_batch.hpp"

#include "core/common/error.hpp"

#include <limits>

namespace duckpipe::flush {

ChangeBatch::ChangeBatch(size_t columns) : columns_(columns) {
	if (columns == 0) {
		throw Error(ErrorKind::Internal, "a change batch needs at least one column");
	}
}

void ChangeBatch::BeginRow(ChangeOp op, uint64_t seq, Lsn commit_lsn) {
	if (!Complete()) {
		throw Error(ErrorKind::Internal, "change batch row " + std::to_string(Rows() - 1) + " has " +
		                                     std::to_string(kinds_.size() - (Rows() - 1) * columns_) + " of " +
		                                     std::to_string(columns_) + " cells when the next row begins");
	}
	if (!seqs_.empty() && seq <= seqs_.back()) {
		throw Error(ErrorKind::Internal, "change batch seq " + std::to_string(seq) + " does not increase (previous " +
		                                     std::to_string(seqs_.back()) + ")");
	}
	ops_.push_back(op);
	seqs_.push_back(seq);
	lsns_.push_back(commit_lsn);
	if (op != ChangeOp::Insert) {
		non_inserts_++;
	}
}

void ChangeBatch::AddCell(CellKind kind, std::string_view text) {
	if (kinds_.size() >= ops_.size() * columns_) {
		throw Error(ErrorKind::Internal, ops_.empty()
		                                     ? std::string("change batch cell added before BeginRow")
		                                     : "change batch row has more than " + std::to_string(columns_) + " cells");
	}
	// Offsets are 32-bit to halve their memory; a batch is handed to the queue long before 4 GiB.
	if (arena_.size() + text.size() > std::numeric_limits<uint32_t>::max()) {
		throw Error(ErrorKind::Internal, "change batch text exceeds 4 GiB",
		            {.hint = "cut batches by Bytes() before they grow this large"});
	}
	arena_.append(text);
	kinds_.push_back(kind);
	ends_.push_back(static_cast<uint32_t>(arena_.size()));
}

void ChangeBatch::AddNull() {
	AddCell(CellKind::Null, {});
}

void ChangeBatch::AddUnchanged() {
	AddCell(CellKind::Unchanged, {});
	unchanged_cells_++;
}

void ChangeBatch::AddText(std::string_view text) {
	AddCell(CellKind::Text, text);
}

void ChangeBatch::Reserve(size_t rows, size_t text_bytes) {
	ops_.reserve(rows);
	seqs_.reserve(rows);
	lsns_.reserve(rows);
	kinds_.reserve(rows * columns_);
	ends_.reserve(rows * columns_);
	arena_.reserve(text_bytes);
}

void ChangeBatch::Clear() {
	ops_.clear();
	seqs_.clear();
	lsns_.clear();
	kinds_.clear();
	ends_.clear();
	arena_.clear();
	non_inserts_ = 0;
	unchanged_cells_ = 0;
}

size_t ChangeBatch::Bytes() const {
	return sizeof(*this) + ops_.capacity() * sizeof(ChangeOp) + seqs_.capacity() * sizeof(uint64_t) +
	       lsns_.capacity() * sizeof(Lsn) + kinds_.capacity() * sizeof(CellKind) + ends_.capacity() * sizeof(uint32_t) +
	       arena_.capacity();
}

std::string_view ChangeBatch::Text(size_t row, size_t col) const {
	size_t cell = row * columns_ + col;
	if (kinds_[cell] != CellKind::Text) {
		return {};
	}
	uint32_t begin = cell == 0 ? 0 : ends_[cell - 1];
	return std::string_view(arena_).substr(begin, ends_[cell] - begin);
}

} // namespace duckpipe::flush
