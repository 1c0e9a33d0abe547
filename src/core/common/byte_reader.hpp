#pragma once

#include "core/common/lsn.hpp"

#include <cstdint>
#include <cstring>
#include <string_view>

namespace duckpipe {

// Big-endian reader over one protocol message. Every read is bounds-checked; a short read throws
// Error(Protocol) naming the message (`what`) and the offset, so malformed input can never read
// past the buffer. The reader never owns or copies the bytes: strings come back as views.
class ByteReader {
public:
	// `lsn` (the WAL position of the message, if known) is attached to errors.
	ByteReader(std::string_view data, const char *what, Lsn lsn = {}) : data_(data), what_(what), lsn_(lsn) {}

	uint8_t ReadU8() {
		Need(1);
		return static_cast<uint8_t>(data_[pos_++]);
	}
	uint16_t ReadU16() {
		Need(2);
		uint16_t v = static_cast<uint16_t>((Byte(0) << 8) | Byte(1));
		pos_ += 2;
		return v;
	}
	uint32_t ReadU32() {
		Need(4);
		uint32_t v = (uint32_t(Byte(0)) << 24) | (uint32_t(Byte(1)) << 16) | (uint32_t(Byte(2)) << 8) | Byte(3);
		pos_ += 4;
		return v;
	}
	uint64_t ReadU64() {
		uint64_t hi = ReadU32();
		return (hi << 32) | ReadU32();
	}
	int16_t ReadI16() { return static_cast<int16_t>(ReadU16()); }
	int32_t ReadI32() { return static_cast<int32_t>(ReadU32()); }
	int64_t ReadI64() { return static_cast<int64_t>(ReadU64()); }

	// A NUL-terminated string (the terminator is consumed, not returned).
	std::string_view ReadCString() {
		const char *start = data_.data() + pos_;
		const void *nul = std::memchr(start, '\0', data_.size() - pos_);
		if (!nul) {
			ThrowMissingTerminator();
		}
		size_t len = static_cast<size_t>(static_cast<const char *>(nul) - start);
		pos_ += len + 1;
		return {start, len};
	}
	std::string_view ReadBytes(size_t n) {
		Need(n);
		std::string_view out = data_.substr(pos_, n);
		pos_ += n;
		return out;
	}

	size_t Offset() const { return pos_; }
	size_t Remaining() const { return data_.size() - pos_; }
	bool AtEnd() const { return pos_ == data_.size(); }
	const char *What() const { return what_; }
	void SetWhat(const char *what) { what_ = what; }

	// Throws Error(Protocol) "<what> ... at offset N: <problem>".
	[[noreturn]] void Fail(std::string_view problem) const;
	// Throws unless every byte was consumed: a longer message means we misread its layout.
	void ExpectEnd() const;

private:
	uint8_t Byte(size_t i) const { return static_cast<uint8_t>(data_[pos_ + i]); }
	void Need(size_t n) const {
		if (n > data_.size() - pos_) {
			ThrowShort(n);
		}
	}
	[[noreturn]] void ThrowShort(size_t n) const;
	[[noreturn]] void ThrowMissingTerminator() const;

	std::string_view data_;
	size_t pos_ = 0;
	const char *what_;
	Lsn lsn_;
};

} // namespace duckpipe
