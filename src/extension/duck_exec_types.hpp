#pragma once

#include <optional>
#include <string>
#include <vector>

struct FuncExpr;
struct Node;
struct OpExpr;
struct Query;
struct ParamListInfoData;

namespace duckpipe::ext {

// char(n) (bpchar) and the functions whose DuckDB form is not PostgreSQL's name and arguments as
// they are (substring/substr, round), for whole-query execution: what the check allows
// (duck_exec_check.cpp) and how the query tree is rewritten before pg_get_querydef writes the
// DuckDB SQL (duck_exec_prepare.cpp).
//
// char(n) in DuckDB: every bpchar value is held without its trailing spaces (the lake stores the
// padded text; each read of such a column is rtrim(col, ' '), bpchar constants are trimmed). Then
// DuckDB's plain string equality, ordering, grouping, hashing, min/max and length are PostgreSQL's
// bpchar ones, which ignore trailing spaces; casts to text (which strip them) are the identity.
// What depends on the padding is done on the padded value: LIKE/ILIKE (rpad to the value's width
// first) and the result rows (padded back on conversion, duck_datum.cpp).

// The width PostgreSQL's value of a bpchar expression is padded to: n for char(n) (a column, a
// constant of that type, min/max/first_value... of one), 0 when the value has no trailing spaces to
// restore (a bpchar constant without them), kPadAny for a NULL constant, kPadUnknown when it cannot
// be told from the expression (the check then keeps such a value away from LIKE and the result).
constexpr int kPadAny = -1;
constexpr int kPadUnknown = -2;
int BpcharPad(Node *expr);

// For a call of substring/substr (text forms), round (numeric, float8): why DuckDB may not run it
// ("" when it may), or nullopt for any other function. Calls PostgreSQL.
std::optional<std::string> CheckRewrittenFunction(FuncExpr *func, ParamListInfoData *params);

// The rewrites (the call's arguments already prepared): substring's bounds as DuckDB reads them,
// round's result given PostgreSQL's scale, upper/lower under a C ctype as ASCII-only translate().
// Returns the node to deparse (func itself if unchanged).
Node *PrepareRewrittenFunction(FuncExpr *func);
// LIKE/ILIKE on a bpchar as the text operator on the padded value, or nullptr for other operators.
// pad: BpcharPad of the left operand in the query as checked (before its constants were trimmed).
Node *PrepareBpcharLike(OpExpr *op, int pad);
// Whether op is a LIKE/ILIKE (or NOT) of a bpchar.
bool IsBpcharLike(OpExpr *op);
// A bpchar constant's value without its trailing spaces (a copy), other nodes as they are.
Node *PrepareBpcharConst(Node *node);
// This level's lake relations whose char(n) columns the query reads, each replaced by a subquery
// that reads them trimmed.
void PrepareBpcharRelations(Query *query);

// The pad width of each result column (0: none), for the conversion of the rows.
std::vector<int> ResultPads(Query *query);

} // namespace duckpipe::ext
