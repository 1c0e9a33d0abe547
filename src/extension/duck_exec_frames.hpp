#pragma once

#include <string>

struct WindowClause;

namespace duckpipe::ext {

// Window frames for whole-query execution (duck_exec_check.cpp). DuckDB's frames are PostgreSQL's
// for ROWS and RANGE with constant, non-negative offsets (an offset PostgreSQL would reject is left
// to it): ROWS counts rows; RANGE over a date or timestamp by an interval, or over an integer by an
// integer, compares the ordering value with the current row's minus or plus the offset (date and
// timestamp arithmetic are PostgreSQL's, month ends included), and a row whose ordering value is
// NULL has its NULL peers as the frame in both. Not GROUPS or EXCLUDE, nor RANGE over other types
// (timestamptz by an interval depends on the zone's rules, numeric and float on their arithmetic).
// Why this clause's frame must stay on the row path, or "" when it need not.
std::string FrameProblem(const WindowClause *clause);

} // namespace duckpipe::ext
