#include "core/cdc/pgoutput_decoder.hpp"

#include "core/common/byte_reader.hpp"
#include "core/common/error.hpp"

#include <fmt/format.h>

namespace duckpipe::cdc {

static int64_t ToUnixMicros(int64_t pg_us) {
	return pg_us + kPgEpochOffsetUs;
}

PgOutputDecoder::PgOutputDecoder(PgOutputHandler &handler, int proto_version)
    : handler_(handler), proto_version_(proto_version) {
	if (proto_version < 1 || proto_version > 2) {
		throw Error(ErrorKind::Config, fmt::format("pgoutput protocol version {} is not supported", proto_version),
		            {.hint = "use proto_version 1 or 2"});
	}
}

void PgOutputDecoder::Decode(std::string_view message, Lsn wal_start) {
	ByteReader r(message, "replication", wal_start);
	char type = static_cast<char>(r.ReadU8());
	switch (type) {
	case 'B':
		r.SetWhat("Begin");
		DecodeBegin(r);
		break;
	case 'C':
		r.SetWhat("Commit");
		DecodeCommit(r);
		break;
	case 'O':
		r.SetWhat("Origin");
		DecodeOrigin(r);
		break;
	case 'R':
		r.SetWhat("Relation");
		DecodeRelation(r);
		break;
	case 'Y':
		r.SetWhat("Type");
		DecodeType(r);
		break;
	case 'I':
		r.SetWhat("Insert");
		DecodeInsert(r);
		break;
	case 'U':
		r.SetWhat("Update");
		DecodeUpdate(r);
		break;
	case 'D':
		r.SetWhat("Delete");
		DecodeDelete(r);
		break;
	case 'T':
		r.SetWhat("Truncate");
		DecodeTruncate(r);
		break;
	case 'M':
		r.SetWhat("Message");
		DecodeMessage(r);
		break;
	case 'S':
		r.SetWhat("Stream Start");
		DecodeStreamStart(r);
		break;
	case 'E':
		r.SetWhat("Stream Stop");
		DecodeStreamStop(r);
		break;
	case 'c':
		r.SetWhat("Stream Commit");
		DecodeStreamCommit(r);
		break;
	case 'A':
		r.SetWhat("Stream Abort");
		DecodeStreamAbort(r);
		break;
	case 'b':
	case 'P':
	case 'K':
	case 'r':
	case 'p':
		throw Error(
		    ErrorKind::Unsupported,
		    fmt::format("pgoutput two-phase message '{}' received, but two-phase decoding is not supported", type),
		    {.lsn = wal_start.IsValid() ? std::optional<Lsn>(wal_start) : std::nullopt,
		     .hint = "create the slot without TWO_PHASE"});
	default:
		r.Fail(fmt::format("unknown message type byte 0x{:02x}", static_cast<uint8_t>(type)));
	}
}

void PgOutputDecoder::DecodeStreamed(std::string_view message, Lsn wal_start) {
	if (in_stream_ || !IsStreamedChange(message)) {
		throw Error(ErrorKind::Internal, "a kept streamed message cannot be replayed here");
	}
	in_stream_ = true;
	struct Restore {
		bool &flag;
		~Restore() { flag = false; }
	} restore{in_stream_};
	Decode(message, wal_start);
}

bool PgOutputDecoder::IsStreamedChange(std::string_view message) {
	if (message.empty()) {
		return false;
	}
	switch (message[0]) {
	case 'R':
	case 'Y':
	case 'I':
	case 'U':
	case 'D':
	case 'T':
	case 'M':
		return true;
	default:
		return false;
	}
}

Xid PgOutputDecoder::ReadChangeXid(ByteReader &r) const {
	// pgoutput prefixes changes with the (sub)transaction xid only inside a streamed block.
	return in_stream_ ? r.ReadU32() : kInvalidXid;
}

void PgOutputDecoder::RequireStreaming(ByteReader &r) const {
	if (proto_version_ < 2) {
		r.Fail("stream messages need protocol version 2, but the decoder was set up for version 1");
	}
}

const RelationInfo &PgOutputDecoder::ReadRelation(ByteReader &r) const {
	Oid oid = r.ReadU32();
	const RelationInfo *rel = cache_.Find(oid);
	if (!rel) {
		r.Fail(fmt::format("relation OID {} was not described by a Relation message first (use one decoder per "
		                   "replication connection)",
		                   oid));
	}
	return *rel;
}

TupleView PgOutputDecoder::ReadTuple(ByteReader &r, const RelationInfo &rel, std::vector<ColumnValue> &columns) const {
	uint16_t ncols = r.ReadU16();
	if (ncols != rel.columns.size()) {
		r.Fail(
		    fmt::format("tuple has {} columns but relation {} has {}", ncols, rel.QualifiedName(), rel.columns.size()));
	}
	columns.resize(ncols);
	for (uint16_t i = 0; i < ncols; i++) {
		auto &col = columns[i];
		char kind = static_cast<char>(r.ReadU8());
		switch (kind) {
		case 'n':
			col = {ColumnKind::Null, {}};
			break;
		case 'u':
			col = {ColumnKind::UnchangedToast, {}};
			break;
		case 't':
		case 'b': {
			uint32_t len = r.ReadU32();
			col = {static_cast<ColumnKind>(kind), r.ReadBytes(len)};
			break;
		}
		default:
			r.Fail(fmt::format("unknown tuple column kind byte 0x{:02x} in column {}", static_cast<uint8_t>(kind), i));
		}
	}
	return TupleView(std::span<const ColumnValue>(columns.data(), ncols));
}

void PgOutputDecoder::DecodeBegin(ByteReader &r) {
	BeginMessage m;
	m.final_lsn = Lsn(r.ReadU64());
	m.commit_time_us = ToUnixMicros(r.ReadI64());
	m.xid = r.ReadU32();
	r.ExpectEnd();
	handler_.OnBegin(m);
}

void PgOutputDecoder::DecodeCommit(ByteReader &r) {
	CommitMessage m;
	m.flags = r.ReadU8();
	m.commit_lsn = Lsn(r.ReadU64());
	m.end_lsn = Lsn(r.ReadU64());
	m.commit_time_us = ToUnixMicros(r.ReadI64());
	r.ExpectEnd();
	handler_.OnCommit(m);
}

void PgOutputDecoder::DecodeOrigin(ByteReader &r) {
	OriginMessage m;
	m.commit_lsn = Lsn(r.ReadU64());
	m.name = r.ReadCString();
	r.ExpectEnd();
	handler_.OnOrigin(m);
}

void PgOutputDecoder::DecodeRelation(ByteReader &r) {
	ReadChangeXid(r);
	auto rel = std::make_shared<RelationInfo>();
	rel->oid = r.ReadU32();
	rel->nspname = r.ReadCString();
	rel->relname = r.ReadCString();
	char ident = static_cast<char>(r.ReadU8());
	if (ident != 'd' && ident != 'n' && ident != 'f' && ident != 'i') {
		r.Fail(fmt::format("unknown replica identity byte 0x{:02x}", static_cast<uint8_t>(ident)));
	}
	rel->replica_identity = static_cast<ReplicaIdentity>(ident);
	uint16_t ncols = r.ReadU16();
	// Each column takes at least 10 bytes: refuse absurd counts before allocating for them.
	if (size_t(ncols) * 10 > r.Remaining()) {
		r.Fail(fmt::format("truncated, {} columns announced but only {} bytes left", ncols, r.Remaining()));
	}
	rel->columns.resize(ncols);
	for (auto &col : rel->columns) {
		uint8_t flags = r.ReadU8();
		col.is_key = (flags & 1) != 0;
		col.name = r.ReadCString();
		col.type_oid = r.ReadU32();
		col.typmod = r.ReadI32();
	}
	r.ExpectEnd();
	std::shared_ptr<const RelationInfo> shared = std::move(rel);
	RelationChange change = cache_.Put(shared);
	handler_.OnRelation(shared, change);
}

void PgOutputDecoder::DecodeType(ByteReader &r) {
	Xid xid = ReadChangeXid(r);
	TypeInfo type;
	type.oid = r.ReadU32();
	type.nspname = r.ReadCString();
	type.typname = r.ReadCString();
	r.ExpectEnd();
	Oid oid = type.oid;
	cache_.PutType(std::move(type));
	handler_.OnType(TypeMessage{xid, cache_.FindType(oid)});
}

void PgOutputDecoder::DecodeInsert(ByteReader &r) {
	InsertMessage m;
	m.xid = ReadChangeXid(r);
	m.relation = &ReadRelation(r);
	if (r.ReadU8() != 'N') {
		r.Fail("expected 'N' before the new tuple");
	}
	m.new_tuple = ReadTuple(r, *m.relation, new_columns_);
	r.ExpectEnd();
	handler_.OnInsert(m);
}

void PgOutputDecoder::DecodeUpdate(ByteReader &r) {
	UpdateMessage m;
	m.xid = ReadChangeXid(r);
	m.relation = &ReadRelation(r);
	m.old_kind = OldTupleKind::None;
	char tag = static_cast<char>(r.ReadU8());
	if (tag == 'K' || tag == 'O') {
		m.old_kind = static_cast<OldTupleKind>(tag);
		m.old_tuple = ReadTuple(r, *m.relation, old_columns_);
		tag = static_cast<char>(r.ReadU8());
	}
	if (tag != 'N') {
		r.Fail(fmt::format("expected 'K', 'O' or 'N', got byte 0x{:02x}", static_cast<uint8_t>(tag)));
	}
	m.new_tuple = ReadTuple(r, *m.relation, new_columns_);
	r.ExpectEnd();
	handler_.OnUpdate(m);
}

void PgOutputDecoder::DecodeDelete(ByteReader &r) {
	DeleteMessage m;
	m.xid = ReadChangeXid(r);
	m.relation = &ReadRelation(r);
	char tag = static_cast<char>(r.ReadU8());
	if (tag != 'K' && tag != 'O') {
		r.Fail(fmt::format("expected 'K' or 'O', got byte 0x{:02x}", static_cast<uint8_t>(tag)));
	}
	m.old_kind = static_cast<OldTupleKind>(tag);
	m.old_tuple = ReadTuple(r, *m.relation, old_columns_);
	r.ExpectEnd();
	handler_.OnDelete(m);
}

void PgOutputDecoder::DecodeTruncate(ByteReader &r) {
	TruncateMessage m;
	m.xid = ReadChangeXid(r);
	uint32_t count = r.ReadU32();
	m.options = r.ReadU8();
	if (size_t(count) * 4 != r.Remaining()) {
		r.Fail(fmt::format("{} relations announced but {} bytes follow", count, r.Remaining()));
	}
	truncated_.clear();
	for (uint32_t i = 0; i < count; i++) {
		truncated_.push_back(&ReadRelation(r));
	}
	r.ExpectEnd();
	m.relations = std::span<const RelationInfo *const>(truncated_.data(), truncated_.size());
	handler_.OnTruncate(m);
}

void PgOutputDecoder::DecodeMessage(ByteReader &r) {
	LogicalMessage m;
	m.xid = ReadChangeXid(r);
	uint8_t flags = r.ReadU8();
	m.transactional = (flags & 1) != 0;
	m.lsn = Lsn(r.ReadU64());
	m.prefix = r.ReadCString();
	uint32_t len = r.ReadU32();
	m.content = r.ReadBytes(len);
	r.ExpectEnd();
	handler_.OnMessage(m);
}

void PgOutputDecoder::DecodeStreamStart(ByteReader &r) {
	RequireStreaming(r);
	if (in_stream_) {
		r.Fail("Stream Start inside an open streamed block (missing Stream Stop)");
	}
	StreamStartMessage m;
	m.xid = r.ReadU32();
	uint8_t first = r.ReadU8();
	if (first > 1) {
		r.Fail(fmt::format("first-segment flag is {}, expected 0 or 1", first));
	}
	m.first_segment = first == 1;
	r.ExpectEnd();
	in_stream_ = true;
	stream_xid_ = m.xid;
	handler_.OnStreamStart(m);
}

void PgOutputDecoder::DecodeStreamStop(ByteReader &r) {
	RequireStreaming(r);
	if (!in_stream_) {
		r.Fail("Stream Stop without Stream Start");
	}
	r.ExpectEnd();
	in_stream_ = false;
	handler_.OnStreamStop();
}

void PgOutputDecoder::DecodeStreamCommit(ByteReader &r) {
	RequireStreaming(r);
	StreamCommitMessage m;
	m.xid = r.ReadU32();
	m.flags = r.ReadU8();
	m.commit_lsn = Lsn(r.ReadU64());
	m.end_lsn = Lsn(r.ReadU64());
	m.commit_time_us = ToUnixMicros(r.ReadI64());
	r.ExpectEnd();
	if (in_stream_) {
		r.Fail("Stream Commit inside a streamed block");
	}
	handler_.OnStreamCommit(m);
}

void PgOutputDecoder::DecodeStreamAbort(ByteReader &r) {
	RequireStreaming(r);
	StreamAbortMessage m;
	m.xid = r.ReadU32();
	m.subxid = r.ReadU32();
	r.ExpectEnd();
	if (in_stream_) {
		r.Fail("Stream Abort inside a streamed block");
	}
	handler_.OnStreamAbort(m);
}

} // namespace duckpipe::cdc
