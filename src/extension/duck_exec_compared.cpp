// avg compared in whole-query DuckDB execution (duck_exec_compared.hpp).
#include "extension/duck_exec_compared.hpp"
#include "extension/duck_exec_check.hpp"

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <utility>

#include "extension/pg_includes.hpp"

extern "C" {
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/parse_oper.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
}

namespace duckpipe::ext {

namespace {

bool (*AsWalker(bool (*fn)(Node *, void *)))() {
	return reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(fn));
}

bool IsInteger(Oid type) {
	return type == INT2OID || type == INT4OID || type == INT8OID;
}

bool IsComparison(OpExpr *op) {
	char *name = get_opname(op->opno);
	static const std::set<std::string> kCompare = {"=", "<>", "<", ">", "<=", ">="};
	return name && kCompare.count(name) && list_length(op->args) == 2 &&
	       exprType(static_cast<Node *>(linitial(op->args))) == NUMERICOID &&
	       exprType(static_cast<Node *>(lsecond(op->args))) == NUMERICOID;
}

struct CompareVisit {
	Node *(*fn)(Aggref *, int, void *);
	void *context;
	int max_scale = 30; // of an avg compared as it is (a derived table's column may be multiplied: 20)
};

bool IsArithmetic(Node *node) {
	if (!IsA(node, OpExpr) || castNode(OpExpr, node)->opresulttype != NUMERICOID ||
	    list_length(castNode(OpExpr, node)->args) != 2) {
		return false;
	}
	char *name = get_opname(castNode(OpExpr, node)->opno);
	return name && (strcmp(name, "+") == 0 || strcmp(name, "-") == 0 || strcmp(name, "*") == 0);
}

// The scale of a numeric constant or of an integer made numeric (-1 for anything else): the same
// before and after PrepareConst (which gives constants a typmod).
int ConstantScale(Node *node) {
	if ((IsA(node, FuncExpr) && list_length(castNode(FuncExpr, node)->args) == 1) || IsA(node, RelabelType)) {
		Node *arg = IsA(node, FuncExpr) ? static_cast<Node *>(linitial(castNode(FuncExpr, node)->args))
		                                : reinterpret_cast<Node *>(castNode(RelabelType, node)->arg);
		return IsA(arg, Const) && IsInteger(exprType(arg)) && exprType(node) == NUMERICOID ? 0 : -1;
	}
	if (!IsA(node, Const) || castNode(Const, node)->consttype != NUMERICOID || castNode(Const, node)->constisnull) {
		return -1;
	}
	const char *text = DatumGetCString(DirectFunctionCall1(numeric_out, castNode(Const, node)->constvalue));
	const char *point = strchr(text, '.');
	return point ? static_cast<int>(strlen(point + 1)) : 0;
}

// An operand of a comparison: the avg itself, an arithmetic on it, a scalar subquery of it.
Node *ReplaceOperand(Node *node, CompareVisit &visit) {
	if (IsA(node, Aggref) && IsExactDivision(node)) {
		return visit.fn(castNode(Aggref, node), visit.max_scale, visit.context);
	}
	if (IsArithmetic(node) && strcmp(get_opname(castNode(OpExpr, node)->opno), "*") == 0) {
		// DuckDB multiplies DECIMALs with the sum of their scales, at most 38, and fails when the
		// product's digits pass 38: only avg * factor, the avg at 20 decimals and the factor (no avg)
		// of at most 8, which leaves 10 integer digits or more.
		ListCell *cell;
		foreach (cell, castNode(OpExpr, node)->args) {
			auto *operand = static_cast<Node *>(lfirst(cell));
			auto *factor = static_cast<Node *>(cell == list_head(castNode(OpExpr, node)->args)
			                                       ? lsecond(castNode(OpExpr, node)->args)
			                                       : linitial(castNode(OpExpr, node)->args));
			int scale = ConstantScale(factor);
			if (IsA(operand, Aggref) && IsExactDivision(operand) && scale >= 0 && scale <= 8) {
				lfirst(cell) = visit.fn(castNode(Aggref, operand), 20, visit.context);
			}
		}
		return node;
	}
	if (IsArithmetic(node)) { // + and -: DuckDB adds at the larger scale
		ListCell *cell;
		foreach (cell, castNode(OpExpr, node)->args) {
			lfirst(cell) = ReplaceOperand(static_cast<Node *>(lfirst(cell)), visit);
		}
		return node;
	}
	if (IsA(node, SubLink) && castNode(SubLink, node)->subLinkType == EXPR_SUBLINK) {
		auto *sub = castNode(Query, castNode(SubLink, node)->subselect);
		if (sub->setOperations == nullptr && list_length(sub->targetList) == 1) {
			auto *tle = static_cast<TargetEntry *>(linitial(sub->targetList));
			tle->expr = reinterpret_cast<Expr *>(ReplaceOperand(reinterpret_cast<Node *>(tle->expr), visit));
		}
	}
	return node;
}

// The references to one column of a derived table: all of them, and those a comparison only reads.
struct ColumnUse {
	Index rti;
	AttrNumber attno;
	int depth = 0;
	int all = 0;
	int compared = 0;
};

bool IsUse(Node *node, const ColumnUse &use) {
	auto *var = IsA(node, Var) ? castNode(Var, node) : nullptr;
	return var && static_cast<Index>(var->varno) == use.rti && static_cast<int>(var->varlevelsup) == use.depth &&
	       (var->varattno == use.attno || var->varattno == 0);
}

void CountCompared(Node *node, ColumnUse &use) {
	if (IsUse(node, use) && castNode(Var, node)->varattno == use.attno) {
		use.compared++;
	} else if (IsArithmetic(node)) {
		auto *left = static_cast<Node *>(linitial(castNode(OpExpr, node)->args));
		auto *right = static_cast<Node *>(lsecond(castNode(OpExpr, node)->args));
		if (strcmp(get_opname(castNode(OpExpr, node)->opno), "*") != 0) {
			CountCompared(left, use);
			CountCompared(right, use);
			return;
		}
		// As ReplaceOperand: only the column itself times a factor of at most 8 decimals.
		for (auto [operand, factor] : {std::pair{left, right}, std::pair{right, left}}) {
			int scale = ConstantScale(factor);
			if (IsUse(operand, use) && castNode(Var, operand)->varattno == use.attno && scale >= 0 && scale <= 8) {
				use.compared++;
			}
		}
	}
}

bool CountWalker(Node *node, void *context) {
	auto &use = *static_cast<ColumnUse *>(context);
	if (!node) {
		return false;
	}
	if (IsA(node, Query)) {
		use.depth++;
		bool stop = query_tree_walker(castNode(Query, node), AsWalker(CountWalker), context, 0);
		use.depth--;
		return stop;
	}
	use.all += IsUse(node, use) ? 1 : 0;
	if (IsA(node, OpExpr) && IsComparison(castNode(OpExpr, node))) {
		CountCompared(static_cast<Node *>(linitial(castNode(OpExpr, node)->args)), use);
		CountCompared(static_cast<Node *>(lsecond(castNode(OpExpr, node)->args)), use);
	}
	return expression_tree_walker(node, AsWalker(CountWalker), context);
}

// A derived table's column (q17's 0.6 * avg(l_quantity) AS avg_quantity) that its query reads only
// in comparisons, so that an avg in it is only compared too. Not one under an explicit JOIN (the
// join's columns stand for it there) nor of a set operation's arm.
bool OnlyCompared(Query *query, Index rti, AttrNumber attno) {
	if (query->setOperations) {
		return false;
	}
	ListCell *cell;
	foreach (cell, query->rtable) {
		auto *rte = castNode(RangeTblEntry, lfirst(cell));
		ListCell *alias;
		foreach (alias, rte->rtekind == RTE_JOIN ? rte->joinaliasvars : NIL) {
			auto *var = static_cast<Node *>(lfirst(alias));
			if (var && IsA(var, Var) && static_cast<Index>(castNode(Var, var)->varno) == rti) {
				return false;
			}
		}
	}
	ColumnUse use{rti, attno};
	query_tree_walker(query, AsWalker(CountWalker), &use, 0);
	return use.all > 0 && use.all == use.compared;
}

bool ReplaceWalker(Node *node, void *context) {
	if (!node) {
		return false;
	}
	if (IsA(node, Query)) {
		auto *query = castNode(Query, node);
		Index rti = 0;
		ListCell *cell;
		foreach (cell, query->rtable) {
			auto *rte = castNode(RangeTblEntry, lfirst(cell));
			rti++;
			ListCell *column;
			foreach (column, rte->rtekind == RTE_SUBQUERY ? rte->subquery->targetList : NIL) {
				auto *tle = static_cast<TargetEntry *>(lfirst(column));
				if (!tle->resjunk && !rte->subquery->setOperations && OnlyCompared(query, rti, tle->resno)) {
					CompareVisit column = *static_cast<CompareVisit *>(context);
					column.max_scale = 20;
					tle->expr = reinterpret_cast<Expr *>(ReplaceOperand(reinterpret_cast<Node *>(tle->expr), column));
				}
			}
		}
		return query_tree_walker(query, AsWalker(ReplaceWalker), context, 0);
	}
	if (IsA(node, OpExpr) && IsComparison(castNode(OpExpr, node))) {
		ListCell *cell;
		foreach (cell, castNode(OpExpr, node)->args) {
			lfirst(cell) = ReplaceOperand(static_cast<Node *>(lfirst(cell)), *static_cast<CompareVisit *>(context));
		}
	}
	return expression_tree_walker(node, AsWalker(ReplaceWalker), context);
}

Node *ConstInt(int value) {
	return reinterpret_cast<Node *>(makeConst(INT4OID, -1, InvalidOid, 4, Int32GetDatum(value), false, true));
}

Expr *AsText(Node *node) {
	auto *coerce = makeNode(CoerceViaIO);
	coerce->arg = reinterpret_cast<Expr *>(node);
	coerce->resulttype = TEXTOID;
	coerce->resultcollid = DEFAULT_COLLATION_OID;
	coerce->coerceformat = COERCE_EXPLICIT_CAST;
	coerce->location = -1;
	return reinterpret_cast<Expr *>(coerce);
}

} // namespace

