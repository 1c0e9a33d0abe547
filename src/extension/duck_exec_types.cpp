// char(n) and the rewritten functions of whole-query execution (duck_exec_types.hpp). Each rule
// here was checked against PostgreSQL 15 and DuckDB (test/regress/sql/65_duckdb_types.sql).
#include "extension/duck_exec_types.hpp"

#include "extension/duck_exec_from.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "extension/pg_includes.hpp"

extern "C" {
#include "access/sysattr.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/params.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/pg_locale.h"
#include "utils/rel.h"
}

namespace duckpipe::ext {

namespace {

int Combine(int a, int b) {
	if (a == kPadAny) {
		return b;
	}
	if (b == kPadAny) {
		return a;
	}
	return a == b ? a : kPadUnknown;
}

// The value of an int4 constant (or of a parameter whose value is known at planning time).
bool Int4Value(Node *node, ParamListInfo params, int64 *out) {
	if (node && IsA(node, Const) && castNode(Const, node)->consttype == INT4OID &&
	    !castNode(Const, node)->constisnull) {
		*out = DatumGetInt32(castNode(Const, node)->constvalue);
		return true;
	}
	if (node && IsA(node, Param) && castNode(Param, node)->paramkind == PARAM_EXTERN &&
	    castNode(Param, node)->paramtype == INT4OID && params && castNode(Param, node)->paramid > 0 &&
	    castNode(Param, node)->paramid <= params->numParams) {
		ParamExternData workspace;
		int id = castNode(Param, node)->paramid;
		ParamExternData *value =
		    params->paramFetch ? params->paramFetch(params, id, true, &workspace) : &params->params[id - 1];
		if (value && !value->isnull && value->ptype == INT4OID && (value->pflags & PARAM_FLAG_CONST)) {
			*out = DatumGetInt32(value->value);
			return true;
		}
	}
	return false;
}

Const *Int4Const(int64 value) {
	return makeConst(INT4OID, -1, InvalidOid, sizeof(int32), Int32GetDatum(static_cast<int32>(value)), false, true);
}

Const *TextConst(const char *value, Oid type) {
	return makeConst(type, -1, DEFAULT_COLLATION_OID, -1, PointerGetDatum(cstring_to_text(value)), false, false);
}

bool IsSubstring(Oid fn) {
	return fn == F_SUBSTR_TEXT_INT4_INT4 || fn == F_SUBSTR_TEXT_INT4 || fn == F_SUBSTRING_TEXT_INT4_INT4 ||
	       fn == F_SUBSTRING_TEXT_INT4;
}

Expr *Float8Op(const char *name, Expr *left, Expr *right) {
	Oid opno = OpernameGetOprid(list_make1(makeString(pstrdup(name))), FLOAT8OID, FLOAT8OID);
	Oid result = strcmp(name, "=") == 0 ? BOOLOID : FLOAT8OID;
	return make_opclause(opno, result, false, left, right, InvalidOid, InvalidOid);
}

Expr *Float8Call(Oid fn, Expr *arg) {
	return reinterpret_cast<Expr *>(
	    makeFuncExpr(fn, FLOAT8OID, list_make1(arg), InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL));
}

Expr *Float8Const(double value) {
	return reinterpret_cast<Expr *>(
	    makeConst(FLOAT8OID, -1, InvalidOid, sizeof(float8), Float8GetDatum(value), false, FLOAT8PASSBYVAL));
}

// PostgreSQL's round(float8) is rint(), half to even; DuckDB's round() rounds half away from zero.
// CASE WHEN abs(x - trunc(x)) = 0.5 THEN 2 * round(x / 2) ELSE round(x) END is rint() for every
// double (x - trunc(x) and x / 2 are exact; the sign of a zero result is kept).
Node *RoundHalfEven(FuncExpr *func) {
	auto *x = static_cast<Expr *>(linitial(func->args));
	Expr *fraction = Float8Call(F_ABS_FLOAT8, Float8Op("-", x, Float8Call(F_TRUNC_FLOAT8, x)));
	CaseWhen *when = makeNode(CaseWhen);
	when->expr = Float8Op("=", fraction, Float8Const(0.5));
	when->result = Float8Op("*", Float8Const(2), Float8Call(F_ROUND_FLOAT8, Float8Op("/", x, Float8Const(2))));
	when->location = -1;
	CaseExpr *result = makeNode(CaseExpr);
	result->casetype = FLOAT8OID;
	result->casecollid = InvalidOid;
	result->args = list_make1(when);
	result->defresult = reinterpret_cast<Expr *>(copyObjectImpl(func));
	result->location = -1;
	return reinterpret_cast<Node *>(result);
}

} // namespace

int BpcharPad(Node *expr) {
	if (!expr || exprType(expr) != BPCHAROID) {
		return kPadUnknown;
	}
	switch (nodeTag(expr)) {
	case T_Const: {
		auto *c = castNode(Const, expr);
		if (c->constisnull) {
			return kPadAny;
		}
		if (c->consttypmod >= VARHDRSZ) {
			return c->consttypmod - VARHDRSZ;
		}
		const char *value = TextDatumGetCString(c->constvalue);
		size_t length = strlen(value);
		return length == 0 || value[length - 1] != ' ' ? 0 : kPadUnknown;
	}
	case T_Aggref: {
		auto *agg = castNode(Aggref, expr);
		std::string name = get_func_name(agg->aggfnoid);
		if ((name == "min" || name == "max") && list_length(agg->args) == 1) {
			return BpcharPad(reinterpret_cast<Node *>(castNode(TargetEntry, linitial(agg->args))->expr));
		}
		return kPadUnknown;
	}
	case T_WindowFunc: {
		auto *win = castNode(WindowFunc, expr);
		std::string name = get_func_name(win->winfnoid);
		bool passes_value = name == "min" || name == "max" || name == "first_value" || name == "last_value" ||
		                    name == "nth_value" || ((name == "lag" || name == "lead") && list_length(win->args) <= 2);
		return passes_value && win->args ? BpcharPad(static_cast<Node *>(linitial(win->args))) : kPadUnknown;
	}
	case T_CaseExpr: {
		auto *c = castNode(CaseExpr, expr);
		int pad = c->defresult ? BpcharPad(reinterpret_cast<Node *>(c->defresult)) : kPadAny;
		ListCell *cell;
		foreach (cell, c->args) {
			pad = Combine(pad, BpcharPad(reinterpret_cast<Node *>(castNode(CaseWhen, lfirst(cell))->result)));
		}
		return pad;
	}
	case T_CoalesceExpr: {
		int pad = kPadAny;
		ListCell *cell;
		foreach (cell, castNode(CoalesceExpr, expr)->args) {
			pad = Combine(pad, BpcharPad(static_cast<Node *>(lfirst(cell))));
		}
		return pad;
	}
	case T_NullIfExpr:
		return BpcharPad(static_cast<Node *>(linitial(castNode(NullIfExpr, expr)->args)));
	case T_CollateExpr:
		return BpcharPad(reinterpret_cast<Node *>(castNode(CollateExpr, expr)->arg));
	default: {
		int32 typmod = exprTypmod(expr); // a column, or a subquery's, CTE's or join's of one typmod
		return typmod >= VARHDRSZ ? typmod - VARHDRSZ : kPadUnknown;
	}
	}
}

std::optional<std::string> CheckRewrittenFunction(FuncExpr *func, ParamListInfoData *params) {
	if (IsSubstring(func->funcid)) {
		int64 from = 0;
		int64 count = 0;
		if (!Int4Value(static_cast<Node *>(lsecond(func->args)), params, &from) ||
		    (list_length(func->args) == 3 && !Int4Value(static_cast<Node *>(lthird(func->args)), params, &count))) {
			return std::string("substring/substr with a start or length that is not a constant (DuckDB counts a "
			                   "start below 1 from the end of the string)");
		}
		if (count < 0) {
			return std::string("substring/substr with a negative length (an error in PostgreSQL)");
		}
		return std::string();
	}
	if (func->funcid == F_ROUND_NUMERIC_INT4) {
		int64 digits = 0;
		if (!Int4Value(static_cast<Node *>(lsecond(func->args)), params, &digits) || digits < 0 || digits > 38) {
			return std::string("round(numeric, n) with n not a constant between 0 and 38 (the result's scale is n)");
		}
		return std::string();
	}
	if (func->funcid == F_ROUND_NUMERIC || func->funcid == F_ROUND_FLOAT8) {
		return std::string();
	}
	return std::nullopt;
}

Node *PrepareRewrittenFunction(FuncExpr *func) {
	if (IsSubstring(func->funcid)) {
		// PostgreSQL's substr(s, from, count) is the characters at positions [from, from + count)
		// that exist; DuckDB reads a start below 1 from the end. Constants here (the check).
		auto *copy = static_cast<FuncExpr *>(copyObjectImpl(func));
		int64 from = DatumGetInt32(castNode(Const, lsecond(copy->args))->constvalue);
		int64 start = std::max<int64>(from, 1);
		lsecond(copy->args) = Int4Const(start);
		if (list_length(copy->args) == 3) {
			int64 count = DatumGetInt32(castNode(Const, lthird(copy->args))->constvalue);
			lthird(copy->args) = Int4Const(std::max<int64>(from + count - start, 0));
		}
		return reinterpret_cast<Node *>(copy);
	}
	if (func->funcid == F_ROUND_NUMERIC_INT4 || func->funcid == F_ROUND_NUMERIC) {
		// PostgreSQL's result has scale n (0 without n); DuckDB's keeps the argument's scale when it is
		// below n. The cast gives it n (an overflow of 38 digits is DuckDB's error, never a wrong value).
		int digits =
		    func->funcid == F_ROUND_NUMERIC ? 0 : DatumGetInt32(castNode(Const, lsecond(func->args))->constvalue);
		return reinterpret_cast<Node *>(makeRelabelType(reinterpret_cast<Expr *>(func), NUMERICOID,
		                                                ((38 << 16) | digits) + VARHDRSZ, InvalidOid,
		                                                COERCE_EXPLICIT_CAST));
	}
	if (func->funcid == F_ROUND_FLOAT8) {
		return RoundHalfEven(func);
	}
	if ((func->funcid == F_UPPER_TEXT || func->funcid == F_LOWER_TEXT) && OidIsValid(func->inputcollid) &&
	    lc_ctype_is_c(func->inputcollid)) {
		// Under a C ctype PostgreSQL changes the case of ASCII letters only (upper('ñandú') is
		// 'ñANDú'); DuckDB's upper/lower map every Unicode letter.
		const char *lower = "abcdefghijklmnopqrstuvwxyz";
		const char *upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
		bool to_upper = func->funcid == F_UPPER_TEXT;
		List *args = list_make3(linitial(func->args), TextConst(to_upper ? lower : upper, TEXTOID),
		                        TextConst(to_upper ? upper : lower, TEXTOID));
		return reinterpret_cast<Node *>(
		    makeFuncExpr(F_TRANSLATE, TEXTOID, args, func->funccollid, func->inputcollid, COERCE_EXPLICIT_CALL));
	}
	return reinterpret_cast<Node *>(func);
}

bool IsBpcharLike(OpExpr *op) {
	set_opfuncid(op);
	return op->opfuncid == F_BPCHARLIKE || op->opfuncid == F_BPCHARNLIKE || op->opfuncid == F_BPCHARICLIKE ||
	       op->opfuncid == F_BPCHARICNLIKE;
}

Node *PrepareBpcharLike(OpExpr *op, int pad) {
	if (!IsBpcharLike(op)) {
		return nullptr;
	}
	// bpcharlike matches the padded value ('AIR' as char(5) is not LIKE '%R'). A value without
	// padding to restore is matched as it is.
	if (pad <= 0) {
		return reinterpret_cast<Node *>(op);
	}
	Expr *left = reinterpret_cast<Expr *>(makeFuncExpr(
	    F_RPAD_TEXT_INT4_TEXT, TEXTOID, list_make3(linitial(op->args), Int4Const(pad), TextConst(" ", TEXTOID)),
	    InvalidOid, DEFAULT_COLLATION_OID, COERCE_EXPLICIT_CALL));
	// The text operator of the same name, so that it prints without OPERATOR(pg_catalog.~~).
	Oid opno = OpernameGetOprid(list_make1(makeString(get_opname(op->opno))), TEXTOID, TEXTOID);
	return reinterpret_cast<Node *>(
	    make_opclause(opno, BOOLOID, false, left, static_cast<Expr *>(lsecond(op->args)), InvalidOid, op->inputcollid));
}

Node *PrepareBpcharConst(Node *node) {
	if (!node || !IsA(node, Const) || castNode(Const, node)->consttype != BPCHAROID ||
	    castNode(Const, node)->constisnull) {
		return node;
	}
	std::string value = TextDatumGetCString(castNode(Const, node)->constvalue);
	value.erase(value.find_last_not_of(' ') + 1);
	Const *c = TextConst(value.c_str(), BPCHAROID);
	c->constcollid = castNode(Const, node)->constcollid;
	c->location = -1;
	return reinterpret_cast<Node *>(c);
}

void PrepareBpcharRelations(Query *query) {
	ListCell *cell;
	foreach (cell, query->rtable) {
		auto *rte = castNode(RangeTblEntry, lfirst(cell));
		if (rte->rtekind != RTE_RELATION || rte->relkind == RELKIND_VIEW) {
			continue;
		}
		Relation rel = table_open(rte->relid, NoLock);
		TupleDesc desc = RelationGetDescr(rel);
		bool reads_bpchar = false;
		int member = -1;
		while (!reads_bpchar && (member = bms_next_member(rte->selectedCols, member)) >= 0) {
			AttrNumber attno = static_cast<AttrNumber>(member + FirstLowInvalidHeapAttributeNumber);
			reads_bpchar = attno > 0 && TupleDescAttr(desc, attno - 1)->atttypid == BPCHAROID;
		}
		if (!reads_bpchar) {
			table_close(rel, NoLock);
			continue;
		}
		// (SELECT a, rtrim(b, ' ') AS b, ... FROM schema.t) AS alias: the same columns at the same
		// positions, so the query's Vars read the subquery's instead of the table's.
		auto *inner = static_cast<RangeTblEntry *>(copyObjectImpl(rte));
		inner->alias = nullptr;
		inner->eref = makeAlias(RelationGetRelationName(rel), NIL);
		Query *sub = SelectFromOne(inner);
		List *outer_names = NIL;
		for (int i = 0; i < desc->natts; i++) {
			Form_pg_attribute att = TupleDescAttr(desc, i);
			std::string name = att->attisdropped ? "duckpipe_dropped_" + std::to_string(i + 1) : NameStr(att->attname);
			inner->eref->colnames =
			    lappend(inner->eref->colnames, makeString(pstrdup(att->attisdropped ? "" : name.c_str())));
			Expr *value;
			if (att->attisdropped) {
				value = reinterpret_cast<Expr *>(makeNullConst(INT4OID, -1, InvalidOid));
			} else {
				value = reinterpret_cast<Expr *>(
				    makeVar(1, static_cast<AttrNumber>(i + 1), att->atttypid, att->atttypmod, att->attcollation, 0));
				if (att->atttypid == BPCHAROID) {
					value = reinterpret_cast<Expr *>(makeFuncExpr(F_RTRIM_TEXT_TEXT, TEXTOID,
					                                              list_make2(value, TextConst(" ", TEXTOID)),
					                                              InvalidOid, att->attcollation, COERCE_EXPLICIT_CALL));
				}
			}
			sub->targetList = lappend(
			    sub->targetList, makeTargetEntry(value, static_cast<AttrNumber>(i + 1), pstrdup(name.c_str()), false));
			const char *outer = strVal(list_nth(rte->eref->colnames, i));
			outer_names = lappend(outer_names, makeString(pstrdup(outer[0] ? outer : name.c_str())));
		}
		table_close(rel, NoLock);
		RangeTblEntry *subquery = makeNode(RangeTblEntry);
		subquery->rtekind = RTE_SUBQUERY;
		subquery->subquery = sub;
		subquery->alias =
		    rte->alias ? static_cast<Alias *>(copyObjectImpl(rte->alias)) : makeAlias(rte->eref->aliasname, NIL);
		subquery->eref = makeAlias(rte->eref->aliasname, outer_names);
		subquery->inFromCl = rte->inFromCl;
		lfirst(cell) = subquery;
	}
}

std::vector<int> ResultPads(Query *query) {
	std::vector<int> pads;
	ListCell *cell;
	foreach (cell, query->targetList) {
		auto *tle = static_cast<TargetEntry *>(lfirst(cell));
		if (tle->resjunk) {
			continue;
		}
		int pad = exprType(reinterpret_cast<Node *>(tle->expr)) == BPCHAROID
		              ? BpcharPad(reinterpret_cast<Node *>(tle->expr))
		              : 0;
		pads.push_back(std::max(pad, 0));
	}
	return pads;
}

} // namespace duckpipe::ext
