// VALUES lists and generate_series in FROM for whole-query execution (duck_exec_from.hpp).
#include "extension/duck_exec_from.hpp"

#include <algorithm>

#include "extension/pg_includes.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "rewrite/rewriteManip.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/numeric.h"
}

namespace duckpipe::ext {

namespace {

// The scale of a numeric constant's text (1.50 -> 2).
int ConstScale(Const *c) {
	const char *text = DatumGetCString(DirectFunctionCall1(numeric_out, c->constvalue));
	const char *point = strchr(text, '.');
	return point ? static_cast<int>(strlen(point + 1)) : 0;
}

// An integer constant the parser made a numeric (a call of the cast, not folded).
bool IsIntegerConstCast(Node *node) {
	if (!IsA(node, FuncExpr) || list_length(castNode(FuncExpr, node)->args) != 1) {
		return false;
	}
	auto *arg = static_cast<Node *>(linitial(castNode(FuncExpr, node)->args));
	Oid type = exprType(arg);
	return IsA(arg, Const) && !castNode(Const, arg)->constisnull &&
	       (type == INT2OID || type == INT4OID || type == INT8OID) &&
	       castNode(FuncExpr, node)->funcformat != COERCE_EXPLICIT_CALL;
}

FuncExpr *SeriesCall(RangeTblEntry *rte) {
	if (rte->rtekind != RTE_FUNCTION || list_length(rte->functions) != 1) {
		return nullptr;
	}
	Node *call = castNode(RangeTblFunction, linitial(rte->functions))->funcexpr;
	return call && IsA(call, FuncExpr) ? castNode(FuncExpr, call) : nullptr;
}

bool IsInt4Series(FuncExpr *call) {
	return call->funcid == F_GENERATE_SERIES_INT4_INT4 || call->funcid == F_GENERATE_SERIES_INT4_INT4_INT4;
}

} // namespace

std::string ValuesProblem(RangeTblEntry *rte) {
	// DuckDB gives a VALUES column one DECIMAL type, so every value its scale; PostgreSQL's numeric
	// values keep their own (VALUES (1.5), (2) returns 2, not 2.0).
	int column = 0;
	ListCell *type_cell;
	foreach (type_cell, rte->coltypes) {
		if (lfirst_oid(type_cell) == NUMERICOID) {
			int scale = -1;
			ListCell *row;
			foreach (row, rte->values_lists) {
				auto *value = static_cast<Node *>(list_nth(static_cast<List *>(lfirst(row)), column));
				int value_scale = IsIntegerConstCast(value) ? 0 : -1; // (VALUES (1.5), (2)): 2::numeric
				if (value_scale < 0 && !IsA(value, Const)) {
					return "a VALUES list with a numeric that is not a constant";
				}
				if (value_scale < 0 && castNode(Const, value)->constisnull) {
					continue;
				}
				value_scale = value_scale < 0 ? ConstScale(castNode(Const, value)) : value_scale;
				if (scale >= 0 && value_scale != scale) {
					return "a VALUES list of numerics of different scales (DuckDB gives them its column's)";
				}
				scale = value_scale;
			}
		}
		column++;
	}
	return "";
}

std::string FunctionScanProblem(RangeTblEntry *rte) {
	FuncExpr *call = SeriesCall(rte);
	if (!call || rte->funcordinality) {
		return "a function in FROM other than generate_series (or WITH ORDINALITY, ROWS FROM)";
	}
	// Integer series are DuckDB's (start and stop included, a zero step an error in both);
	// timestamp and timestamptz ones add the interval to the previous value, as PostgreSQL does (a
	// month from January 31 gives February 28, then March 28), timestamptz in the session's zone.
	switch (call->funcid) {
	case F_GENERATE_SERIES_INT4_INT4:
	case F_GENERATE_SERIES_INT4_INT4_INT4:
	case F_GENERATE_SERIES_INT8_INT8:
	case F_GENERATE_SERIES_INT8_INT8_INT8:
	case F_GENERATE_SERIES_TIMESTAMP_TIMESTAMP_INTERVAL:
	case F_GENERATE_SERIES_TIMESTAMPTZ_TIMESTAMPTZ_INTERVAL:
		return "";
	default:
		return "generate_series of " + std::string(format_type_be(call->funcresulttype)) +
		       " (DuckDB's steps are not PostgreSQL's)";
	}
}

void PrepareFunctionScans(Query *query) {
	ListCell *cell;
	foreach (cell, query->rtable) {
		auto *rte = castNode(RangeTblEntry, lfirst(cell));
		FuncExpr *call = SeriesCall(rte);
		if (!call || !IsInt4Series(call)) {
			continue;
		}
		// LATERAL (SELECT (g)::integer AS g FROM generate_series(...) g(g)) g: the call one level
		// down, so its references to this level's relations and to outer levels go one level up.
		auto *inner = static_cast<RangeTblEntry *>(copyObjectImpl(rte));
		IncrementVarSublevelsUp(reinterpret_cast<Node *>(inner->functions), 1, 0);
		inner->lateral = false;
		Query *sub = SelectFromOne(inner);
		const char *column = strVal(linitial(rte->eref->colnames));
		Expr *value = reinterpret_cast<Expr *>(makeVar(1, 1, INT4OID, -1, InvalidOid, 0));
		value = reinterpret_cast<Expr *>(makeRelabelType(value, INT4OID, -1, InvalidOid, COERCE_EXPLICIT_CAST));
		sub->targetList = list_make1(makeTargetEntry(value, 1, pstrdup(column), false));
		RangeTblEntry *subquery = makeNode(RangeTblEntry);
		subquery->rtekind = RTE_SUBQUERY;
		subquery->subquery = sub;
		subquery->alias =
		    rte->alias ? static_cast<Alias *>(copyObjectImpl(rte->alias)) : makeAlias(rte->eref->aliasname, NIL);
		subquery->eref = static_cast<Alias *>(copyObjectImpl(rte->eref));
		subquery->lateral = true;
		subquery->inFromCl = rte->inFromCl;
		lfirst(cell) = subquery;
	}
}

void PrepareValuesLists(Query *query) {
	ListCell *cell;
	foreach (cell, query->rtable) {
		auto *rte = castNode(RangeTblEntry, lfirst(cell));
		// (VALUES ...) v in FROM is a subquery whose only entry is the list: its names are the
		// subquery's.
		if (rte->rtekind == RTE_SUBQUERY && list_length(rte->subquery->rtable) == 1 &&
		    castNode(RangeTblEntry, linitial(rte->subquery->rtable))->rtekind == RTE_VALUES && rte->alias &&
		    list_length(rte->alias->colnames) < list_length(rte->eref->colnames)) {
			rte->alias = makeAlias(rte->alias->aliasname, static_cast<List *>(copyObjectImpl(rte->eref->colnames)));
		}
		if (rte->rtekind != RTE_VALUES) {
			continue;
		}
		int column = 0;
		ListCell *type_cell;
		foreach (type_cell, rte->coltypes) {
			// The values' typmods are their literals' or their integer's (duck_exec_prepare.cpp), all
			// of one scale (ValuesProblem): the widest is the column's.
			int32 typmod = -1;
			ListCell *row;
			foreach (row, rte->values_lists) {
				auto *value = static_cast<Node *>(list_nth(static_cast<List *>(lfirst(row)), column));
				if (lfirst_oid(type_cell) == NUMERICOID &&
				    !(IsA(value, Const) && castNode(Const, value)->constisnull)) {
					typmod = std::max(typmod, exprTypmod(value)); // an integer's cast: numeric(10,0) for int4
				}
			}
			foreach (row, rte->values_lists) {
				auto *value = static_cast<Node *>(list_nth(static_cast<List *>(lfirst(row)), column));
				if (typmod >= 0 && IsA(value, Const) && castNode(Const, value)->constisnull) {
					castNode(Const, value)->consttypmod = typmod;
				}
			}
			column++;
		}
	}
}

Query *SelectFromOne(RangeTblEntry *inner) {
	Query *sub = makeNode(Query);
	sub->commandType = CMD_SELECT;
	sub->canSetTag = true;
	sub->rtable = list_make1(inner);
	RangeTblRef *ref = makeNode(RangeTblRef);
	ref->rtindex = 1;
	sub->jointree = makeFromExpr(list_make1(ref), nullptr);
	return sub;
}

} // namespace duckpipe::ext
