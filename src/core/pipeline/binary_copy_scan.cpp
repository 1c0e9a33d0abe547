#include "core/pipeline/binary_copy_scan.hpp"

#include "core/common/error.hpp"
#include "core/duck/duck_connection.hpp"
#include "core/pg/pg_connection.hpp"
#include "core/pipeline/copy_prefetcher.hpp"

#include <duckdb.h>

#include <cstring>
#include <limits>

namespace duckpipe::pipeline {

struct BinaryCopyScan::Stream {
	std::unique_ptr<CopyPrefetcher> copy;
	bool started = false;
	bool claimed = false;
	bool done = false;
	std::string_view message; // the rest of the current CopyData message
};

struct BinaryCopyScan::Local {
	Stream *stream = nullptr;
};

struct BinaryCopyScan::Output {
	duckdb_vector vector = nullptr;
	void *data = nullptr;
	uint64_t *validity = nullptr;
};

namespace {

__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;

// PostgreSQL's epochs (2000-01-01) against DuckDB's (1970-01-01).
constexpr int64_t kEpochDays = 10957;
constexpr int64_t kEpochMicros = kEpochDays * 86400LL * 1000000LL;

// COPY data read ahead of the Parquet writer, per stream: more than a row group of narrow rows, so
// the server need not wait while the writer encodes one.
constexpr size_t kPrefetchBytes = 32 << 20;
constexpr char kSignature[] = "PGCOPY\n\377\r\n";

template <class T>
T ReadBig(const char *p) {
	T v;
	std::memcpy(&v, p, sizeof(T));
	if constexpr (sizeof(T) == 2) {
		return static_cast<T>(__builtin_bswap16(static_cast<uint16_t>(v)));
	} else if constexpr (sizeof(T) == 4) {
		return static_cast<T>(__builtin_bswap32(static_cast<uint32_t>(v)));
	} else {
		return static_cast<T>(__builtin_bswap64(static_cast<uint64_t>(v)));
	}
}

bool ValidUtf8(const char *s, size_t n) {
	size_t i = 0;
	while (i < n) {
		// ASCII eight bytes at a time.
		if (i + 8 <= n) {
			uint64_t w;
			std::memcpy(&w, s + i, 8);
			if ((w & 0x8080808080808080ULL) == 0) {
				i += 8;
				continue;
			}
		}
		auto c = static_cast<unsigned char>(s[i]);
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
		if (len == 0 || c > 0xF4 || i + len > n) {
			return false;
		}
		uint32_t cp = c & (0x7F >> len);
		for (size_t k = 1; k < len; k++) {
			auto cc = static_cast<unsigned char>(s[i + k]);
			if ((cc & 0xC0) != 0x80) {
				return false;
			}
			cp = (cp << 6) | (cc & 0x3F);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
			return false;
		}
		i += len;
	}
	return true;
}

duckdb_logical_type LogicalType(const CopyColumnDecoder &c) {
	using K = CopyColumnDecoder::Kind;
	switch (c.kind) {
	case K::Bool:
		return duckdb_create_logical_type(DUCKDB_TYPE_BOOLEAN);
	case K::Int16:
		return duckdb_create_logical_type(DUCKDB_TYPE_SMALLINT);
	case K::Int32:
		return duckdb_create_logical_type(DUCKDB_TYPE_INTEGER);
	case K::Int64:
	case K::Oid:
		return duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
	case K::Float32:
		return duckdb_create_logical_type(DUCKDB_TYPE_FLOAT);
	case K::Float64:
		return duckdb_create_logical_type(DUCKDB_TYPE_DOUBLE);
	case K::Blob:
		return duckdb_create_logical_type(DUCKDB_TYPE_BLOB);
	case K::Date:
		return duckdb_create_logical_type(DUCKDB_TYPE_DATE);
	case K::Time:
		return duckdb_create_logical_type(DUCKDB_TYPE_TIME);
	case K::Timestamp:
		return duckdb_create_logical_type(c.duck_type == "TIMESTAMP" ? DUCKDB_TYPE_TIMESTAMP
		                                                             : DUCKDB_TYPE_TIMESTAMP_TZ);
	case K::Decimal:
		return duckdb_create_decimal_type(c.width, c.scale);
	case K::Uuid:
		return duckdb_create_logical_type(DUCKDB_TYPE_UUID);
	case K::Text:
	case K::Varchar:
		break;
	}
	return duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
}

void ScanInit(duckdb_init_info info) {
	auto *scan = static_cast<BinaryCopyScan *>(duckdb_init_get_extra_info(info));
	duckdb_init_set_max_threads(info, scan->StreamCount());
}

void ScanLocalInit(duckdb_init_info info) {
	duckdb_init_set_init_data(info, new BinaryCopyScan::Local(),
	                          [](void *p) { delete static_cast<BinaryCopyScan::Local *>(p); });
}

} // namespace

void SetFailure(BinaryCopyScan &scan, std::exception_ptr e) {
	std::lock_guard lock(scan.failure_mutex_);
	if (!scan.failure_) {
		scan.failure_ = std::move(e);
	}
}

namespace {

void ScanFunction(duckdb_function_info info, duckdb_data_chunk output) {
	auto *scan = static_cast<BinaryCopyScan *>(duckdb_function_get_extra_info(info));
	auto *local = static_cast<BinaryCopyScan::Local *>(duckdb_function_get_local_init_data(info));
	try {
		scan->Fill(*local, output);
	} catch (const std::exception &e) {
		SetFailure(*scan, std::current_exception());
		duckdb_function_set_error(info, e.what());
	} catch (...) {
		SetFailure(*scan, std::current_exception());
		duckdb_function_set_error(info, "binary COPY scan failed");
	}
}

} // namespace

std::optional<CopyColumnDecoder> CopyColumnDecoder::Native(const std::string &name, const std::string &base_type,
                                                           char typtype, const lake::LakeTypeMapping &mapping) {
	if (typtype != 'b' && typtype != 'd') {
		return std::nullopt;
	}
	using K = Kind;
	struct Entry {
		const char *pg;
		const char *duck;
		K kind;
	};
	// Only types whose binary form maps exactly onto the DuckDB type the text path would produce.
	// ("char" is left out: its text form escapes bytes above 127; json validates in DuckDB's cast.)
	static const Entry kEntries[] = {
	    {"bool", "BOOLEAN", K::Bool},
	    {"int2", "SMALLINT", K::Int16},
	    {"int4", "INTEGER", K::Int32},
	    {"int8", "BIGINT", K::Int64},
	    {"oid", "BIGINT", K::Oid},
	    {"float4", "FLOAT", K::Float32},
	    {"float8", "DOUBLE", K::Float64},
	    {"text", "VARCHAR", K::Varchar},
	    {"varchar", "VARCHAR", K::Varchar},
	    {"bpchar", "VARCHAR", K::Varchar},
	    {"name", "VARCHAR", K::Varchar},
	    {"bytea", "BLOB", K::Blob},
	    {"date", "DATE", K::Date},
	    {"time", "TIME", K::Time},
	    {"timestamp", "TIMESTAMP", K::Timestamp},
	    {"timestamptz", "TIMESTAMP WITH TIME ZONE", K::Timestamp},
	    {"uuid", "UUID", K::Uuid},
	};
	for (const auto &e : kEntries) {
		if (base_type == e.pg && mapping.duck_type == e.duck) {
			return CopyColumnDecoder{.kind = e.kind, .name = name, .duck_type = mapping.duck_type};
		}
	}
	if (base_type == "numeric" && mapping.lake_type.starts_with("decimal(")) {
		int p = 0, s = 0;
		if (std::sscanf(mapping.duck_type.c_str(), "DECIMAL(%d,%d)", &p, &s) == 2 && p >= 1 && p <= 38 && s >= 0 &&
		    s <= p) {
			return CopyColumnDecoder{.kind = K::Decimal,
			                         .name = name,
			                         .duck_type = mapping.duck_type,
			                         .width = static_cast<uint8_t>(p),
			                         .scale = static_cast<uint8_t>(s)};
		}
	}
	return std::nullopt;
}

BinaryCopyScan::BinaryCopyScan(std::vector<PgConnection *> connections, std::vector<std::string> copy_sql,
                               std::vector<CopyColumnDecoder> columns, std::string table_name,
                               const std::atomic<bool> &stop)
    : columns_(std::move(columns)), table_name_(std::move(table_name)), stop_(stop) {
	for (size_t i = 0; i < connections.size(); i++) {
		auto s = std::make_unique<Stream>();
		s->copy = std::make_unique<CopyPrefetcher>(*connections[i], copy_sql.at(i), table_name_, kPrefetchBytes, stop_);
		streams_.push_back(std::move(s));
	}
}

BinaryCopyScan::~BinaryCopyScan() = default;

void BinaryCopyScan::Register(DuckConnection &duck, const std::string &name) {
	duckdb_table_function f = duckdb_create_table_function();
	duckdb_table_function_set_name(f, name.c_str());
	duckdb_table_function_set_extra_info(f, this, nullptr);
	duckdb_table_function_set_bind(f, [](duckdb_bind_info info) {
		auto *scan = static_cast<BinaryCopyScan *>(duckdb_bind_get_extra_info(info));
		for (const auto &c : scan->columns_) {
			auto type = LogicalType(c);
			duckdb_bind_add_result_column(info, c.name.c_str(), type);
			duckdb_destroy_logical_type(&type);
		}
	});
	duckdb_table_function_set_init(f, ScanInit);
	duckdb_table_function_set_local_init(f, ScanLocalInit);
	duckdb_table_function_set_function(f, ScanFunction);
	auto state = duckdb_register_table_function(duck.Raw(), f);
	duckdb_destroy_table_function(&f);
	if (state == DuckDBError) {
		throw Error(ErrorKind::Duck, "cannot register the DuckDB table function " + name);
	}
}

void BinaryCopyScan::StartFile(size_t bytes) {
	file_budget_.store(static_cast<int64_t>(bytes));
}

bool BinaryCopyScan::Finished() const {
	for (const auto &s : streams_) {
		if (!s->done) {
			return false;
		}
	}
	return true;
}

void BinaryCopyScan::RethrowFailure() {
	std::lock_guard lock(failure_mutex_);
	if (failure_) {
		auto e = failure_;
		failure_ = nullptr;
		std::rethrow_exception(e);
	}
}

bool BinaryCopyScan::Claim(Local &local) {
	std::lock_guard lock(mutex_);
	for (auto &s : streams_) {
		if (!s->done && !s->claimed) {
			s->claimed = true;
			local.stream = s.get();
			return true;
		}
	}
	return false;
}

void BinaryCopyScan::Release(Local &local, bool done) {
	std::lock_guard lock(mutex_);
	local.stream->claimed = false;
	local.stream->done = local.stream->done || done;
	local.stream = nullptr;
}

// The next row of the stream (its field count onwards); false at the stream's end.
bool BinaryCopyScan::NextRow(Stream &s, std::string_view &row) {
	if (!s.started) {
		s.started = true;
		std::string_view m;
		if (!s.copy->Next(m)) {
			throw Error(ErrorKind::Source, "the binary COPY of " + table_name_ + " ended without its header",
			            {.table = table_name_});
		}
		if (m.size() < 19 || std::memcmp(m.data(), kSignature, 11) != 0) {
			throw Error(ErrorKind::Source, "the binary COPY of " + table_name_ + " has no valid header",
			            {.table = table_name_});
		}
		auto ext = static_cast<uint32_t>(ReadBig<int32_t>(m.data() + 15));
		if (m.size() < 19 + static_cast<size_t>(ext)) {
			throw Error(ErrorKind::Source, "the binary COPY header of " + table_name_ + " is truncated",
			            {.table = table_name_});
		}
		s.message = m.substr(19 + ext);
		file_budget_.fetch_sub(static_cast<int64_t>(m.size()));
	}
	while (s.message.empty()) {
		std::string_view m;
		if (!s.copy->Next(m)) {
			return false;
		}
		s.message = m;
		file_budget_.fetch_sub(static_cast<int64_t>(m.size()));
	}
	// PostgreSQL sends each row as one CopyData message, the trailer (-1) as the last.
	if (s.message.size() >= 2 && ReadBig<int16_t>(s.message.data()) == -1) {
		s.message = {};
		std::string_view m;
		while (s.copy->Next(m)) {
		}
		return false;
	}
	row = s.message;
	s.message = {};
	return true;
}

void BinaryCopyScan::ConversionError(const CopyColumnDecoder &c, const std::string &why) const {
	throw Error(
	    ErrorKind::Unsupported,
	    "cannot convert column \"" + c.name + "\" of " + table_name_ + " to " + c.duck_type + ": " + why,
	    {.table = table_name_, .hint = "the PostgreSQL value does not fit the lake type; see docs/data-types.md"});
}

void BinaryCopyScan::Fill(Local &local, void *raw_chunk) {
	auto chunk = static_cast<duckdb_data_chunk>(raw_chunk);
	if (stop_.load()) {
		throw Error(ErrorKind::Internal, "copy of " + table_name_ + " interrupted by shutdown");
	}
	std::vector<Output> out(columns_.size());
	for (size_t i = 0; i < columns_.size(); i++) {
		out[i].vector = duckdb_data_chunk_get_vector(chunk, i);
		out[i].data = duckdb_vector_get_data(out[i].vector);
	}
	const uint64_t capacity = duckdb_vector_size();
	uint64_t n = 0;
	while (n < capacity) {
		if (!local.stream) {
			if (n > 0 || file_budget_.load() <= 0 || !Claim(local)) {
				break;
			}
		}
		std::string_view row;
		if (!NextRow(*local.stream, row)) {
			Release(local, true);
			continue;
		}
		DecodeRow(row, out, n);
		n++;
		if (file_budget_.load() <= 0) {
			break;
		}
	}
	if (local.stream && file_budget_.load() <= 0) {
		Release(local, false);
	}
	rows_.fetch_add(static_cast<int64_t>(n));
	duckdb_data_chunk_set_size(chunk, n);
}

void BinaryCopyScan::DecodeRow(std::string_view row, std::vector<Output> &out, uint64_t r) {
	using K = CopyColumnDecoder::Kind;
	const char *p = row.data();
	const char *end = p + row.size();
	auto truncated = [&]() {
		throw Error(ErrorKind::Source, "a row of the binary COPY of " + table_name_ + " is truncated",
		            {.table = table_name_});
	};
	if (end - p < 2 || ReadBig<int16_t>(p) != static_cast<int16_t>(columns_.size())) {
		throw Error(ErrorKind::Source,
		            "a row of the binary COPY of " + table_name_ + " does not have " + std::to_string(columns_.size()) +
		                " columns",
		            {.table = table_name_});
	}
	p += 2;
	for (size_t i = 0; i < columns_.size(); i++) {
		const auto &c = columns_[i];
		auto &o = out[i];
		if (end - p < 4) {
			truncated();
		}
		int32_t len = ReadBig<int32_t>(p);
		p += 4;
		if (len < 0) {
			if (!o.validity) {
				duckdb_vector_ensure_validity_writable(o.vector);
				o.validity = duckdb_vector_get_validity(o.vector);
			}
			duckdb_validity_set_row_invalid(o.validity, r);
			continue;
		}
		if (end - p < len) {
			truncated();
		}
		auto need = [&](int32_t size) {
			if (len != size) {
				throw Error(ErrorKind::Source,
				            "column \"" + c.name + "\" of " + table_name_ + " has an unexpected binary size",
				            {.table = table_name_});
			}
		};
		const char *v = p;
		p += len;
		switch (c.kind) {
		case K::Bool:
			need(1);
			static_cast<bool *>(o.data)[r] = *v != 0;
			break;
		case K::Int16:
			need(2);
			static_cast<int16_t *>(o.data)[r] = ReadBig<int16_t>(v);
			break;
		case K::Int32:
			need(4);
			static_cast<int32_t *>(o.data)[r] = ReadBig<int32_t>(v);
			break;
		case K::Oid:
			need(4);
			static_cast<int64_t *>(o.data)[r] = static_cast<int64_t>(ReadBig<uint32_t>(v));
			break;
		case K::Int64:
		case K::Time:
			need(8);
			static_cast<int64_t *>(o.data)[r] = ReadBig<int64_t>(v);
			break;
		case K::Float32: {
			need(4);
			uint32_t bits = ReadBig<uint32_t>(v);
			std::memcpy(static_cast<float *>(o.data) + r, &bits, 4);
			break;
		}
		case K::Float64: {
			need(8);
			uint64_t bits = ReadBig<uint64_t>(v);
			std::memcpy(static_cast<double *>(o.data) + r, &bits, 8);
			break;
		}
		case K::Date: {
			need(4);
			int32_t d = ReadBig<int32_t>(v);
			int32_t out_d;
			if (d == std::numeric_limits<int32_t>::max()) {
				out_d = d; // infinity
			} else if (d == std::numeric_limits<int32_t>::min()) {
				out_d = -std::numeric_limits<int32_t>::max(); // DuckDB's -infinity
			} else if (__builtin_add_overflow(d, static_cast<int32_t>(kEpochDays), &out_d) ||
			           out_d >= std::numeric_limits<int32_t>::max() - 1) {
				ConversionError(c, "date out of range");
			}
			static_cast<int32_t *>(o.data)[r] = out_d;
			break;
		}
		case K::Timestamp: {
			need(8);
			int64_t t = ReadBig<int64_t>(v);
			int64_t out_t;
			if (t == std::numeric_limits<int64_t>::max()) {
				out_t = t;
			} else if (t == std::numeric_limits<int64_t>::min()) {
				out_t = -std::numeric_limits<int64_t>::max();
			} else if (__builtin_add_overflow(t, kEpochMicros, &out_t) ||
			           out_t >= std::numeric_limits<int64_t>::max() - 1 ||
			           out_t <= -std::numeric_limits<int64_t>::max()) {
				ConversionError(c, "timestamp out of range");
			}
			static_cast<int64_t *>(o.data)[r] = out_t;
			break;
		}
		case K::Uuid: {
			need(16);
			duckdb_hugeint h;
			h.upper = static_cast<int64_t>(ReadBig<uint64_t>(v) ^ (uint64_t(1) << 63));
			h.lower = ReadBig<uint64_t>(v + 8);
			static_cast<duckdb_hugeint *>(o.data)[r] = h;
			break;
		}
		case K::Decimal: {
			if (len < 8) {
				truncated();
			}
			int ndigits = ReadBig<int16_t>(v);
			int weight = ReadBig<int16_t>(v + 2);
			auto sign = static_cast<uint16_t>(ReadBig<int16_t>(v + 4));
			if (ndigits < 0 || len != 8 + 2 * ndigits) {
				truncated();
			}
			if (sign == 0xC000) { // NaN: NULL, as the text conversion makes it
				if (!o.validity) {
					duckdb_vector_ensure_validity_writable(o.vector);
					o.validity = duckdb_vector_get_validity(o.vector);
				}
				duckdb_validity_set_row_invalid(o.validity, r);
				break;
			}
			if (sign != 0x0000 && sign != 0x4000) {
				ConversionError(c, "infinity has no decimal value");
			}
			// Base-10000 digit groups from the highest (weight) down to the last one the scale covers.
			Int128 acc = 0;
			bool overflow = false;
			int lowest = -((c.scale + 3) / 4);
			for (int w = std::max(weight, 0); w >= lowest; w--) {
				int idx = weight - w;
				int d = idx >= 0 && idx < ndigits ? ReadBig<int16_t>(v + 8 + 2 * idx) : 0;
				int mul = 10000;
				if (w < 0 && -4 * w > c.scale) { // the group reaches beyond the scale
					int drop = -4 * w - c.scale;
					int div = drop == 1 ? 10 : drop == 2 ? 100 : 1000;
					if (d % div != 0) {
						ConversionError(c, "more fractional digits than the scale");
					}
					d /= div;
					mul = 10000 / div;
				}
				overflow |= __builtin_mul_overflow(acc, static_cast<Int128>(mul), &acc);
				overflow |= __builtin_add_overflow(acc, static_cast<Int128>(d), &acc);
			}
			for (int idx = weight - lowest + 1; idx < ndigits; idx++) {
				if (ReadBig<int16_t>(v + 8 + 2 * idx) != 0) {
					ConversionError(c, "more fractional digits than the scale");
				}
			}
			Int128 limit = 1;
			for (int k = 0; k < c.width; k++) {
				limit *= 10;
			}
			if (overflow || acc >= limit) {
				ConversionError(c, "value out of range");
			}
			if (sign == 0x4000) {
				acc = -acc;
			}
			if (c.width <= 4) {
				static_cast<int16_t *>(o.data)[r] = static_cast<int16_t>(acc);
			} else if (c.width <= 9) {
				static_cast<int32_t *>(o.data)[r] = static_cast<int32_t>(acc);
			} else if (c.width <= 18) {
				static_cast<int64_t *>(o.data)[r] = static_cast<int64_t>(acc);
			} else {
				duckdb_hugeint h;
				h.lower = static_cast<uint64_t>(static_cast<UInt128>(acc));
				h.upper = static_cast<int64_t>(acc >> 64);
				static_cast<duckdb_hugeint *>(o.data)[r] = h;
			}
			break;
		}
		case K::Text:
		case K::Varchar:
			if (!ValidUtf8(v, static_cast<size_t>(len))) {
				ConversionError(c, "the text is not valid UTF-8");
			}
			duckdb_vector_assign_string_element_len(o.vector, r, v, static_cast<idx_t>(len));
			break;
		case K::Blob:
			duckdb_vector_assign_string_element_len(o.vector, r, v, static_cast<idx_t>(len));
			break;
		}
	}
	if (p != end) {
		throw Error(ErrorKind::Source, "a row of the binary COPY of " + table_name_ + " has trailing bytes",
		            {.table = table_name_});
	}
}

} // namespace duckpipe::pipeline