Node *SumAndCount(Node *avg, Oid divide) {
	bool window = IsA(avg, WindowFunc);
	Oid avg_fn = window ? castNode(WindowFunc, avg)->winfnoid : castNode(Aggref, avg)->aggfnoid;
	Oid sum_fn = avg_fn == F_AVG_INT2   ? F_SUM_INT2
	             : avg_fn == F_AVG_INT4 ? F_SUM_INT4
	             : avg_fn == F_AVG_INT8 ? F_SUM_INT8
	                                    : F_SUM_NUMERIC;
	Oid sum_type = sum_fn == F_SUM_INT2 || sum_fn == F_SUM_INT4 ? INT8OID : NUMERICOID;
	// The same node twice, DISTINCT, FILTER and (a window's) frame kept: the same rows.
	auto *sum = static_cast<Node *>(copyObjectImpl(avg));
	auto *count = static_cast<Node *>(copyObjectImpl(avg));
	if (window) {
		castNode(WindowFunc, sum)->winfnoid = sum_fn;
		castNode(WindowFunc, sum)->wintype = sum_type;
		castNode(WindowFunc, count)->winfnoid = F_COUNT_ANY;
		castNode(WindowFunc, count)->wintype = INT8OID;
	} else {
		castNode(Aggref, sum)->aggfnoid = sum_fn;
		castNode(Aggref, sum)->aggtype = sum_type;
		castNode(Aggref, count)->aggfnoid = F_COUNT_ANY;
		castNode(Aggref, count)->aggtype = INT8OID;
	}
	return reinterpret_cast<Node *>(
	    makeFuncExpr(divide, NUMERICOID, list_make2(sum, count), InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL));
}

