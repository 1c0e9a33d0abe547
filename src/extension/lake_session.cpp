#include "extension/lake_session.hpp"

#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "extension/query_engine.hpp"
#include "extension/signal_block.hpp"

namespace duckpipe::ext {

LakeSession::LakeSession(const LakeSettings &settings, const lake::SnapshotSelector &selector,
                         const std::vector<std::pair<std::string, std::string>> *tables) {
	auto read = QueryEngine::Backend().Open(settings, selector, tables);
	if (!read.state) {
		return; // no lake yet: the worker creates it with the first table it copies
	}
	state_ = std::move(read.state);
	db_ = std::move(read.db);
	SignalBlock blocked;
	// A connection per read: a streaming scan keeps its result open while others run (a join of two
	// lake relations), and a connection runs one statement at a time.
	duck_ = db_->Connect();
	duck_->SetInterruptCheck(QueryEngine::CheckInterrupts);
}

LakeSession::~LakeSession() {
	SignalBlock blocked;
	duck_.reset();
	db_.reset();
}

std::string LakeSession::TableList() const {
	std::string out;
	for (const auto &t : State().tables) {
		out += (out.empty() ? "" : ", ") + t.schema_name + "." + t.name;
	}
	return out.empty() ? "(none)" : out;
}

} // namespace duckpipe::ext
