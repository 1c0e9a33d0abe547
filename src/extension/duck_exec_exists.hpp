#pragma once

struct Query;

namespace duckpipe::ext {

// The query whole-query execution checks and translates (duck_exec.cpp): a copy in which each
// EXISTS subquery that PostgreSQL's planner would simplify selects the constant 1 instead of its
// select list, and each relation of such a subquery reads only the columns the rest of it uses.
// PostgreSQL never evaluates that select list either (simplify_EXISTS_query drops it), so
// `EXISTS (SELECT * FROM t WHERE ...)` no longer keeps a query on the row path for a column of t
// that DuckDB cannot read as PostgreSQL does. The original query's relations stay the plan's, for
// the permission checks (which cover the whole select list). `query` itself when it has no such
// EXISTS. Calls PostgreSQL: inside PgCall.
Query *WithExistsSelectingConstants(Query *query);

} // namespace duckpipe::ext
