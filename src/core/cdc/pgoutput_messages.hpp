#pragma once

#include "core/cdc/relation_cache.hpp"
#include "core/common/lsn.hpp"

#include <cstdint>
#include <span>
#include <string_view>

namespace duckpipe::cdc {

// The decoded forms of pgoutput messages (protocol versions 1 and 2). Every string_view points
// into the message buffer handed to PgOutputDecoder::Decode and is valid only during the handler
// callback; copy what must outlive it.

using Xid = uint32_t;
inline constexpr Xid kInvalidXid = 0;

// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01 00:00:00 UTC).
inline constexpr int64_t kPgEpochOffsetUs = 946684800LL * 1000000LL;

// One column of a TupleData: the byte that tags it, and for Text/Binary its bytes.
enum class ColumnKind : char {
	Null = 'n',
	UnchangedToast = 'u', // the old value is unchanged and was not sent: keep what you have
	Text = 't',           // data is the type's text output
	Binary = 'b',         // data is the type's binary send output (only with binary 'true')
};

struct ColumnValue {
	ColumnKind kind = ColumnKind::Null;
	std::string_view data; // empty unless Text or Binary

	bool IsNull() const { return kind == ColumnKind::Null; }
	bool IsUnchangedToast() const { return kind == ColumnKind::UnchangedToast; }
	bool HasValue() const { return kind == ColumnKind::Text || kind == ColumnKind::Binary; }
};

// The columns of one tuple, in RelationInfo::columns order (the decoder checks the counts match).
class TupleView {
public:
	TupleView() = default;
	explicit TupleView(std::span<const ColumnValue> columns) : columns_(columns) {}
	size_t Size() const { return columns_.size(); }
	bool Empty() const { return columns_.empty(); }
	const ColumnValue &operator[](size_t i) const { return columns_[i]; }
	auto begin() const { return columns_.begin(); }
	auto end() const { return columns_.end(); }

private:
	std::span<const ColumnValue> columns_;
};

// Which old tuple an Update or Delete carried.
enum class OldTupleKind : char {
	None = 0,   // Update of a table whose key did not change (or REPLICA IDENTITY NOTHING)
	Key = 'K',  // replica identity columns only; the others are Null
	Full = 'O', // the whole old row (REPLICA IDENTITY FULL)
};

struct BeginMessage {
	Lsn final_lsn;          // LSN of the commit record
	int64_t commit_time_us; // Unix epoch microseconds
	Xid xid;
};

struct CommitMessage {
	uint8_t flags;
	Lsn commit_lsn;
	Lsn end_lsn; // position after the commit record: confirm this once the transaction is durable
	int64_t commit_time_us;
};

struct OriginMessage {
	Lsn commit_lsn; // LSN of the commit on the origin server
	std::string_view name;
};

struct TypeMessage {
	Xid xid; // kInvalidXid unless inside a streamed block
	const TypeInfo *type;
};

struct InsertMessage {
	Xid xid; // kInvalidXid unless inside a streamed block (Stream Start .. Stream Stop)
	const RelationInfo *relation;
	TupleView new_tuple;
};

struct UpdateMessage {
	Xid xid;
	const RelationInfo *relation;
	OldTupleKind old_kind;
	TupleView old_tuple; // empty when old_kind is None
	TupleView new_tuple; // may contain UnchangedToast columns
};

struct DeleteMessage {
	Xid xid;
	const RelationInfo *relation;
	OldTupleKind old_kind; // Key or Full
	TupleView old_tuple;
};

struct TruncateMessage {
	static constexpr uint8_t kCascade = 1;
	static constexpr uint8_t kRestartIdentity = 2;

	Xid xid;
	uint8_t options;
	std::span<const RelationInfo *const> relations;

	bool Cascade() const { return options & kCascade; }
	bool RestartIdentity() const { return options & kRestartIdentity; }
};

// pg_logical_emit_message(transactional, prefix, content).
struct LogicalMessage {
	Xid xid; // kInvalidXid unless inside a streamed block
	bool transactional;
	Lsn lsn;
	std::string_view prefix;
	std::string_view content;
};

struct StreamStartMessage {
	Xid xid;
	bool first_segment;
};

struct StreamCommitMessage {
	Xid xid;
	uint8_t flags;
	Lsn commit_lsn;
	Lsn end_lsn;
	int64_t commit_time_us; // Unix epoch microseconds
};

struct StreamAbortMessage {
	Xid xid;
	Xid subxid; // == xid when the whole transaction aborted, else only this subtransaction's changes
};

} // namespace duckpipe::cdc
