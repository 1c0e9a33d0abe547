#include "extension/lake_text_rows.hpp"

#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"
#include "extension/duck_wait.hpp"
#include "extension/pg_text.hpp"
#include "extension/signal_block.hpp"

namespace duckpipe::ext {

std::string LakeTextSelectList(const lake::LakeTable &table, const std::vector<std::string> &columns) {
	std::string select;
	for (size_t i = 0; i < columns.size(); i++) {
		std::string expr = "CAST(NULL AS VARCHAR)";
		for (const auto &c : table.columns) {
			if (!columns[i].empty() && c.name == columns[i]) {
				expr = PgTextExpression(c, DuckConnection::QuoteIdent(c.name));
			}
		}
		select += (i ? ", " : "") + expr;
	}
	// No column read (a relation without columns, count(*)): still one row per row.
	return select.empty() ? "NULL" : select;
}

LakeTextRows::LakeTextRows(DuckConnection &duck, const std::string &sql, std::string what)
    : duck_(&duck), what_(std::move(what)) {
	{
		SignalBlock blocked;
		if (duckdb_prepare(duck.Raw(), sql.c_str(), &prepared_) == DuckDBError) {
			std::string error = duckdb_prepare_error(prepared_);
			duckdb_destroy_prepare(&prepared_);
			throw duck.Failure(what_, error, DUCKDB_ERROR_INVALID);
		}
	}
	Execute();
}

LakeTextRows::~LakeTextRows() {
	Release();
	if (prepared_) {
		SignalBlock blocked;
		duckdb_destroy_prepare(&prepared_);
	}
}

void LakeTextRows::Release() noexcept {
	SignalBlock blocked;
	if (chunk_) {
		duckdb_destroy_data_chunk(&chunk_);
		chunk_ = nullptr;
	}
	if (has_result_) {
		duckdb_destroy_result(&result_);
		has_result_ = false;
	}
}

void LakeTextRows::Execute() {
	Release();
	chunk_rows_ = 0;
	row_ = 0;
	// Waited for off this thread (DuckWait): a cancel interrupts DuckDB while it builds what comes
	// before the first row (the delete files' hash table, a sort) and while it computes a chunk; between
	// chunks the scans check per row.
	DuckWait::Run(*duck_, [&] {
		result_ = duck_->ExecutePrepared(prepared_, true, what_);
		has_result_ = true;
	});
	done_ = false;
}

void LakeTextRows::Restart() {
	if (prepared_) {
		Execute();
	}
}

bool LakeTextRows::Next() {
	if (done_) {
		return false;
	}
	row_++;
	while (!chunk_ || row_ >= chunk_rows_) {
		if (chunk_) {
			SignalBlock blocked;
			duckdb_destroy_data_chunk(&chunk_);
		}
		DuckWait::Run(*duck_, [&] { chunk_ = duckdb_fetch_chunk(result_); });
		row_ = 0;
		if (!chunk_) {
			done_ = true;
			const char *error = duckdb_result_error(&result_);
			if (error) {
				throw duck_->Failure(what_, error, duckdb_result_error_type(&result_));
			}
			return false;
		}
		chunk_rows_ = duckdb_data_chunk_get_size(chunk_);
	}
	return true;
}

std::optional<std::string_view> LakeTextRows::Value(size_t col) const {
	duckdb_vector vector = duckdb_data_chunk_get_vector(chunk_, col);
	uint64_t *validity = duckdb_vector_get_validity(vector);
	if (validity && !duckdb_validity_row_is_valid(validity, row_)) {
		return std::nullopt;
	}
	auto *strings = static_cast<duckdb_string_t *>(duckdb_vector_get_data(vector));
	auto &value = strings[row_];
	return std::string_view(duckdb_string_t_data(&value), duckdb_string_t_length(value));
}

} // namespace duckpipe::ext
