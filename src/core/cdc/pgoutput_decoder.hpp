#pragma once

#include "core/cdc/pgoutput_handler.hpp"
#include "core/cdc/relation_cache.hpp"
#include "core/common/lsn.hpp"

#include <string_view>
#include <vector>

namespace duckpipe {
class ByteReader;
}

namespace duckpipe::cdc {

// Parses pgoutput messages (the payload of XLogData) and calls the handler once per message.
// One decoder per replication connection: pgoutput re-sends Relation messages on every new
// connection, and the Stream Start/Stop state is per connection.
//
// Allocation: steady state is allocation-free per row. Tuples are parsed into reusable column
// vectors of views into the message; only Relation/Type messages allocate (the cache).
//
// Malformed or truncated input throws Error(Protocol) naming the message type and byte offset.
class PgOutputDecoder {
public:
	// proto_version is what START_REPLICATION asked for (1 or 2): stream messages need 2.
	explicit PgOutputDecoder(PgOutputHandler &handler, int proto_version = 2);

	// Decodes one message. `wal_start` (the XLogData start LSN) is attached to errors.
	void Decode(std::string_view message, Lsn wal_start = {});
	// Decodes a change message kept from a streamed block (it carries its (sub)xid) after the
	// block ended: a consumer that keeps streamed transactions replays them at their commit.
	void DecodeStreamed(std::string_view message, Lsn wal_start = {});
	// True when `message` is one that a streamed block carries for its transaction (a change, or a
	// Relation/Type description that the transaction's changes use).
	static bool IsStreamedChange(std::string_view message);

	const RelationCache &Relations() const { return cache_; }
	int ProtoVersion() const { return proto_version_; }
	// True between Stream Start and Stream Stop; changes then belong to StreamXid().
	bool InStreamBlock() const { return in_stream_; }
	// The top-level xid of the current (or last) streamed block. Changes inside it carry their own
	// (sub)transaction xid, which a Stream Abort may discard on its own.
	Xid StreamXid() const { return stream_xid_; }

private:
	void DecodeBegin(ByteReader &r);
	void DecodeCommit(ByteReader &r);
	void DecodeOrigin(ByteReader &r);
	void DecodeRelation(ByteReader &r);
	void DecodeType(ByteReader &r);
	void DecodeInsert(ByteReader &r);
	void DecodeUpdate(ByteReader &r);
	void DecodeDelete(ByteReader &r);
	void DecodeTruncate(ByteReader &r);
	void DecodeMessage(ByteReader &r);
	void DecodeStreamStart(ByteReader &r);
	void DecodeStreamStop(ByteReader &r);
	void DecodeStreamCommit(ByteReader &r);
	void DecodeStreamAbort(ByteReader &r);

	Xid ReadChangeXid(ByteReader &r) const;
	const RelationInfo &ReadRelation(ByteReader &r) const;
	TupleView ReadTuple(ByteReader &r, const RelationInfo &rel, std::vector<ColumnValue> &columns) const;
	void RequireStreaming(ByteReader &r) const;

	PgOutputHandler &handler_;
	int proto_version_;
	bool in_stream_ = false;
	Xid stream_xid_ = kInvalidXid;
	RelationCache cache_;
	std::vector<ColumnValue> old_columns_;
	std::vector<ColumnValue> new_columns_;
	std::vector<const RelationInfo *> truncated_;
};

} // namespace duckpipe::cdc
