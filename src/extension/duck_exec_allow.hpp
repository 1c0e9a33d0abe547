#pragma once

#include <set>
#include <string>

struct Aggref;
struct FuncExpr;
struct List;
struct Node;
struct OpExpr;
struct ParamListInfoData;
struct WindowFunc;

namespace duckpipe::ext {

// The allowlist of whole-query execution (duck_exec_allow.cpp): each *Problem function says why
// DuckDB may not run the call as PostgreSQL does, "" when it may. They call PostgreSQL.

// The avg and numeric / that DuckDB computes exactly (duckpipe.numeric_div, whose result is text):
// each the whole of a top-level select-list column that nothing sorts, groups or compares.
struct ExactDivisions {
	std::set<const Node *> allowed;
	// Numeric / at such a place in a query with LIMIT or OFFSET, by a divisor that may be zero.
	std::set<const Node *> under_limit;
	std::string missing; // why there are none at all (duckpipe.numeric_div is missing)
};

std::string OperatorProblem(OpExpr *op, const ExactDivisions &divisions);
std::string FunctionProblem(FuncExpr *func, ParamListInfoData *params);
std::string AggregateProblem(Aggref *agg, const ExactDivisions &divisions);
std::string WindowFunctionProblem(WindowFunc *win, const ExactDivisions &divisions);
// Sorting text (ORDER BY, a window's or an aggregate's) under a collation DuckDB does not order by.
std::string SortCollationProblem(List *clauses, List *tlist);

// An explicit cast to char(n) (bpchar(x, n, true)): it keeps x's first n characters and pads them,
// held without the padding in DuckDB as rtrim(left(x, n), ' ') (duck_exec_prepare.cpp). n, or -1
// for any other call.
int CharCastLength(FuncExpr *func);

bool IsText(unsigned int type);
bool IsInteger(unsigned int type);
// Sorting or comparing text orders it by the collation: DuckDB orders by bytes (C), so only C and
// POSIX collations (or a C default) agree.
bool OrdersLikeC(unsigned int collation);
bool IsNonZeroConst(Node *node);
// The function's name when it lives in pg_catalog, else a description in parentheses.
std::string CatalogName(unsigned int func);

} // namespace duckpipe::ext
