#include "core/duck/duck_result.hpp"

#include "core/common/error.hpp"

#include <cstring>

namespace duckpipe {

DuckResult::~DuckResult() {
	if (valid_) {
		duckdb_destroy_result(&res_);
	}
}

DuckResult::DuckResult(DuckResult &&other) noexcept : res_(other.res_), valid_(other.valid_) {
	other.valid_ = false;
	std::memset(&other.res_, 0, sizeof(other.res_));
}

// The value accessors below are deprecated in the C API in favour of the chunk API, but they are
// the simplest correct way to read small metadata results as text.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

uint64_t DuckResult::Rows() {
	return duckdb_row_count(&res_);
}

uint64_t DuckResult::Columns() {
	return duckdb_column_count(&res_);
}

std::string DuckResult::ColumnName(uint64_t col) {
	const char *n = duckdb_column_name(&res_, col);
	return n ? n : "";
}

duckdb_type DuckResult::ColumnType(uint64_t col) {
	return duckdb_column_type(&res_, col);
}

bool DuckResult::IsNull(uint64_t col, uint64_t row) {
	return duckdb_value_is_null(&res_, col, row);
}

std::optional<std::string> DuckResult::GetString(uint64_t col, uint64_t row) {
	if (duckdb_value_is_null(&res_, col, row)) {
		return std::nullopt;
	}
	char *v = duckdb_value_varchar(&res_, col, row);
	if (!v) {
		return std::nullopt;
	}
	std::string out(v);
	duckdb_free(v);
	return out;
}

int64_t DuckResult::GetInt(uint64_t col, uint64_t row) {
	if (duckdb_value_is_null(&res_, col, row)) {
		throw Error(ErrorKind::Internal, "unexpected NULL in DuckDB column " + ColumnName(col));
	}
	return duckdb_value_int64(&res_, col, row);
}

int64_t DuckResult::RowsChanged() {
	return static_cast<int64_t>(duckdb_rows_changed(&res_));
}

#pragma GCC diagnostic pop

} // namespace duckpipe
