#pragma once

#include "core/cdc/pgoutput_handler.hpp"

#include <fmt/format.h>

#include <string>
#include <vector>

namespace duckpipe::test {

// Renders every callback as one line, so tests (unit and integration) compare decoded streams as
// text: "I public.t xid=0 new=[t:1,n,u,b:0a00]".
class RecordingHandler : public cdc::PgOutputHandler {
public:
	std::vector<std::string> events;
	std::vector<cdc::RelationChange> relation_changes;

	static std::string Hex(std::string_view s) {
		std::string out;
		for (unsigned char c : s) {
			out += fmt::format("{:02x}", c);
		}
		return out;
	}
	static std::string Tuple(const cdc::TupleView &t) {
		std::string out = "[";
		for (size_t i = 0; i < t.Size(); i++) {
			out += i ? "," : "";
			const auto &c = t[i];
			switch (c.kind) {
			case cdc::ColumnKind::Null:
				out += "n";
				break;
			case cdc::ColumnKind::UnchangedToast:
				out += "u";
				break;
			case cdc::ColumnKind::Text:
				out += "t:" + std::string(c.data);
				break;
			case cdc::ColumnKind::Binary:
				out += "b:" + Hex(c.data);
				break;
			}
		}
		return out + "]";
	}
	static std::string Name(const cdc::RelationInfo *r) { return r->QualifiedName(); }

	void OnBegin(const cdc::BeginMessage &m) override {
		events.push_back(fmt::format("B final={} xid={}", m.final_lsn.ToString(), m.xid));
		last_begin = m;
	}
	void OnCommit(const cdc::CommitMessage &m) override {
		events.push_back(fmt::format("C lsn={} end={}", m.commit_lsn.ToString(), m.end_lsn.ToString()));
		last_commit = m;
	}
	void OnOrigin(const cdc::OriginMessage &m) override {
		events.push_back(fmt::format("O {} lsn={}", m.name, m.commit_lsn.ToString()));
	}
	void OnRelation(const std::shared_ptr<const cdc::RelationInfo> &r, cdc::RelationChange change) override {
		std::string cols;
		for (const auto &c : r->columns) {
			cols +=
			    fmt::format("{}{}:{}:{}{}", cols.empty() ? "" : ",", c.name, c.type_oid, c.typmod, c.is_key ? "*" : "");
		}
		events.push_back(
		    fmt::format("R {} ident={} cols={}", r->QualifiedName(), static_cast<char>(r->replica_identity), cols));
		relation_changes.push_back(change);
	}
	void OnType(const cdc::TypeMessage &m) override {
		events.push_back(fmt::format("Y {}.{} xid={}", m.type->nspname, m.type->typname, m.xid));
	}
	void OnInsert(const cdc::InsertMessage &m) override {
		events.push_back(fmt::format("I {} xid={} new={}", Name(m.relation), m.xid, Tuple(m.new_tuple)));
	}
	void OnUpdate(const cdc::UpdateMessage &m) override {
		std::string old;
		if (m.old_kind != cdc::OldTupleKind::None) {
			old = fmt::format(" {}={}", static_cast<char>(m.old_kind), Tuple(m.old_tuple));
		}
		events.push_back(fmt::format("U {} xid={}{} new={}", Name(m.relation), m.xid, old, Tuple(m.new_tuple)));
	}
	void OnDelete(const cdc::DeleteMessage &m) override {
		events.push_back(fmt::format("D {} xid={} {}={}", Name(m.relation), m.xid, static_cast<char>(m.old_kind),
		                             Tuple(m.old_tuple)));
	}
	void OnTruncate(const cdc::TruncateMessage &m) override {
		std::string rels;
		for (const auto *r : m.relations) {
			rels += (rels.empty() ? "" : ",") + Name(r);
		}
		events.push_back(
		    fmt::format("T {} xid={} cascade={} restart={}", rels, m.xid, m.Cascade(), m.RestartIdentity()));
	}
	void OnMessage(const cdc::LogicalMessage &m) override {
		events.push_back(fmt::format("M {} xid={} tx={} content={}", m.prefix, m.xid, m.transactional, m.content));
	}
	void OnStreamStart(const cdc::StreamStartMessage &m) override {
		events.push_back(fmt::format("S xid={} first={}", m.xid, m.first_segment));
	}
	void OnStreamStop() override { events.push_back("E"); }
	void OnStreamCommit(const cdc::StreamCommitMessage &m) override {
		events.push_back(fmt::format("c xid={} lsn={} end={}", m.xid, m.commit_lsn.ToString(), m.end_lsn.ToString()));
	}
	void OnStreamAbort(const cdc::StreamAbortMessage &m) override {
		events.push_back(fmt::format("A xid={} sub={}", m.xid, m.subxid));
	}

	cdc::BeginMessage last_begin{};
	cdc::CommitMessage last_commit{};
};

} // namespace duckpipe::test
