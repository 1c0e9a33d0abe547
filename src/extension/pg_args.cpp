#include "extension/pg_args.hpp"

#include "extension/pg_boundary.hpp"

#include "extension/pg_includes.hpp"

namespace duckpipe::ext {

static_assert(sizeof(Datum) == sizeof(uintptr_t));

std::string TextArg(FunctionCallInfo fcinfo, int n) {
	text *value = nullptr;
	PgCall([&] { value = PG_GETARG_TEXT_PP(n); });
	return std::string(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
}

uintptr_t TextDatum(const std::string &value) {
	Datum out = 0;
	PgCall([&] { out = PointerGetDatum(cstring_to_text_with_len(value.data(), static_cast<int>(value.size()))); });
	return out;
}

} // namespace duckpipe::ext
