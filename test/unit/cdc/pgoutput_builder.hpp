#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace duckpipe::test {

// Builds pgoutput messages byte by byte (big-endian), the way walsender writes them.
class PgOutputBuilder {
public:
	explicit PgOutputBuilder(char type) { U8(static_cast<uint8_t>(type)); }
	PgOutputBuilder() = default;

	PgOutputBuilder &U8(uint8_t v) {
		bytes_.push_back(static_cast<char>(v));
		return *this;
	}
	PgOutputBuilder &U16(uint16_t v) { return U8(uint8_t(v >> 8)).U8(uint8_t(v)); }
	PgOutputBuilder &U32(uint32_t v) { return U16(uint16_t(v >> 16)).U16(uint16_t(v)); }
	PgOutputBuilder &U64(uint64_t v) { return U32(uint32_t(v >> 32)).U32(uint32_t(v)); }
	PgOutputBuilder &Str(std::string_view s) {
		bytes_.append(s);
		return U8(0);
	}
	PgOutputBuilder &Raw(std::string_view s) {
		bytes_.append(s);
		return *this;
	}
	PgOutputBuilder &Xid(std::optional<uint32_t> xid) { return xid ? U32(*xid) : *this; }

	// A TupleData: each column is {kind, data}; data is written for 't' and 'b'.
	PgOutputBuilder &Tuple(const std::vector<std::pair<char, std::string>> &cols) {
		U16(static_cast<uint16_t>(cols.size()));
		for (const auto &[kind, data] : cols) {
			U8(static_cast<uint8_t>(kind));
			if (kind == 't' || kind == 'b') {
				U32(static_cast<uint32_t>(data.size()));
				bytes_.append(data);
			}
		}
		return *this;
	}

	const std::string &Bytes() const { return bytes_; }
	operator std::string_view() const { return bytes_; }

private:
	std::string bytes_;
};

struct TestColumn {
	std::string name;
	uint32_t type_oid;
	int32_t typmod;
	bool key;
};

inline std::string RelationMsg(uint32_t oid, std::string_view ns, std::string_view name, char ident,
                               const std::vector<TestColumn> &cols, std::optional<uint32_t> xid = std::nullopt) {
	PgOutputBuilder b('R');
	b.Xid(xid).U32(oid).Str(ns).Str(name).U8(static_cast<uint8_t>(ident)).U16(static_cast<uint16_t>(cols.size()));
	for (const auto &c : cols) {
		b.U8(c.key ? 1 : 0).Str(c.name).U32(c.type_oid).U32(static_cast<uint32_t>(c.typmod));
	}
	return b.Bytes();
}

using Cols = std::vector<std::pair<char, std::string>>;

inline std::string InsertMsg(uint32_t oid, const Cols &cols, std::optional<uint32_t> xid = std::nullopt) {
	return PgOutputBuilder('I').Xid(xid).U32(oid).U8('N').Tuple(cols).Bytes();
}

} // namespace duckpipe::test
