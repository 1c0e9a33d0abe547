#pragma once

#include <duckdb.h>

#include <cstdint>
#include <string>

namespace duckpipe::ext {

// Turns the values of one DuckDB result column into Datums of the PostgreSQL type the query's
// target list says: binary for the types both systems store alike (bool, integers, float8, date,
// timestamp, timestamptz, interval, uuid, text), numeric from DECIMAL/HUGEINT digits, anything
// else through the PostgreSQL type's input function. PostgreSQL headers stay in the .cpp: Oid is
// an unsigned int and Datum a uintptr_t.
class DuckDatum {
public:
	// Throws PgError when the DuckDB type cannot become pg_type. Calls PostgreSQL: main thread, in
	// PgCall (it looks up the input function). A numeric is read with pg_typmod (-1: none), as
	// numeric_in would read the text of an avg or a division (DuckDB's VARCHAR, digits PostgreSQL's).
	// A bpchar (held without trailing spaces in DuckDB) is padded to bpchar_pad characters (0: not).
	DuckDatum(duckdb_logical_type duck_type, unsigned int pg_type, int pg_typmod = -1, int bpchar_pad = 0);
	~DuckDatum();
	DuckDatum(const DuckDatum &) = delete;
	DuckDatum &operator=(const DuckDatum &) = delete;

	// The value at `row` of `vector` (a chunk's column of the type given above), allocated in the
	// current memory context. May raise a PostgreSQL ERROR (out of range, bad input): in PgCall.
	uintptr_t Convert(duckdb_vector vector, uint64_t row, bool *isnull) const;

	// The DuckDB type's name, for messages.
	static std::string TypeName(duckdb_type type);

private:
	enum class Mode { Bool, Int, Float8, Numeric, Text, Date, Timestamp, Interval, Uuid, Input };
	// The value's text in PostgreSQL's input syntax (Numeric and Input modes).
	std::string ValueText(void *data, uint64_t row) const;

	duckdb_type duck_type_;
	duckdb_type decimal_internal_ = DUCKDB_TYPE_INVALID;
	uint8_t decimal_scale_ = 0;
	unsigned int pg_type_;
	int typmod_; // applied to numerics, and to bpchar as its pad width
	Mode mode_ = Mode::Input;
	void *input_ = nullptr; // FmgrInfo of the type's input function (Numeric, Input)
	unsigned int ioparam_ = 0;
};

} // namespace duckpipe::ext
