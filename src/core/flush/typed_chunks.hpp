#pragma once

#include "core/flush/change_batch.hpp"

#include <duckdb.h>

#include <cstdint>
#include <span>
#include <vector>

namespace duckpipe::flush {

// How a buffer column's PostgreSQL text value is converted: in C++ (the canonical text form of a few
// types, pg_text_values.hpp) or, Sql, by the column's DuckDB expression.
enum class TextForm : uint8_t { Sql, Int16, Int32, Int64, Boolean, Text, Date, Timestamp, TimestampTz };

// The DuckDB type a form produces (DUCKDB_TYPE_VARCHAR for Sql: the expression converts it later).
duckdb_type TextFormType(TextForm form);

// Change batches as DuckDB data chunks: the value columns (typed where the form says so, VARCHAR
// otherwise), then _seq BIGINT, _op UTINYINT, _unchanged VARCHAR (always NULL: batches with unchanged
// TOAST cells take the text path) and, with `commit_lsn`, _commit_lsn BIGINT. Converting in C++ and
// appending whole vectors skips the per-value appender calls and the string casts in DuckDB.
class TypedChunks {
public:
	TypedChunks(std::vector<TextForm> forms, bool commit_lsn);
	~TypedChunks();
	TypedChunks(const TypedChunks &) = delete;
	TypedChunks &operator=(const TypedChunks &) = delete;

	// Converts every row of the batches. False, with nothing kept, when a value is not in the form
	// its column's parser takes (or a batch has unchanged TOAST cells).
	bool Build(std::span<const ChangeBatch *const> batches);
	const std::vector<duckdb_data_chunk> &Chunks() const { return chunks_; }
	const std::vector<duckdb_type> &Types() const { return types_; }

private:
	void Clear();
	duckdb_data_chunk NewChunk();
	bool Fill(duckdb_data_chunk chunk, const ChangeBatch &batch, size_t row, idx_t at);

	std::vector<TextForm> forms_;
	bool commit_lsn_;
	std::vector<duckdb_type> types_;
	std::vector<duckdb_logical_type> logical_;
	std::vector<duckdb_data_chunk> chunks_;
};

} // namespace duckpipe::flush
