#pragma once

#include "core/lake/write/parquet_file_writer.hpp"

#include <cstdint>
#include <string>

namespace duckpipe {
class PgConnection;
}

namespace duckpipe::lake {

// The catalog rows that register new Parquet data files: one ducklake_data_file row per file and one
// ducklake_file_column_stats row per leaf column. Shared by every writer of data files (a flush's
// commit, compaction, the inlined data flush) so the rows keep one shape.
class DataFileRows {
public:
	explicit DataFileRows(PgConnection &conn) : conn_(conn) {}

	// `path` is relative to the table's path.
	void Add(int64_t data_file_id, int64_t table_id, int64_t begin_snapshot, const std::string &path,
	         const WrittenFile &file, int64_t row_id_start);
	bool Empty() const { return files_.empty(); }
	// The INSERT statements (each ending in ";\n"), tables qualified by `schema_prefix` (the quoted
	// catalog schema and a dot); empty when nothing was added.
	std::string Sql(const std::string &schema_prefix) const;

private:
	PgConnection &conn_;
	std::string files_;
	std::string stats_;
};

} // namespace duckpipe::lake
