#pragma once

#include "core/cdc/pgoutput_messages.hpp"

#include <memory>

namespace duckpipe::cdc {

// Receives decoded pgoutput messages. Every argument (and every view inside it) is valid only for
// the duration of the call. Methods default to ignoring the message, so a consumer overrides what
// it handles; an exception thrown by a handler propagates out of PgOutputDecoder::Decode.
class PgOutputHandler {
public:
	virtual ~PgOutputHandler() = default;

	virtual void OnBegin(const BeginMessage &) {}
	virtual void OnCommit(const CommitMessage &) {}
	virtual void OnOrigin(const OriginMessage &) {}
	// Sent before the first change of a relation on this stream, again at the start of each
	// streamed transaction, and after DDL or cache invalidation. `change` says whether the schema
	// differs from the previous description; the shared pointer may be retained.
	virtual void OnRelation(const std::shared_ptr<const RelationInfo> &, RelationChange) {}
	virtual void OnType(const TypeMessage &) {}
	virtual void OnInsert(const InsertMessage &) {}
	virtual void OnUpdate(const UpdateMessage &) {}
	virtual void OnDelete(const DeleteMessage &) {}
	virtual void OnTruncate(const TruncateMessage &) {}
	virtual void OnMessage(const LogicalMessage &) {}
	virtual void OnStreamStart(const StreamStartMessage &) {}
	virtual void OnStreamStop() {}
	virtual void OnStreamCommit(const StreamCommitMessage &) {}
	virtual void OnStreamAbort(const StreamAbortMessage &) {}
};

} // namespace duckpipe::cdc
