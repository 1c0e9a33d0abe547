#pragma once

#include "core/lake/pg_type_mapping.hpp"

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace duckpipe {
class DuckConnection;
class PgConnection;
} // namespace duckpipe

namespace duckpipe::pipeline {

// How one column of a binary COPY becomes a DuckDB value.
struct CopyColumnDecoder {
	// Text: the column is selected as its output function's text (what COPY's text format holds) and
	// converted by DuckDB with the column's text expression, like a row of the stream.
	enum class Kind {
		Text,
		Bool,
		Int16,
		Int32,
		Int64,
		Oid,
		Float32,
		Float64,
		Varchar,
		Blob,
		Date,
		Time,
		Timestamp,
		Decimal,
		Uuid
	};
	Kind kind = Kind::Text;
	std::string name;      // source column, named in conversion errors
	std::string duck_type; // DuckDB type the column is produced as
	uint8_t width = 0;     // Decimal
	uint8_t scale = 0;     // Decimal

	// The native decoder for a column whose base type is `base_type` (pg_type.typname) and whose lake
	// mapping is `mapping`, when PostgreSQL's binary form converts exactly into the mapped DuckDB type;
	// nullopt: the column goes through text.
	static std::optional<CopyColumnDecoder> Native(const std::string &name, const std::string &base_type, char typtype,
	                                               const lake::LakeTypeMapping &mapping);
};

// One table read by `COPY ... TO STDOUT (FORMAT binary)` on one or more connections (ranges of the
// table, each connection in the same exported snapshot), decoded straight into DuckDB vectors by a
// table function: a DuckDB statement over it (the Parquet write) pulls the rows as PostgreSQL sends
// them, with no intermediate file. Each statement ends after about `file_bytes` of COPY data, so a
// table is written as a series of Parquet files while each stream stays open between them.
class BinaryCopyScan {
public:
	BinaryCopyScan(std::vector<PgConnection *> connections, std::vector<std::string> copy_sql,
	               std::vector<CopyColumnDecoder> columns, std::string table_name, const std::atomic<bool> &stop);
	~BinaryCopyScan();
	BinaryCopyScan(const BinaryCopyScan &) = delete;
	BinaryCopyScan &operator=(const BinaryCopyScan &) = delete;

	// Registers the table function `name()` on the connection's database.
	void Register(DuckConnection &duck, const std::string &name);
	// Lets the next statement over the function read about `bytes` more of COPY data.
	void StartFile(size_t bytes);
	// Every stream was read to its end.
	bool Finished() const;
	int64_t Rows() const { return rows_.load(); }
	// After a statement over the function failed: the function's own failure (the COPY's error, a
	// value that does not convert, a shutdown), which DuckDB only reported as text.
	void RethrowFailure();

	struct Stream;
	struct Local;
	// The function's body: fills `chunk` (the DuckDB data chunk) from the streams.
	void Fill(Local &local, void *chunk);
	size_t StreamCount() const { return streams_.size(); }

private:
	bool Claim(Local &local);
	void Release(Local &local, bool done);
	bool NextRow(Stream &stream, std::string_view &row);
	struct Output;
	void DecodeRow(std::string_view row, std::vector<Output> &out, uint64_t out_row);
	[[noreturn]] void ConversionError(const CopyColumnDecoder &c, const std::string &why) const;

	std::vector<std::unique_ptr<Stream>> streams_;
	std::vector<CopyColumnDecoder> columns_;
	std::string table_name_;
	const std::atomic<bool> &stop_;
	std::mutex mutex_; // claims of streams
	std::atomic<int64_t> file_budget_{0};
	std::atomic<int64_t> rows_{0};
	std::mutex failure_mutex_;
	std::exception_ptr failure_;

	friend void SetFailure(BinaryCopyScan &scan, std::exception_ptr e);
};

} // namespace duckpipe::pipeline
