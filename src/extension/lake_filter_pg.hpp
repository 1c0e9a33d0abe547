#pragma once

#include "core/lake/catalog_model.hpp"
#include "extension/lake_filter.hpp"

#include <cstdint>
#include <functional>
#include <optional>

struct Expr;
struct List;
struct RelationData;

namespace duckpipe::ext {

// Which restriction clauses of a lake relation go into the DuckDB scan, and as what (LakeFilter).
// Pushed: column op value with the built-in btree comparison operators on int2/4/8, float4/8,
// numeric, date, timestamp, timestamptz and bool, text/varchar equality (ordering only under the C
// collation, DuckDB compares strings byte-wise), IS [NOT] NULL, = ANY(array), a boolean column,
// and AND/OR/NOT of those; values are constants or parameters. PostgreSQL still checks every
// clause on the rows DuckDB returns, so a clause left out only costs speed.
struct PushContext {
	unsigned relid = 0;          // the relation's range table index (Var.varno)
	RelationData *rel = nullptr; // its attribute names and types
	// At execution: the lake table (column types checked against the relation's) and the values of
	// the clauses' constants and parameters. Both null at plan time: only the shape is checked.
	const lake::LakeTable *table = nullptr;
	// Evaluates a Const or Param operand; false when its value is not known (EXPLAIN without ANALYZE:
	// the leaf prunes nothing; otherwise the leaf is not pushed).
	std::function<bool(Expr *operand, uintptr_t *value, bool *isnull)> value;
	bool explain_only = false;
	// Plan time: a column of another relation counts as a value (a nested loop hands it in as a
	// parameter of a parameterized path).
	bool outer_vars = false;
};

// Whether a restriction clause has a pushable shape (plan time).
bool PushableClause(Expr *clause, const PushContext &context);

// The AND of the clauses (a List of Expr) that translate for this lake table; nullopt if none does.
// An operand whose value is unknown gives a leaf that prunes nothing and reads "$?" in the SQL.
std::optional<LakeFilter> TranslateClauses(List *clauses, const PushContext &context);

} // namespace duckpipe::ext
