#pragma once

#include <string>
#include <string_view>

namespace duckpipe::lake {

// DuckLake column type names (`ducklake_column.column_type`), e.g. "int32", "decimal(18,3)",
// "list". The spec's names are the only ones a reader accepts; one bad name breaks the whole
// catalog for every table, so every name we write goes through IsValidTypeName first.
bool IsValidTypeName(std::string_view type);
bool IsNestedTypeName(std::string_view type); // list, struct, map

// The DuckDB SQL type for a primitive DuckLake type: "int32" -> "INTEGER",
// "decimal(18,3)" -> "DECIMAL(18,3)", "timestamptz" -> "TIMESTAMP WITH TIME ZONE".
// Throws Error(Lake) for a name that is not a primitive DuckLake type.
std::string DuckTypeForPrimitive(std::string_view type);

// True when values of `from` can be read as `to` without loss (the widenings DuckLake allows in
// place: int8->int16->int32->int64, uint widening, float32->float64, ...).
bool IsSafeWidening(std::string_view from, std::string_view to);

} // namespace duckpipe::lake
