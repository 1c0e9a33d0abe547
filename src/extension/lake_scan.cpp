#include "extension/lake_scan.hpp"

#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"
#include "extension/pg_text.hpp"
#include "extension/signal_block.hpp"

#include <duckdb.h>

namespace duckpipe::ext {

// A streaming DuckDB result and its current chunk.
struct LakeScan::Stream {
	duckdb_prepared_statement prepared = nullptr;
	duckdb_result result{};
	bool has_result = false;
	duckdb_data_chunk chunk = nullptr;
	idx_t chunk_rows = 0;
	idx_t row = 0;
	bool done = false;

	~Stream() {
		SignalBlock blocked;
		if (chunk) {
			duckdb_destroy_data_chunk(&chunk);
		}
		if (has_result) {
			duckdb_destroy_result(&result);
		}
		if (prepared) {
			duckdb_destroy_prepare(&prepared);
		}
	}
};

LakeScan::LakeScan(const LakeSettings &settings, const std::string &schema, const std::string &table,
                   std::vector<std::string> columns)
    : columns_(columns.size()) {
	session_ = std::make_unique<LakeSession>(settings, settings.snapshot);
	stream_ = std::make_unique<Stream>();
	const lake::LakeTable *lake_table = session_->HasLake() ? session_->State().FindTable(schema, table) : nullptr;
	if (!lake_table) {
		stream_->done = true; // the lake table is created at the first copy: nothing to read yet
		return;
	}
	std::string select;
	for (size_t i = 0; i < columns.size(); i++) {
		std::string expr = "CAST(NULL AS VARCHAR)";
		for (const auto &c : lake_table->columns) {
			if (!columns[i].empty() && c.name == columns[i]) {
				expr = PgTextExpression(c, DuckConnection::QuoteIdent(c.name));
			}
		}
		select += (i ? ", " : "") + expr;
	}
	if (select.empty()) {
		select = "NULL"; // a relation without columns still has rows
	}
	std::string sql =
	    "SELECT " + select + " FROM " + DuckConnection::QuoteIdent(schema) + "." + DuckConnection::QuoteIdent(table);
	auto &duck = session_->Duck();
	{
		SignalBlock blocked;
		if (duckdb_prepare(duck.Raw(), sql.c_str(), &stream_->prepared) == DuckDBError) {
			throw duck.Failure("reading lake table " + schema + "." + table, duckdb_prepare_error(stream_->prepared),
			                   DUCKDB_ERROR_INVALID);
		}
	}
	what_ = schema + "." + table;
	Execute();
}

void LakeScan::Execute() {
	auto &s = *stream_;
	{
		SignalBlock blocked;
		if (s.chunk) {
			duckdb_destroy_data_chunk(&s.chunk);
			s.chunk = nullptr;
		}
		if (s.has_result) {
			duckdb_destroy_result(&s.result);
			s.has_result = false;
		}
	}
	s.chunk_rows = 0;
	s.row = 0;
	s.done = false;
	// Through the pending API: a cancel interrupts DuckDB while it builds what comes before the first
	// row (the delete files' hash table, a sort); between chunks the access method checks per row.
	s.result = session_->Duck().ExecutePrepared(s.prepared, true, "reading lake table " + what_);
	s.has_result = true;
}

void LakeScan::Restart() {
	if (stream_->prepared) {
		Execute();
	}
}

LakeScan::~LakeScan() {
	stream_.reset(); // before the session that owns its connection
	session_.reset();
}

bool LakeScan::Next() {
	auto &s = *stream_;
	if (s.done) {
		return false;
	}
	s.row++;
	while (!s.chunk || s.row >= s.chunk_rows) {
		SignalBlock blocked;
		if (s.chunk) {
			duckdb_destroy_data_chunk(&s.chunk);
		}
		s.chunk = duckdb_fetch_chunk(s.result);
		s.row = 0;
		if (!s.chunk) {
			s.done = true;
			const char *error = duckdb_result_error(&s.result);
			if (error) {
				throw session_->Duck().Failure("reading the lake", error, duckdb_result_error_type(&s.result));
			}
			return false;
		}
		s.chunk_rows = duckdb_data_chunk_get_size(s.chunk);
	}
	return true;
}

std::optional<std::string_view> LakeScan::Value(size_t col) const {
	auto &s = *stream_;
	duckdb_vector vector = duckdb_data_chunk_get_vector(s.chunk, col);
	uint64_t *validity = duckdb_vector_get_validity(vector);
	if (validity && !duckdb_validity_row_is_valid(validity, s.row)) {
		return std::nullopt;
	}
	auto *strings = static_cast<duckdb_string_t *>(duckdb_vector_get_data(vector));
	auto &value = strings[s.row];
	return std::string_view(duckdb_string_t_data(&value), duckdb_string_t_length(value));
}

} // namespace duckpipe::ext