// avg(x) compared: duckpipe.numeric_div's text of PostgreSQL's quotient cast to DECIMAL(38, k),
// exact when the text has at most k decimals but for trailing zeros (else an error, never another
// value; an integer part beyond 38 - k digits is DuckDB's cast error). k leaves room for the
// integer digits x's type allows (which the quotient of a sum by a count cannot exceed), from 20
// to max_scale.
Node *CompareAverage(Aggref *avg, int max_scale, void *context) {
	Oid divide = *static_cast<Oid *>(context);
	Oid input = linitial_oid(avg->aggargtypes);
	int digits = input == INT2OID ? 5 : input == INT4OID ? 10 : input == INT8OID ? 19 : 18;
	int32 typmod = exprTypmod(reinterpret_cast<Node *>(static_cast<TargetEntry *>(linitial(avg->args))->expr));
	if (input == NUMERICOID && typmod >= VARHDRSZ) {
		digits = (((typmod - VARHDRSZ) >> 16) & 0xffff) - ((typmod - VARHDRSZ) & 0x7ff);
	}
	// PostgreSQL's quotient has at least 16 significant digits (select_div_scale): 20 decimals hold
	// those of any avg from 0.0001 up, whatever the integer digits cost; 30 leaves 8 for a factor.
	int scale = std::clamp(38 - digits, 20, max_scale);
	Node *quotient = SumAndCount(reinterpret_cast<Node *>(avg), divide);
	auto *dot = makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1, CStringGetTextDatum("."), false, false);
	auto *fraction = makeFuncExpr(F_SPLIT_PART, TEXTOID, list_make3(AsText(quotient), dot, ConstInt(2)), InvalidOid,
	                              DEFAULT_COLLATION_OID, COERCE_EXPLICIT_CALL);
	auto *zero = makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1, CStringGetTextDatum("0"), false, false);
	// Trailing zeros (1.00000000000000000000, the avg of ones) cost no digit of the DECIMAL.
	fraction = makeFuncExpr(F_RTRIM_TEXT_TEXT, TEXTOID, list_make2(fraction, zero), InvalidOid, DEFAULT_COLLATION_OID,
	                        COERCE_EXPLICIT_CALL);
	auto *decimals = reinterpret_cast<Expr *>(makeFuncExpr(F_LENGTH_TEXT, INT4OID, list_make1(fraction), InvalidOid,
	                                                       DEFAULT_COLLATION_OID, COERCE_EXPLICIT_CALL));
	Oid greater = LookupOperName(nullptr, list_make2(makeString(pstrdup("pg_catalog")), makeString(pstrdup(">"))),
	                             INT4OID, INT4OID, false, -1);
	int32 decimal = ((38 << 16) | scale) + VARHDRSZ;
	// The error: a text DuckDB cannot read as a number, which says why.
	auto *message = makeConst(
	    TEXTOID, -1, DEFAULT_COLLATION_OID, -1,
	    CStringGetTextDatum(
	        ("duckpipe: an avg compared in DuckDB has more than " + std::to_string(scale) + " decimals: ").c_str()),
	    false, false);
	Oid concat = LookupOperName(nullptr, list_make2(makeString(pstrdup("pg_catalog")), makeString(pstrdup("||"))),
	                            TEXTOID, TEXTOID, false, -1);
	auto *error_text = reinterpret_cast<Node *>(make_opclause(concat, TEXTOID, false, reinterpret_cast<Expr *>(message),
	                                                          AsText(static_cast<Node *>(copyObjectImpl(quotient))),
	                                                          InvalidOid, DEFAULT_COLLATION_OID));
	auto *error = makeNode(CoerceViaIO);
	error->arg = reinterpret_cast<Expr *>(error_text);
	error->resulttype = NUMERICOID;
	error->coerceformat = COERCE_EXPLICIT_CAST;
	error->location = -1;
	auto *when = makeNode(CaseWhen);
	when->expr = make_opclause(greater, BOOLOID, false, decimals, reinterpret_cast<Expr *>(ConstInt(scale)), InvalidOid,
	                           InvalidOid);
	when->result = reinterpret_cast<Expr *>(
	    makeRelabelType(reinterpret_cast<Expr *>(error), NUMERICOID, decimal, InvalidOid, COERCE_EXPLICIT_CAST));
	when->location = -1;
	auto *result = makeNode(CaseExpr);
	result->casetype = NUMERICOID;
	result->args = list_make1(when);
	result->defresult = reinterpret_cast<Expr *>(makeRelabelType(
	    reinterpret_cast<Expr *>(copyObjectImpl(quotient)), NUMERICOID, decimal, InvalidOid, COERCE_EXPLICIT_CAST));
	result->location = -1;
	return reinterpret_cast<Node *>(result);
}

void ReplaceComparedAverages(Node *tree, Node *(*fn)(Aggref *avg, int max_scale, void *context), void *context) {
	CompareVisit visit{fn, context};
	ReplaceWalker(tree, &visit);
}

} // namespace duckpipe::ext
