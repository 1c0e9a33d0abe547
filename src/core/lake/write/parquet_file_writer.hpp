#pragma once

#include "core/lake/catalog_model.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace duckpipe {
class DuckConnection;
}

namespace duckpipe::lake {

// Per-leaf statistics as DuckDB's COPY ... RETURN_STATS reports them; the strings are the DuckLake
// stats encoding (digest §5), stored verbatim.
struct LeafStats {
	int64_t column_id = 0;
	std::optional<int64_t> column_size_bytes;
	std::optional<int64_t> value_count; // non-null values
	std::optional<int64_t> null_count;
	std::optional<std::string> min_value;
	std::optional<std::string> max_value;
	std::optional<bool> contains_nan; // floats only
};

struct WrittenFile {
	std::string full_path;
	int64_t record_count = 0;
	int64_t file_size_bytes = 0;
	std::optional<int64_t> footer_size;
	std::vector<LeafStats> stats; // one per leaf column present in the file
};

// Writes Parquet files with DuckDB COPY (FIELD_IDS = DuckLake column ids, RETURN_STATS).
class ParquetFileWriter {
public:
	// Memory a row group may take while it is written, where DuckDB allows a cap (see Write).
	static constexpr int64_t kRowGroupBytes = 16LL << 20;

	// The DuckDB type of a lake column (nested types spelled out).
	static std::string DuckType(const LakeColumn &column);
	// FIELD_IDS struct literal for the columns, every nesting level included.
	static std::string FieldIds(const std::vector<LakeColumn> &columns);

	// Runs COPY (select_sql) TO path and returns what RETURN_STATS said. Leaf paths are mapped to column
	// ids through `columns`. A 0-row result removes the file and returns record_count 0. On a
	// connection with preserve_insertion_order off, row groups stop at kRowGroupBytes.
	static WrittenFile Write(DuckConnection &duck, const std::string &select_sql, const std::string &path,
	                         const std::vector<LakeColumn> &columns);
	// Writes a delete file: `positions_sql` yields one BIGINT column `pos` (unique); rows sorted here.
	static WrittenFile WriteDeleteFile(DuckConnection &duck, const std::string &positions_sql,
	                                   const std::string &data_file_path, const std::string &path);

	// A fresh "ducklake-<uuidv7>" stem.
	static std::string NewFileStem(DuckConnection &duck);
};

} // namespace duckpipe::lake
