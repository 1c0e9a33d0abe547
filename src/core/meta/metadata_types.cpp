#include "core/meta/metadata_types.hpp"

#include "core/common/error.hpp"

namespace duckpipe::meta {

const char *TableStateName(TableState state) {
	switch (state) {
	case TableState::Pending:
		return "PENDING";
	case TableState::Snapshot:
		return "SNAPSHOT";
	case TableState::Catchup:
		return "CATCHUP";
	case TableState::Streaming:
		return "STREAMING";
	case TableState::Errored:
		return "ERRORED";
	}
	return "PENDING";
}

TableState ParseTableState(const std::string &text) {
	for (auto s :
	     {TableState::Pending, TableState::Snapshot, TableState::Catchup, TableState::Streaming, TableState::Errored}) {
		if (text == TableStateName(s)) {
			return s;
		}
	}
	throw Error(ErrorKind::Internal, "unknown table state '" + text + "' in duckpipe.table_mappings");
}

const char *SyncModeName(SyncMode mode) {
	return mode == SyncMode::Upsert ? "upsert" : "append";
}

SyncMode ParseSyncMode(const std::string &text) {
	if (text == "upsert") {
		return SyncMode::Upsert;
	}
	if (text == "append") {
		return SyncMode::Append;
	}
	throw Error(ErrorKind::Config, "unknown sync mode '" + text + "'", {.hint = "use upsert or append"});
}

} // namespace duckpipe::meta
