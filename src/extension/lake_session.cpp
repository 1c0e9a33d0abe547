#include "extension/lake_session.hpp"

#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "core/duck/duck_sandbox.hpp"
#include "core/lake/lake_reader.hpp"
#include "core/pg/pg_connection.hpp"
#include "extension/signal_block.hpp"

#include <filesystem>

namespace duckpipe::ext {

LakeSession::LakeSession(const LakeSettings &settings, const lake::SnapshotSelector &selector) {
	{
		PgConnection conn(settings.catalog_conninfo,
		                  PgConnection::Options{.application_name = "pg_duckpipe lake reader"});
		auto exists = conn.Exec("SELECT to_regclass($1) IS NOT NULL",
		                        {conn.QuoteIdent(settings.catalog_schema) + ".ducklake_metadata"});
		if (!exists.GetBool(0, 0)) {
			return; // no lake yet: the worker creates it with the first table it copies
		}
		state_ = lake::LoadCatalog(conn, settings.catalog_schema, selector);
	}
	std::error_code ignored; // DuckDB names the directory if it cannot spill there
	std::filesystem::create_directories(std::filesystem::path(settings.temp_directory).parent_path(), ignored);
	SignalBlock blocked;
	// One thread: a scan is one backend's work, and no DuckDB thread is left running between calls.
	db_ = std::make_unique<DuckDatabase>(
	    "", std::map<std::string, std::string>{{"threads", "1"},
	                                           {"memory_limit", std::to_string(settings.memory_mb) + "MB"},
	                                           {"temp_directory", settings.temp_directory}});
	duck_ = db_->Connect();
	lake::LakeReader::Attach(*duck_, state_);
	// The SQL that runs here reads the snapshot's files through the views and nothing else.
	DuckSandbox{.paths = lake::LakeReader::Files(state_)}.Lock(*duck_);
}

LakeSession::~LakeSession() {
	SignalBlock blocked;
	duck_.reset();
	db_.reset();
}

std::string LakeSession::TableList() const {
	std::string out;
	for (const auto &t : state_.tables) {
		out += (out.empty() ? "" : ", ") + t.schema_name + "." + t.name;
	}
	return out.empty() ? "(none)" : out;
}

} // namespace duckpipe::ext
