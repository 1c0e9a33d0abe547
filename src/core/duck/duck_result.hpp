#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <duckdb.h>

namespace duckpipe {

// Owns a materialized DuckDB result. Scalar access converts to text; nested values (LIST, MAP,
// STRUCT) are read through the chunk API (Chunk/Vector accessors) or cast in SQL.
class DuckResult {
public:
	explicit DuckResult(duckdb_result res) : res_(res), valid_(true) {}
	~DuckResult();
	DuckResult(DuckResult &&other) noexcept;
	DuckResult &operator=(DuckResult &&) = delete;
	DuckResult(const DuckResult &) = delete;
	DuckResult &operator=(const DuckResult &) = delete;

	uint64_t Rows();
	uint64_t Columns();
	std::string ColumnName(uint64_t col);
	duckdb_type ColumnType(uint64_t col);
	bool IsNull(uint64_t col, uint64_t row);
	std::optional<std::string> GetString(uint64_t col, uint64_t row);
	int64_t GetInt(uint64_t col, uint64_t row);
	int64_t RowsChanged();
	duckdb_result *Raw() { return &res_; }

private:
	duckdb_result res_;
	bool valid_;
};

} // namespace duckpipe
