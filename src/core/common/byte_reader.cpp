#include "core/common/byte_reader.hpp"

#include "core/common/error.hpp"

#include <string>

namespace duckpipe {

static constexpr const char *kHint = "the replication stream is corrupt or uses a protocol version this build does "
                                     "not understand; report it with the server version and the LSN";

void ByteReader::Fail(std::string_view problem) const {
	throw Error(ErrorKind::Protocol,
	            std::string("malformed pgoutput ") + what_ + " message at offset " + std::to_string(pos_) + " of " +
	                std::to_string(data_.size()) + ": " + std::string(problem),
	            {.lsn = lsn_.IsValid() ? std::optional<Lsn>(lsn_) : std::nullopt, .hint = kHint});
}

void ByteReader::ThrowShort(size_t n) const {
	Fail("truncated, need " + std::to_string(n) + " more bytes, " + std::to_string(Remaining()) + " left");
}

void ByteReader::ThrowMissingTerminator() const {
	Fail("truncated, string without terminating NUL");
}

void ByteReader::ExpectEnd() const {
	if (!AtEnd()) {
		Fail(std::to_string(Remaining()) + " unexpected trailing bytes");
	}
}

} // namespace duckpipe
