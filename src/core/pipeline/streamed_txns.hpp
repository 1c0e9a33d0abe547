#pragma once

#include "core/cdc/pgoutput_messages.hpp"

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace duckpipe::pipeline {

// The change messages of in-progress transactions that the server streamed (pgoutput protocol 2,
// streaming = on), kept raw per top-level xid until their Stream Commit replays them as one
// ordinary transaction, the way PostgreSQL's own apply worker keeps them. Nothing of a streamed
// transaction reaches a table queue, and so nothing moves a confirmed or applied LSN, before its
// commit; a restart drops everything here and the server streams the transaction again.
//
// Memory stays bounded: once the messages held in memory would pass `memory_limit` bytes, every
// transaction's are appended to its spill file (unlinked at creation, so a crash
// leaves nothing behind). An aborted transaction only closes its file; an aborted subtransaction
// is remembered and its changes are skipped at replay.
class StreamedTxns {
public:
	StreamedTxns(std::string spill_dir, int64_t memory_limit);
	~StreamedTxns();
	StreamedTxns(const StreamedTxns &) = delete;
	StreamedTxns &operator=(const StreamedTxns &) = delete;

	// A first segment: whatever was kept for this xid is stale (it cannot be, unless the server
	// restarted the transaction) and is dropped.
	void Begin(cdc::Xid xid);
	// One change message of a streamed block, as received (type byte, then the (sub)xid).
	void Add(cdc::Xid xid, std::string_view message);
	// Stream Abort: the whole transaction (subxid == xid) or only that subtransaction.
	void Abort(cdc::Xid xid, cdc::Xid subxid);
	// Calls `apply` with every kept message of the transaction in stream order, except the changes
	// of aborted subtransactions (their Relation and Type messages stay: later changes rely on them),
	// then forgets the transaction. False from `apply` stops early (the transaction is forgotten).
	void Replay(cdc::Xid xid, const std::function<bool(std::string_view)> &apply);
	void Clear();

	size_t Open() const { return txns_.size(); }
	int64_t MemoryBytes() const { return memory_bytes_; }
	// The memory the kept messages' buffers hold (their capacity): within the limit too.
	int64_t HeldBytes() const;
	int64_t SpilledBytes() const { return spilled_bytes_; } // written to spill files, ever
	int64_t SpilledTxns() const { return spilled_txns_; }

private:
	struct Txn {
		std::vector<char> memory; // length-prefixed messages not yet spilled
		std::FILE *spill = nullptr;
		std::unordered_set<cdc::Xid> aborted_subxids;
		~Txn();
	};
	void Spill(cdc::Xid xid, Txn &txn);
	void SpillAll();
	void Forget(cdc::Xid xid);

	std::string spill_dir_;
	int64_t memory_limit_;
	std::unordered_map<cdc::Xid, Txn> txns_;
	int64_t memory_bytes_ = 0;
	int64_t spilled_bytes_ = 0;
	int64_t spilled_txns_ = 0;
	uint64_t spill_seq_ = 0;
};

} // namespace duckpipe::pipeline
