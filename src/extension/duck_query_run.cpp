#include "extension/duck_query_run.hpp"

#include "core/duck/duck_connection.hpp"
#include "core/duck/duck_database.hpp"
#include "core/duck/duck_numeric_div.hpp"
#include "core/duck/duck_sandbox.hpp"
#include "core/lake/catalog_loader.hpp"
#include "extension/duck_wait.hpp"
#include "extension/signal_block.hpp"

#include <map>
#include <utility>
#include <vector>

namespace duckpipe::ext {

namespace {

using Q = DuckConnection;

// Views standing in for lake tables not created yet, then the session's TimeZone and PostgreSQL's
// NULL order (session settings of this read's own connection).
void PrepareQueryDuck(DuckConnection &duck, const lake::CatalogState &state, const std::vector<DuckQueryTable> &tables,
                      const std::string &timezone) {
	for (const auto &t : tables) {
		if (!state.FindTable(t.schema, t.name)) {
			duck.Execute("CREATE SCHEMA IF NOT EXISTS " + Q::QuoteIdent(t.schema));
			duck.Execute("CREATE OR REPLACE VIEW " + Q::QuoteIdent(t.schema) + "." + Q::QuoteIdent(t.name) + " AS " +
			             t.empty_select);
		}
	}
	duck.Execute("SET SESSION TimeZone = " + Q::QuoteLiteral(timezone));
	duck.Execute("SET SESSION default_null_order = 'nulls_last_on_asc_first_on_desc'");
}

// A database without a lake yet has no engine instance to borrow: a throwaway DuckDB that holds only
// the stand-in views (the query reads no file).
void OpenEmptyDuck(const LakeSettings &settings, std::unique_ptr<DuckDatabase> &db,
                   std::unique_ptr<DuckConnection> &duck) {
	SignalBlock blocked;
	db = std::make_unique<DuckDatabase>(
	    "", std::map<std::string, std::string>{{"threads", "1"},
	                                           {"memory_limit", std::to_string(settings.memory_mb) + "MB"}});
	duck = db->Connect();
	DuckNumericDiv::Register(*duck);
	DuckSandbox{.paths = {}, .lock_configuration = false}.Lock(*duck);
}

} // namespace

DuckQueryRun::DuckQueryRun(const LakeSettings &settings, const std::string &sql,
                           const std::vector<DuckQueryTable> &tables, const std::string &timezone) {
	// The backend's query engine: its reused DuckDB, the views of the statement's snapshot, a
	// connection of this run's own whose statements a cancel interrupts.
	std::vector<std::pair<std::string, std::string>> reads;
	for (const auto &t : tables) {
		reads.emplace_back(t.schema, t.name);
	}
	session_ = std::make_unique<LakeSession>(settings, settings.snapshot, &reads);
	if (session_->HasLake()) {
		duck_ = &session_->Duck();
	} else {
		OpenEmptyDuck(settings, empty_db_, empty_duck_);
		duck_ = empty_duck_.get();
	}
	PrepareQueryDuck(*duck_, session_->State(), tables, timezone);
	{
		SignalBlock blocked;
		if (duckdb_prepare(duck_->Raw(), sql.c_str(), &prepared_) == DuckDBError) {
			throw duck_->Failure("preparing the query in DuckDB", duckdb_prepare_error(prepared_),
			                     DUCKDB_ERROR_INVALID);
		}
	}
	// Waited for off this thread (DuckWait): a cancel interrupts DuckDB while it computes what comes
	// before the first row (an aggregate, a join's hash tables, a sort) and inside each later fetch.
	DuckWait::Run(*duck_, [&] {
		result_ = duck_->ExecutePrepared(prepared_, true, "running the query in DuckDB");
		has_result_ = true;
	});
	SignalBlock blocked;
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
	empty_duck_.reset();
	empty_db_.reset();
	session_.reset();
}

uint64_t DuckQueryRun::ColumnCount() const {
	return types_.size();
}

duckdb_logical_type DuckQueryRun::ColumnType(uint64_t col) const {
	return types_.at(col);
}

duckdb_data_chunk DuckQueryRun::NextChunk() {
	if (chunk_) {
		SignalBlock blocked;
		duckdb_destroy_data_chunk(&chunk_);
	}
	DuckWait::Run(*duck_, [&] { chunk_ = duckdb_fetch_chunk(result_); });
	SignalBlock blocked;
	if (!chunk_) {
		const char *error = duckdb_result_error(&result_);
		if (error) {
			throw duck_->Failure("running the query in DuckDB", error, duckdb_result_error_type(&result_));
		}
	}
	return chunk_;
}

} // namespace duckpipe::ext
