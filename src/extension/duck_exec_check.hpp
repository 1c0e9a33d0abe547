#pragma once

#include <string>
#include <vector>

struct List;
struct Node;
struct Query;
struct ParamListInfoData;

namespace duckpipe::ext {

// Whether a SELECT may run whole in DuckDB with PostgreSQL's semantics (duck_exec_check.cpp).
struct DuckExecVerdict {
	// Every relation of the query, at every level, is a lake relation (and there is at least one).
	bool all_lake = false;
	// Why it must run on the row path instead (empty when DuckDB may run it).
	std::string reason;
	// Qualified names of lake relations with row-level security enabled (refused, never run).
	std::string rls_relation;
};

// Walks the query tree (subqueries, CTEs, sublinks) without changing it. Calls PostgreSQL: inside
// PgCall.
DuckExecVerdict CheckDuckExecution(Query *query, ParamListInfoData *params);

// Every RTE_RELATION of the query at every level (the range table entries themselves, not copies).
List *CollectRelations(Query *query);

// A copy of `query` ready to deparse for DuckDB: external parameters replaced by their values,
// numeric constants given the precision and scale of their literal (DuckDB reads an unqualified
// NUMERIC as DECIMAL(18,3)). Calls PostgreSQL: inside PgCall, after CheckDuckExecution said yes.
Query *PrepareForDuckDB(Query *query, ParamListInfoData *params);

// avg of an integer or numeric (also over a window), or numeric /: DuckDB computes these with PostgreSQL's digits only
// through duckpipe.numeric_div (a text result), so only as the whole of a top-level select-list
// column (CheckDuckExecution), written as a call of that function (PrepareForDuckDB).
bool IsExactDivision(Node *expr);
// duckpipe.numeric_div(numeric, numeric), or InvalidOid when the installed extension lacks it.
unsigned int ExactDivisionFunction();

} // namespace duckpipe::ext
