#pragma once

#include "core/lake/catalog_model.hpp"

#include <string>

namespace duckpipe::ext {

// DuckDB SQL rendering `expr` (a value of the lake column's type) as text that the input function
// of the PostgreSQL type it was copied from reads back to the same value: bytea as '\x' hex, BC
// dates and timestamps with PostgreSQL's " BC" suffix, lists as array literals (every element
// quoted and escaped), timestamptz in UTC (the session's TimeZone must be UTC, as LakeReader sets
// it), anything else as DuckDB's VARCHAR cast. NULL stays NULL.
std::string PgTextExpression(const lake::LakeColumn &column, const std::string &expr);

} // namespace duckpipe::ext
