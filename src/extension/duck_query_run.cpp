#include "extension/duck_query_run.hpp"

#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "core/duck/duck_sandbox.hpp"
#include "core/lake/catalog_loader.hpp"
#include "core/lake/lake_reader.hpp"
#include "core/pg/pg_connection.hpp"
#include "extension/signal_block.hpp"

#include <filesystem>
#include <map>

namespace duckpipe::ext {

namespace {

using Q = DuckConnection;

// The one place that obtains DuckDB for a query (the reusable query engine takes its place): the
// snapshot's catalog, a view per lake table, empty views for lake tables not created yet, the
// session's TimeZone and PostgreSQL's NULL order, then the sandbox. The configuration stays
// unlocked (the SQL is pg_get_querydef's SELECT, never a SET): the engine re-sets TimeZone per
// statement.
void OpenQueryDuck(const LakeSettings &settings, const std::vector<DuckQueryTable> &tables, const std::string &timezone,
                   std::unique_ptr<DuckDatabase> &db, std::unique_ptr<DuckConnection> &duck) {
	lake::CatalogState state;
	{
		PgConnection conn(settings.catalog_conninfo,
		                  PgConnection::Options{.application_name = "pg_duckpipe lake query"});
		auto exists = conn.Exec("SELECT to_regclass($1) IS NOT NULL",
		                        {conn.QuoteIdent(settings.catalog_schema) + ".ducklake_metadata"});
		if (exists.GetBool(0, 0)) {
			state = lake::LoadCatalog(conn, settings.catalog_schema, settings.snapshot);
		}
	}
	std::error_code ignored; // DuckDB names the directory if it cannot spill there
	std::filesystem::create_directories(std::filesystem::path(settings.temp_directory).parent_path(), ignored);
	SignalBlock blocked;
	db = std::make_unique<DuckDatabase>(
	    "", std::map<std::string, std::string>{{"threads", "1"},
	                                           {"memory_limit", std::to_string(settings.memory_mb) + "MB"},
	                                           {"temp_directory", settings.temp_directory}});
	duck = db->Connect();
	lake::LakeReader::Attach(*duck, state);
	for (const auto &t : tables) {
		if (!state.FindTable(t.schema, t.name)) {
			duck->Execute("CREATE SCHEMA IF NOT EXISTS " + Q::QuoteIdent(t.schema));
			duck->Execute("CREATE OR REPLACE VIEW " + Q::QuoteIdent(t.schema) + "." + Q::QuoteIdent(t.name) + " AS " +
			              t.empty_select);
		}
	}
	duck->Execute("SET TimeZone = " + Q::QuoteLiteral(timezone));
	duck->Execute("SET default_null_order = 'nulls_last_on_asc_first_on_desc'");
	DuckSandbox{.paths = lake::LakeReader::Files(state), .lock_configuration = false}.Lock(*duck);
}

} // namespace

DuckQueryRun::DuckQueryRun(const LakeSettings &settings, const std::string &sql,
                           const std::vector<DuckQueryTable> &tables, const std::string &timezone) {
	OpenQueryDuck(settings, tables, timezone, db_, duck_);
	SignalBlock blocked;
	if (duckdb_prepare(duck_->Raw(), sql.c_str(), &prepared_) == DuckDBError) {
		throw duck_->Failure("preparing the query in DuckDB", duckdb_prepare_error(prepared_), DUCKDB_ERROR_INVALID);
	}
	auto state = duckdb_execute_prepared_streaming(prepared_, &result_);
	has_result_ = true;
	if (state == DuckDBError) {
		throw duck_->Failure("running the query in DuckDB", duckdb_result_error(&result_),
		                     duckdb_result_error_type(&result_));
	}
	for (idx_t i = 0; i < duckdb_column_count(&result_); i++) {
		types_.push_back(duckdb_column_logical_type(&result_, i));
	}
}

DuckQueryRun::~DuckQueryRun() {
	SignalBlock blocked;
	if (chunk_) {
		duckdb_destroy_data_chunk(&chunk_);
	}
	for (auto &t : types_) {
		duckdb_destroy_logical_type(&t);
	}
	if (has_result_) {
		duckdb_destroy_result(&result_);
	}
	if (prepared_) {
		duckdb_destroy_prepare(&prepared_);
	}
	duck_.reset();
	db_.reset();
}

uint64_t DuckQueryRun::ColumnCount() const {
	return types_.size();
}

duckdb_logical_type DuckQueryRun::ColumnType(uint64_t col) const {
	return types_.at(col);
}

duckdb_data_chunk DuckQueryRun::NextChunk() {
	SignalBlock blocked;
	if (chunk_) {
		duckdb_destroy_data_chunk(&chunk_);
	}
	chunk_ = duckdb_fetch_chunk(result_);
	if (!chunk_) {
		const char *error = duckdb_result_error(&result_);
		if (error) {
			throw duck_->Failure("running the query in DuckDB", error, duckdb_result_error_type(&result_));
		}
	}
	return chunk_;
}

} // namespace duckpipe::ext
