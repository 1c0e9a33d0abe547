#include "extension/duck_datum.hpp"

#include "extension/pg_boundary.hpp"

#include <cinttypes>
#include <cstring>
#include <string>

#include "extension/pg_includes.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
}

namespace duckpipe::ext {

namespace {

__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;

// DuckDB counts days and microseconds from 1970-01-01, PostgreSQL from 2000-01-01.
constexpr int32_t kEpochDays = POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE;
constexpr int64_t kEpochMicros = static_cast<int64_t>(kEpochDays) * USECS_PER_DAY;

bool IsInteger(duckdb_type t) {
	switch (t) {
	case DUCKDB_TYPE_TINYINT:
	case DUCKDB_TYPE_SMALLINT:
	case DUCKDB_TYPE_INTEGER:
	case DUCKDB_TYPE_BIGINT:
	case DUCKDB_TYPE_UTINYINT:
	case DUCKDB_TYPE_USMALLINT:
	case DUCKDB_TYPE_UINTEGER:
		return true;
	default:
		return false;
	}
}

int64_t IntegerAt(duckdb_type t, void *data, uint64_t row) {
	switch (t) {
	case DUCKDB_TYPE_TINYINT:
		return static_cast<int8_t *>(data)[row];
	case DUCKDB_TYPE_SMALLINT:
		return static_cast<int16_t *>(data)[row];
	case DUCKDB_TYPE_INTEGER:
		return static_cast<int32_t *>(data)[row];
	case DUCKDB_TYPE_BIGINT:
		return static_cast<int64_t *>(data)[row];
	case DUCKDB_TYPE_UTINYINT:
		return static_cast<uint8_t *>(data)[row];
	case DUCKDB_TYPE_USMALLINT:
		return static_cast<uint16_t *>(data)[row];
	case DUCKDB_TYPE_UINTEGER:
		return static_cast<uint32_t *>(data)[row];
	default:
		return 0;
	}
}

Int128 HugeAt(void *data, uint64_t row) {
	auto &h = static_cast<duckdb_hugeint *>(data)[row];
	return (static_cast<Int128>(h.upper) << 64) | static_cast<Int128>(h.lower);
}

std::string HugeText(Int128 v) {
	if (v == 0) {
		return "0";
	}
	bool negative = v < 0;
	UInt128 u = negative ? -static_cast<UInt128>(v) : static_cast<UInt128>(v);
	std::string out;
	while (u > 0) {
		out.insert(out.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
		u /= 10;
	}
	return negative ? "-" + out : out;
}

std::string WithScale(std::string digits, int scale) {
	bool negative = !digits.empty() && digits[0] == '-';
	if (negative) {
		digits.erase(0, 1);
	}
	if (scale > 0) {
		if (digits.size() <= static_cast<size_t>(scale)) {
			digits.insert(0, static_cast<size_t>(scale) + 1 - digits.size(), '0');
		}
		digits.insert(digits.size() - static_cast<size_t>(scale), ".");
	}
	return negative ? "-" + digits : digits;
}

std::string DateText(int32_t days) {
	duckdb_date_struct d = duckdb_from_date(duckdb_date{days});
	char buf[32];
	int year = d.year > 0 ? d.year : 1 - d.year;
	snprintf(buf, sizeof(buf), "%04d-%02d-%02d%s", year, d.month, d.day, d.year > 0 ? "" : " BC");
	return buf;
}

std::string TimestampText(int64_t micros) {
	duckdb_timestamp_struct t = duckdb_from_timestamp(duckdb_timestamp{micros});
	char buf[64];
	int year = t.date.year > 0 ? t.date.year : 1 - t.date.year;
	snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d.%06d%s", year, t.date.month, t.date.day, t.time.hour,
	         t.time.min, t.time.sec, t.time.micros, t.date.year > 0 ? "" : " BC");
	return buf;
}

} // namespace

std::string DuckDatum::TypeName(duckdb_type type) {
	switch (type) {
	case DUCKDB_TYPE_LIST:
		return "LIST";
	case DUCKDB_TYPE_STRUCT:
		return "STRUCT";
	case DUCKDB_TYPE_MAP:
		return "MAP";
	case DUCKDB_TYPE_BLOB:
		return "BLOB";
	case DUCKDB_TYPE_TIME:
		return "TIME";
	default:
		return "type #" + std::to_string(static_cast<int>(type));
	}
}

DuckDatum::DuckDatum(duckdb_logical_type duck_type, unsigned int pg_type, int pg_typmod, int bpchar_pad)
    : duck_type_(duckdb_get_type_id(duck_type)), pg_type_(pg_type),
      typmod_(pg_type == NUMERICOID                    ? pg_typmod
              : pg_type == BPCHAROID && bpchar_pad > 0 ? bpchar_pad + VARHDRSZ // bpcharin pads to it
                                                       : -1) {
	if (duck_type_ == DUCKDB_TYPE_DECIMAL) {
		decimal_internal_ = duckdb_decimal_internal_type(duck_type);
		decimal_scale_ = duckdb_decimal_scale(duck_type);
	}
	duckdb_type t = duck_type_;
	bool integer = IsInteger(t) || t == DUCKDB_TYPE_UBIGINT || t == DUCKDB_TYPE_HUGEINT;
	bool text_like = t == DUCKDB_TYPE_VARCHAR || integer || t == DUCKDB_TYPE_DECIMAL || t == DUCKDB_TYPE_DOUBLE ||
	                 t == DUCKDB_TYPE_FLOAT || t == DUCKDB_TYPE_BOOLEAN || t == DUCKDB_TYPE_DATE ||
	                 t == DUCKDB_TYPE_TIMESTAMP || t == DUCKDB_TYPE_TIMESTAMP_TZ;
	switch (pg_type) {
	case BOOLOID:
		mode_ = t == DUCKDB_TYPE_BOOLEAN ? Mode::Bool : Mode::Input;
		break;
	case INT2OID:
	case INT4OID:
	case INT8OID:
		mode_ = IsInteger(t) || t == DUCKDB_TYPE_BIGINT ? Mode::Int : Mode::Input;
		break;
	case FLOAT8OID:
		mode_ = t == DUCKDB_TYPE_DOUBLE || t == DUCKDB_TYPE_FLOAT || IsInteger(t) ? Mode::Float8 : Mode::Input;
		break;
	case NUMERICOID:
		mode_ = Mode::Numeric;
		if (t == DUCKDB_TYPE_DOUBLE || t == DUCKDB_TYPE_FLOAT) {
			// The digits of a double are not the exact numeric PostgreSQL would compute.
			throw PgError(ERRCODE_DATATYPE_MISMATCH, "DuckDB computed a double where PostgreSQL computes a numeric", "",
			              "SET duckpipe.duckdb_execution = off runs the query on the row path");
		}
		break;
	case TEXTOID:
	case VARCHAROID:
		mode_ = t == DUCKDB_TYPE_VARCHAR ? Mode::Text : Mode::Input;
		break;
	case DATEOID:
		mode_ = t == DUCKDB_TYPE_DATE ? Mode::Date : Mode::Input;
		break;
	case TIMESTAMPOID:
		mode_ = t == DUCKDB_TYPE_TIMESTAMP ? Mode::Timestamp : Mode::Input;
		break;
	case TIMESTAMPTZOID:
		mode_ = t == DUCKDB_TYPE_TIMESTAMP_TZ ? Mode::Timestamp : Mode::Input;
		break;
	case INTERVALOID:
		mode_ = t == DUCKDB_TYPE_INTERVAL ? Mode::Interval : Mode::Input;
		break;
	case UUIDOID:
		mode_ = t == DUCKDB_TYPE_UUID ? Mode::Uuid : Mode::Input;
		break;
	default:
		mode_ = Mode::Input;
		break;
	}
	if ((mode_ == Mode::Input || mode_ == Mode::Numeric) && !text_like) {
		throw PgError(ERRCODE_DATATYPE_MISMATCH,
		              "DuckDB returned " + TypeName(t) + " for a column of PostgreSQL type " + std::to_string(pg_type),
		              "", "SET duckpipe.duckdb_execution = off runs the query on the row path");
	}
	if (mode_ == Mode::Input || mode_ == Mode::Numeric) {
		PgCall([&] {
			Oid input;
			Oid ioparam;
			getTypeInputInfo(pg_type, &input, &ioparam);
			auto *info = static_cast<FmgrInfo *>(MemoryContextAllocZero(TopMemoryContext, sizeof(FmgrInfo)));
			fmgr_info_cxt(input, info, TopMemoryContext);
			input_ = info;
			ioparam_ = ioparam;
		});
	}
}

DuckDatum::~DuckDatum() {
	if (input_) {
		pfree(input_);
	}
}

std::string DuckDatum::ValueText(void *data, uint64_t row) const {
	duckdb_type t = duck_type_;
	if (IsInteger(t)) {
		return std::to_string(IntegerAt(t, data, row));
	}
	switch (t) {
	case DUCKDB_TYPE_UBIGINT:
		return std::to_string(static_cast<uint64_t *>(data)[row]);
	case DUCKDB_TYPE_HUGEINT:
		return HugeText(HugeAt(data, row));
	case DUCKDB_TYPE_DECIMAL:
		switch (decimal_internal_) {
		case DUCKDB_TYPE_SMALLINT:
			return WithScale(std::to_string(static_cast<int16_t *>(data)[row]), decimal_scale_);
		case DUCKDB_TYPE_INTEGER:
			return WithScale(std::to_string(static_cast<int32_t *>(data)[row]), decimal_scale_);
		case DUCKDB_TYPE_BIGINT:
			return WithScale(std::to_string(static_cast<int64_t *>(data)[row]), decimal_scale_);
		default:
			return WithScale(HugeText(HugeAt(data, row)), decimal_scale_);
		}
	case DUCKDB_TYPE_DOUBLE:
	case DUCKDB_TYPE_FLOAT: {
		double v = t == DUCKDB_TYPE_DOUBLE ? static_cast<double *>(data)[row] : static_cast<float *>(data)[row];
		char buf[64];
		snprintf(buf, sizeof(buf), "%.17g", v);
		return buf;
	}
	case DUCKDB_TYPE_BOOLEAN:
		return static_cast<bool *>(data)[row] ? "true" : "false";
	case DUCKDB_TYPE_DATE:
		return DateText(static_cast<int32_t *>(data)[row]);
	case DUCKDB_TYPE_TIMESTAMP:
		return TimestampText(static_cast<int64_t *>(data)[row]);
	case DUCKDB_TYPE_TIMESTAMP_TZ:
		return TimestampText(static_cast<int64_t *>(data)[row]) + "+00";
	case DUCKDB_TYPE_VARCHAR: {
		auto &value = static_cast<duckdb_string_t *>(data)[row];
		return std::string(duckdb_string_t_data(&value), duckdb_string_t_length(value));
	}
	default:
		return "";
	}
}

uintptr_t DuckDatum::Convert(duckdb_vector vector, uint64_t row, bool *isnull) const {
	uint64_t *validity = duckdb_vector_get_validity(vector);
	*isnull = validity && !duckdb_validity_row_is_valid(validity, row);
	if (*isnull) {
		return 0;
	}
	void *data = duckdb_vector_get_data(vector);
	switch (mode_) {
	case Mode::Bool:
		return BoolGetDatum(static_cast<bool *>(data)[row]);
	case Mode::Int: {
		int64_t v = IntegerAt(duck_type_, data, row);
		if ((pg_type_ == INT2OID && (v < PG_INT16_MIN || v > PG_INT16_MAX)) ||
		    (pg_type_ == INT4OID && (v < PG_INT32_MIN || v > PG_INT32_MAX))) {
			ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE), errmsg("integer out of range")));
		}
		return pg_type_ == INT2OID   ? Int16GetDatum(static_cast<int16>(v))
		       : pg_type_ == INT4OID ? Int32GetDatum(static_cast<int32>(v))
		                             : Int64GetDatum(v);
	}
	case Mode::Float8:
		if (IsInteger(duck_type_)) {
			return Float8GetDatum(static_cast<double>(IntegerAt(duck_type_, data, row)));
		}
		return Float8GetDatum(duck_type_ == DUCKDB_TYPE_DOUBLE ? static_cast<double *>(data)[row]
		                                                       : static_cast<float *>(data)[row]);
	case Mode::Text: {
		auto &value = static_cast<duckdb_string_t *>(data)[row];
		return PointerGetDatum(
		    cstring_to_text_with_len(duckdb_string_t_data(&value), static_cast<int>(duckdb_string_t_length(value))));
	}
	case Mode::Date: {
		int32_t days = static_cast<int32_t *>(data)[row];
		if (days == INT32_MAX || days == -INT32_MAX) {
			return DateADTGetDatum(days == INT32_MAX ? DATEVAL_NOEND : DATEVAL_NOBEGIN);
		}
		return DateADTGetDatum(days - kEpochDays);
	}
	case Mode::Timestamp: {
		int64_t micros = static_cast<int64_t *>(data)[row];
		if (micros == INT64_MAX || micros == -INT64_MAX) {
			return Int64GetDatum(micros == INT64_MAX ? DT_NOEND : DT_NOBEGIN);
		}
		return Int64GetDatum(micros - kEpochMicros);
	}
	case Mode::Interval: {
		auto &v = static_cast<duckdb_interval *>(data)[row];
		auto *out = static_cast<Interval *>(palloc(sizeof(Interval)));
		out->month = v.months;
		out->day = v.days;
		out->time = v.micros;
		return PointerGetDatum(out);
	}
	case Mode::Uuid: {
		// DuckDB keeps a UUID as a hugeint with the top bit flipped (so that it sorts as bytes do).
		auto &h = static_cast<duckdb_hugeint *>(data)[row];
		uint64_t upper = static_cast<uint64_t>(h.upper) ^ (uint64_t(1) << 63);
		auto *out = static_cast<pg_uuid_t *>(palloc(sizeof(pg_uuid_t)));
		for (int i = 0; i < 8; i++) {
			out->data[i] = static_cast<unsigned char>(upper >> (56 - 8 * i));
			out->data[8 + i] = static_cast<unsigned char>(h.lower >> (56 - 8 * i));
		}
		return PointerGetDatum(out);
	}
	case Mode::Numeric:
	case Mode::Input:
		break;
	}
	char *text = nullptr;
	{
		std::string value = ValueText(data, row); // gone before the input function may raise
		text = pnstrdup(value.data(), value.size());
	}
	return InputFunctionCall(static_cast<FmgrInfo *>(input_), text, ioparam_, typmod_);
}

} // namespace duckpipe::ext
