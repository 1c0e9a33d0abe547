#include "core/pipeline/streamed_txns.hpp"

#include "core/common/error.hpp"
#include "core/common/log.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <unistd.h>

namespace duckpipe::pipeline {

namespace {

// Change messages carry their (sub)transaction xid right after the type byte inside a stream.
bool IsChange(char type) {
	return type == 'I' || type == 'U' || type == 'D' || type == 'T' || type == 'M';
}

cdc::Xid ChangeXid(std::string_view message) {
	if (message.size() < 5) {
		return cdc::kInvalidXid;
	}
	auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(message[i])); };
	return (b(1) << 24) | (b(2) << 16) | (b(3) << 8) | b(4);
}

void AppendRecord(std::vector<char> &out, std::string_view message) {
	auto len = static_cast<uint32_t>(message.size());
	const auto *len_bytes = reinterpret_cast<const char *>(&len);
	out.insert(out.end(), len_bytes, len_bytes + sizeof(len));
	out.insert(out.end(), message.begin(), message.end());
}

Error IoError(const std::string &what, const std::string &path) {
	return Error(ErrorKind::Io, what + " " + path + ": " + std::strerror(errno),
	             {.hint = "large streamed transactions spill there: check its free space and permissions "
	                      "(--temp-dir)"});
}

} // namespace

StreamedTxns::Txn::~Txn() {
	if (spill) {
		std::fclose(spill);
	}
}

StreamedTxns::StreamedTxns(std::string spill_dir, int64_t memory_limit)
    : spill_dir_(std::move(spill_dir)), memory_limit_(memory_limit) {
	if (spill_dir_.empty()) {
		spill_dir_ = std::filesystem::temp_directory_path().string();
	}
}

StreamedTxns::~StreamedTxns() {
	Clear();
}

void StreamedTxns::Begin(cdc::Xid xid) {
	Forget(xid);
	txns_[xid];
}

void StreamedTxns::Add(cdc::Xid xid, std::string_view message) {
	auto &txn = txns_[xid];
	auto record = static_cast<int64_t>(message.size() + sizeof(uint32_t));
	// Spilled before the message goes in, so what is kept stays within the limit.
	if (memory_bytes_ > 0 && memory_bytes_ + record > memory_limit_) {
		SpillAll();
	}
	size_t needed = txn.memory.size() + static_cast<size_t>(record);
	if (needed > txn.memory.capacity()) {
		// Grown by doubling, the buffer would reach up to twice the limit, with its old copy beside
		// the new one while it grows; capped at what the other transactions' buffers leave of the
		// limit, all of them together never hold more than it. A vector: a string's reserve() rounds
		// up to the doubling anyway.
		auto others = HeldBytes() - static_cast<int64_t>(txn.memory.capacity());
		if (others + static_cast<int64_t>(needed) > memory_limit_) {
			SpillAll(); // their buffers' room, not only their bytes, would pass the limit
			others = 0;
			needed = static_cast<size_t>(record);
		}
		size_t capped = std::min(2 * txn.memory.capacity(), static_cast<size_t>(memory_limit_ - others));
		txn.memory.reserve(std::max(needed, capped));
	}
	AppendRecord(txn.memory, message);
	memory_bytes_ += record;
	if (memory_bytes_ > memory_limit_) {
		SpillAll(); // one message larger than the limit goes to disk at once
	}
}

void StreamedTxns::SpillAll() {
	// Every transaction's kept messages go to disk, not only this one's: memory drops to nothing at
	// once, however the transactions interleave.
	for (auto &[xid, txn] : txns_) {
		if (!txn.memory.empty()) {
			Spill(xid, txn);
		}
	}
}

int64_t StreamedTxns::HeldBytes() const {
	int64_t held = 0;
	for (const auto &[xid, txn] : txns_) {
		held += static_cast<int64_t>(txn.memory.capacity());
	}
	return held;
}

void StreamedTxns::Spill(cdc::Xid xid, Txn &txn) {
	if (!txn.spill) {
		auto path =
		    (std::filesystem::path(spill_dir_) / ("duckpipe-stream-" + std::to_string(::getpid()) + "-" +
		                                          std::to_string(++spill_seq_) + "-" + std::to_string(xid) + ".spill"))
		        .string();
		std::error_code ignored;
		std::filesystem::create_directories(spill_dir_, ignored);
		txn.spill = std::fopen(path.c_str(), "w+b");
		if (!txn.spill) {
			throw IoError("cannot create the spill file", path);
		}
		// Unlinked at once: the open file is all we need, and a crash leaves nothing behind.
		::unlink(path.c_str());
		spilled_txns_++;
		log::Info("stream.spill", "xid", xid, "dir", spill_dir_);
	}
	if (!txn.memory.empty() && std::fwrite(txn.memory.data(), 1, txn.memory.size(), txn.spill) != txn.memory.size()) {
		throw IoError("cannot write the spill file of a streamed transaction in", spill_dir_);
	}
	spilled_bytes_ += static_cast<int64_t>(txn.memory.size());
	memory_bytes_ -= static_cast<int64_t>(txn.memory.size());
	txn.memory.clear();
	txn.memory.shrink_to_fit();
}

void StreamedTxns::Abort(cdc::Xid xid, cdc::Xid subxid) {
	if (subxid == xid || subxid == cdc::kInvalidXid) {
		Forget(xid);
		return;
	}
	auto it = txns_.find(xid);
	if (it != txns_.end()) {
		it->second.aborted_subxids.insert(subxid);
	}
}

void StreamedTxns::Replay(cdc::Xid xid, const std::function<bool(std::string_view)> &apply) {
	auto it = txns_.find(xid);
	if (it == txns_.end()) {
		return;
	}
	auto &txn = it->second;
	auto wanted = [&](std::string_view message) {
		return txn.aborted_subxids.empty() || !IsChange(message[0]) ||
		       !txn.aborted_subxids.contains(ChangeXid(message));
	};
	bool go_on = true;
	if (txn.spill) {
		std::rewind(txn.spill);
		std::string message;
		for (;;) {
			uint32_t len = 0;
			size_t got = std::fread(&len, 1, sizeof(len), txn.spill);
			if (got == 0 && std::feof(txn.spill)) {
				break;
			}
			message.resize(len);
			if (got != sizeof(len) || (len > 0 && std::fread(message.data(), 1, len, txn.spill) != len)) {
				throw IoError("cannot read back the spill file of a streamed transaction in", spill_dir_);
			}
			if (!message.empty() && wanted(message) && !apply(message)) {
				go_on = false;
				break;
			}
		}
	}
	std::string_view rest(txn.memory.data(), txn.memory.size());
	while (go_on && rest.size() >= sizeof(uint32_t)) {
		uint32_t len = 0;
		std::memcpy(&len, rest.data(), sizeof(len));
		auto message = rest.substr(sizeof(len), len);
		rest.remove_prefix(sizeof(len) + len);
		if (!message.empty() && wanted(message) && !apply(message)) {
			break;
		}
	}
	Forget(xid);
}

void StreamedTxns::Forget(cdc::Xid xid) {
	auto it = txns_.find(xid);
	if (it != txns_.end()) {
		memory_bytes_ -= static_cast<int64_t>(it->second.memory.size());
		txns_.erase(it);
	}
}

void StreamedTxns::Clear() {
	txns_.clear();
	memory_bytes_ = 0;
}

} // namespace duckpipe::pipeline
