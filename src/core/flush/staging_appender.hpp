#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <duckdb.h>

namespace duckpipe {
class DuckConnection;
} // namespace duckpipe

namespace duckpipe::flush {

// Owns a DuckDB appender, row by row. Either into a table, or (query appender) into a virtual table
// that a statement such as INSERT ... SELECT consumes when the appender flushes. Failures throw
// Error(Duck) with DuckDB's message, naming the table label.
class StagingAppender {
public:
	StagingAppender(DuckConnection &conn, const std::string &table, std::string label);
	StagingAppender(DuckConnection &conn, const std::string &query, const std::string &virtual_table,
	                const std::vector<duckdb_type> &types, const std::vector<std::string> &names, std::string label);
	~StagingAppender();
	StagingAppender(const StagingAppender &) = delete;
	StagingAppender &operator=(const StagingAppender &) = delete;

	void Null() { Check(duckdb_append_null(appender_)); }
	void Text(std::string_view v) { Check(duckdb_append_varchar_length(appender_, v.data(), v.size())); }
	void Int64(int64_t v) { Check(duckdb_append_int64(appender_, v)); }
	void UInt8(uint8_t v) { Check(duckdb_append_uint8(appender_, v)); }
	void EndRow() { Check(duckdb_appender_end_row(appender_)); }
	// A whole chunk whose columns are the appender's.
	void Chunk(duckdb_data_chunk chunk) { Check(duckdb_append_data_chunk(appender_, chunk)); }
	// Flushes the remaining rows (runs the query of a query appender).
	void Close() { Check(duckdb_appender_close(appender_)); }

private:
	void Check(duckdb_state state) {
		if (state == DuckDBError) {
			Fail("append failed");
		}
	}
	std::string ErrorMessage(duckdb_error_type *type = nullptr);
	[[noreturn]] void Fail(const std::string &what);
	[[noreturn]] void FailCreate(const std::string &what);

	DuckConnection &conn_;
	duckdb_appender appender_ = nullptr;
	std::string label_;
};

} // namespace duckpipe::flush
