#pragma once

#include <cstdint>
#include <string>

struct FunctionCallInfoBaseData;

// Arguments and results of SQL-callable functions as C++ values. Both call PostgreSQL under PgCall
// (detoasting and palloc may raise), so they are safe inside PgBoundary.
namespace duckpipe::ext {

// Text argument `n` (the caller checks PG_ARGISNULL first).
std::string TextArg(FunctionCallInfoBaseData *fcinfo, int n);
// A text Datum (PostgreSQL's Datum is a uintptr_t) holding `value`, in the current memory context.
uintptr_t TextDatum(const std::string &value);

} // namespace duckpipe::ext
