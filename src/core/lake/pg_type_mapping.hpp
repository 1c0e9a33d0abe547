#pragma once

#include "core/lake/catalog_model.hpp"
#include "core/pg/source_table.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace duckpipe {
class DuckConnection;
}

namespace duckpipe::lake {

// How one source column is stored in the lake and converted from PostgreSQL's text form.
struct LakeTypeMapping {
	std::string lake_type;                 // DuckLake type name: "int32", "decimal(12,2)", "list", ...
	std::string duck_type;                 // DuckDB type: "INTEGER", "DECIMAL(12,2)", "INTEGER[]", ...
	std::vector<LakeTypeMapping> children; // list: one child ("element")
	bool lossy_fallback = false;           // stored as varchar because no lossless native mapping exists
	std::string note;                      // why (docs/data-types.md says the same)
};

// The lake type for a PostgreSQL type. Never throws: anything unknown becomes varchar (lossless text).
LakeTypeMapping MapPgType(const PgColumnType &type);

// The lake column definition (children included, ids left 0: the writer assigns them).
LakeColumn ToLakeColumn(const std::string &name, const LakeTypeMapping &mapping, bool not_null);

// DuckDB SQL turning `text_expr` (a VARCHAR holding PostgreSQL's text output, as COPY and pgoutput
// produce it) into the mapped DuckDB value. Plain SQL (arrays included), so any DuckDB connection
// evaluates it without registering anything. A multi-dimensional value in a list column raises an
// error naming `column` (the source column) and the fix.
std::string TextToDuckExpression(const LakeTypeMapping &mapping, const std::string &text_expr,
                                 const std::string &column = "");

// Registers duckpipe_pg_array(VARCHAR) -> VARCHAR[] (1-D PostgreSQL array text to its elements, NULL
// elements kept, quotes and backslash escapes removed) on the connection's database. Idempotent.
// TextToDuckExpression no longer needs it; kept for callers that parse array text themselves.
void RegisterPgTextFunctions(DuckConnection &conn);

} // namespace duckpipe::lake
