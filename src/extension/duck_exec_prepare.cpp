// The query tree DuckDB SQL is written from (duck_exec_check.hpp): a copy with parameters bound
// and numerics given the precision and scale PostgreSQL's result would have.
#include "extension/duck_exec_allow.hpp"
#include "extension/duck_exec_check.hpp"
#include "extension/duck_exec_compared.hpp"
#include "extension/duck_exec_from.hpp"
#include "extension/duck_exec_types.hpp"

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
#include "nodes/params.h"
#include "parser/parse_agg.h"
#include "parser/parse_oper.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
}

namespace duckpipe::ext {

namespace {

Node *(*AsMutator(Node *(*fn)(Node *, void *)))() {
	return reinterpret_cast<Node *(*)()>(reinterpret_cast<void (*)()>(fn));
}

bool IsInteger(Oid type) {
	return type == INT2OID || type == INT4OID || type == INT8OID;
}

// Numeric constants carry their literal's precision and scale into DuckDB; parameters become
// constants.
struct PrepareContext {
	ParamListInfo params;
};

Node *Prepare(Node *node, void *context);

// GROUP BY DISTINCT, which DuckDB has not, as the grouping sets PostgreSQL's planner keeps of it
// (the expansion without the sets that repeat another as a set of columns).
void PrepareGroupDistinct(Query *query) {
	if (!query->groupDistinct) {
		return;
	}
	query->groupDistinct = false;
	if (query->groupingSets == NIL) {
		return; // the parser reduced it to a plain GROUP BY, where DISTINCT changes nothing
	}
	List *sets = NIL;
	ListCell *cell;
	foreach (cell, expand_grouping_sets(query->groupingSets, true, -1)) {
		auto *set = static_cast<List *>(lfirst(cell));
		sets = lappend(sets, makeGroupingSet(set == NIL ? GROUPING_SET_EMPTY : GROUPING_SET_SIMPLE, set, -1));
	}
	query->groupingSets = list_make1(makeGroupingSet(GROUPING_SET_SETS, sets, -1));
}

// An explicit cast to char(n) as rtrim(left(x, n), ' '): its first n characters without the padding,
// as DuckDB holds char values (duck_exec_types.hpp).
Node *PrepareCharCast(FuncExpr *func, int length, void *context) {
	auto *arg = static_cast<Node *>(linitial(func->args));
	if (IsA(arg, RelabelType)) {
		arg = reinterpret_cast<Node *>(castNode(RelabelType, arg)->arg); // text read as char
	}
	arg = Prepare(arg, context);
	auto *count = makeConst(INT4OID, -1, InvalidOid, 4, Int32GetDatum(length), false, true);
	auto *head =
	    makeFuncExpr(F_LEFT, TEXTOID, list_make2(arg, count), InvalidOid, func->inputcollid, COERCE_EXPLICIT_CALL);
	auto *space = makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1, CStringGetTextDatum(" "), false, false);
	auto *trimmed = makeFuncExpr(F_RTRIM_TEXT_TEXT, TEXTOID, list_make2(head, space), InvalidOid, func->inputcollid,
	                             COERCE_EXPLICIT_CALL);
	// Still a char value to the operators around it (bpchar's = is written as such, not qualified).
	return reinterpret_cast<Node *>(
	    makeRelabelType(reinterpret_cast<Expr *>(trimmed), BPCHAROID, -1, func->funccollid, COERCE_IMPLICIT_CAST));
}

// EXTRACT / date_part of year from a date, timestamp or timestamptz.
bool IsYearOfDatetime(FuncExpr *func) {
	if (list_length(func->args) != 2 || !IsA(linitial(func->args), Const) ||
	    castNode(Const, linitial(func->args))->constisnull) {
		return false;
	}
	Oid type = exprType(static_cast<Node *>(lsecond(func->args)));
	char *name = get_func_name(func->funcid);
	return (type == DATEOID || type == TIMESTAMPOID || type == TIMESTAMPTZOID) && name &&
	       (strcmp(name, "extract") == 0 || strcmp(name, "date_part") == 0) &&
	       strcmp(TextDatumGetCString(castNode(Const, linitial(func->args))->constvalue), "year") == 0;
}

// The year of an infinite date or timestamp is +-Infinity in PostgreSQL, NULL in DuckDB: there,
// CASE WHEN NOT isfinite(x) THEN <an error> ELSE the year END (a NULL x reaches the ELSE: NULL).
// The error is a text DuckDB cannot read as a BIGINT, the type of its year, so the CASE keeps it.
Node *PrepareYear(FuncExpr *year) {
	auto *value = static_cast<Node *>(copyObjectImpl(lsecond(year->args)));
	Oid type = exprType(value);
	Oid isfinite = type == DATEOID        ? F_ISFINITE_DATE
	               : type == TIMESTAMPOID ? F_ISFINITE_TIMESTAMP
	                                      : F_ISFINITE_TIMESTAMPTZ;
	auto *finite = makeFuncExpr(isfinite, BOOLOID, list_make1(value), InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	auto *message = makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1,
	                          CStringGetTextDatum("duckpipe: the year of an infinite date or timestamp is "
	                                              "PostgreSQL's +-Infinity, which DuckDB has not"),
	                          false, false);
	auto *error = makeNode(CoerceViaIO);
	error->arg = reinterpret_cast<Expr *>(message);
	error->resulttype = INT8OID;
	error->coerceformat = COERCE_EXPLICIT_CAST;
	error->location = -1;
	auto *when = makeNode(CaseWhen);
	when->expr = makeBoolExpr(NOT_EXPR, list_make1(finite), -1);
	when->result = reinterpret_cast<Expr *>(error);
	when->location = -1;
	auto *result = makeNode(CaseExpr);
	result->casetype = year->funcresulttype;
	result->args = list_make1(when);
	result->defresult = reinterpret_cast<Expr *>(year);
	result->location = -1;
	return reinterpret_cast<Node *>(result);
}

// text to uuid as CASE WHEN NOT (x ~ '<the forms uuid_in reads>') THEN <an error> ELSE x::uuid END:
// 32 hex digits, a hyphen allowed after each group of four but the last, in braces or not (a NULL x
// reaches the ELSE: NULL). md5()'s text is always of that form.
Node *PrepareUuid(CoerceViaIO *cast) {
	auto *arg = reinterpret_cast<Node *>(cast->arg);
	if (IsA(arg, FuncExpr) && castNode(FuncExpr, arg)->funcid == F_MD5_TEXT) {
		return reinterpret_cast<Node *>(cast);
	}
	const char *hex = "[0-9a-fA-F]{4}(-?[0-9a-fA-F]{4}){7}";
	std::string pattern = std::string("^(") + hex + "|\\{" + hex + "\\})$";
	auto *regex = makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1, CStringGetTextDatum(pattern.c_str()), false, false);
	Oid matches = LookupOperName(nullptr, list_make2(makeString(pstrdup("pg_catalog")), makeString(pstrdup("~"))),
	                             TEXTOID, TEXTOID, false, -1);
	Expr *text = exprType(arg) == TEXTOID
	                 ? reinterpret_cast<Expr *>(arg)
	                 : reinterpret_cast<Expr *>(makeRelabelType(reinterpret_cast<Expr *>(arg), TEXTOID, -1,
	                                                            DEFAULT_COLLATION_OID, COERCE_IMPLICIT_CAST));
	Expr *match = make_opclause(matches, BOOLOID, false, text, reinterpret_cast<Expr *>(regex), InvalidOid,
	                            DEFAULT_COLLATION_OID);
	auto *message = makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1,
	                          CStringGetTextDatum("duckpipe: invalid input syntax for type uuid"), false, false);
	auto *error = static_cast<CoerceViaIO *>(copyObjectImpl(cast));
	error->arg = reinterpret_cast<Expr *>(message);
	auto *when = makeNode(CaseWhen);
	when->expr = makeBoolExpr(NOT_EXPR, list_make1(match), -1);
	when->result = reinterpret_cast<Expr *>(error);
	when->location = -1;
	auto *result = makeNode(CaseExpr);
	result->casetype = UUIDOID;
	result->args = list_make1(when);
	result->defresult = reinterpret_cast<Expr *>(cast);
	result->location = -1;
	return reinterpret_cast<Node *>(result);
}

// octet_length(text) as (bit_length(x) >> 3)::integer: DuckDB's octet_length takes a BLOB only,
// its bit_length of a string counts the UTF-8 bytes as PostgreSQL's does; of char(n), of
// rpad(x, n, ' ').
Node *PrepareOctetLength(FuncExpr *func, void *context) {
	int pad = func->funcid == F_OCTET_LENGTH_BPCHAR ? BpcharPad(static_cast<Node *>(linitial(func->args))) : 0;
	Node *arg = Prepare(static_cast<Node *>(linitial(func->args)), context);
	if (pad > 0) { // a char(n) value's bytes are those of its padded text
		auto *width = makeConst(INT4OID, -1, InvalidOid, 4, Int32GetDatum(pad), false, true);
		auto *space = makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1, CStringGetTextDatum(" "), false, false);
		arg = reinterpret_cast<Node *>(makeFuncExpr(F_RPAD_TEXT_INT4_TEXT, TEXTOID, list_make3(arg, width, space),
		                                            InvalidOid, func->inputcollid, COERCE_EXPLICIT_CALL));
	}
	auto *bits = reinterpret_cast<Expr *>(
	    makeFuncExpr(F_BIT_LENGTH_TEXT, INT4OID, list_make1(arg), InvalidOid, func->inputcollid, COERCE_EXPLICIT_CALL));
	Oid shift = LookupOperName(nullptr, list_make2(makeString(pstrdup("pg_catalog")), makeString(pstrdup(">>"))),
	                           INT4OID, INT4OID, false, -1);
	auto *three = reinterpret_cast<Expr *>(makeConst(INT4OID, -1, InvalidOid, 4, Int32GetDatum(3), false, true));
	Expr *bytes = make_opclause(shift, INT4OID, false, bits, three, InvalidOid, InvalidOid);
	return reinterpret_cast<Node *>(makeRelabelType(bytes, INT4OID, -1, InvalidOid, COERCE_EXPLICIT_CAST));
}

Node *PrepareConst(Const *c) {
	if (c->consttype != NUMERICOID || c->constisnull) {
		return reinterpret_cast<Node *>(c);
	}
	char *text = DatumGetCString(DirectFunctionCall1(numeric_out, c->constvalue));
	int digits = 0;
	int scale = -1;
	for (const char *p = text; *p; p++) {
		if (*p == '.') {
			scale = 0;
		} else if (*p >= '0' && *p <= '9') {
			digits++;
			scale += scale >= 0 ? 1 : 0;
		}
	}
	scale = scale < 0 ? 0 : scale;
	int precision = digits < 1 ? 1 : digits;
	if (precision > 38) {
		return reinterpret_cast<Node *>(c); // checked in PrepareForDuckDB: the SQL would lose the value
	}
	auto *copy = static_cast<Const *>(copyObjectImpl(c));
	copy->consttypmod = ((precision << 16) | scale) + VARHDRSZ;
	return reinterpret_cast<Node *>(copy);
}

Node *Prepare(Node *node, void *context) {
	auto *ctx = static_cast<PrepareContext *>(context);
	if (!node) {
		return nullptr;
	}
	if (IsA(node, Query)) {
		Query *query = query_tree_mutator(castNode(Query, node), AsMutator(Prepare), context, 0);
		PrepareBpcharRelations(query);
		PrepareFunctionScans(query);
		PrepareValuesLists(query);
		PrepareGroupDistinct(query);
		return reinterpret_cast<Node *>(query);
	}
	if (IsA(node, Param) && castNode(Param, node)->paramkind == PARAM_EXTERN) {
		auto *p = castNode(Param, node);
		ParamExternData workspace;
		ParamExternData *value = ctx->params->paramFetch
		                             ? ctx->params->paramFetch(ctx->params, p->paramid, true, &workspace)
		                             : &ctx->params->params[p->paramid - 1];
		int16 typlen;
		bool byval;
		get_typlenbyval(p->paramtype, &typlen, &byval);
		Datum value_datum = value->isnull ? static_cast<Datum>(0) : datumCopy(value->value, byval, typlen);
		Const *c = makeConst(p->paramtype, p->paramtypmod, p->paramcollid, typlen, value_datum, value->isnull, byval);
		return PrepareBpcharConst(PrepareConst(c));
	}
	if (IsA(node, Const)) {
		return PrepareBpcharConst(PrepareConst(castNode(Const, node)));
	}
	if (IsA(node, OpExpr) && IsBpcharLike(castNode(OpExpr, node))) {
		int pad = BpcharPad(static_cast<Node *>(linitial(castNode(OpExpr, node)->args))); // before trimming
		auto *op = castNode(OpExpr, expression_tree_mutator(node, AsMutator(Prepare), context));
		return PrepareBpcharLike(op, pad);
	}
	if (IsA(node, Aggref) && castNode(Aggref, node)->aggfnoid == F_EVERY) {
		// PostgreSQL's every is bool_and (the same transition function); DuckDB knows the latter.
		auto *agg = castNode(Aggref, expression_tree_mutator(node, AsMutator(Prepare), context));
		agg->aggfnoid = F_BOOL_AND;
		return reinterpret_cast<Node *>(agg);
	}
	if (IsA(node, CoerceViaIO) && castNode(CoerceViaIO, node)->resulttype == UUIDOID) {
		return PrepareUuid(castNode(CoerceViaIO, expression_tree_mutator(node, AsMutator(Prepare), context)));
	}
	if (IsA(node, CollateExpr)) {
		// Only C or POSIX get here (the check): DuckDB's own order, and it knows no "C" collation.
		return Prepare(reinterpret_cast<Node *>(castNode(CollateExpr, node)->arg), context);
	}
	if (IsA(node, FuncExpr)) {
		// An integer cast to numeric (pg_get_querydef shows implicit ones too) keeps scale 0 in DuckDB
		// only with a precision: numeric(19,0) and narrower instead of DECIMAL(18,3).
		auto *func = castNode(FuncExpr, node);
		if (func->funcid == F_OCTET_LENGTH_TEXT || func->funcid == F_OCTET_LENGTH_BPCHAR) {
			return PrepareOctetLength(func, context);
		}
		if (int length = CharCastLength(func); length >= 0) {
			return PrepareCharCast(func, length, context);
		}
		if (IsYearOfDatetime(func)) {
			return PrepareYear(castNode(FuncExpr, expression_tree_mutator(node, AsMutator(Prepare), context)));
		}
		Oid from = list_length(func->args) == 1 ? exprType(static_cast<Node *>(linitial(func->args))) : InvalidOid;
		if (func->funcresulttype == NUMERICOID && IsInteger(from) &&
		    (func->funcformat == COERCE_EXPLICIT_CAST || func->funcformat == COERCE_IMPLICIT_CAST)) {
			int precision = from == INT2OID ? 5 : from == INT4OID ? 10 : 19;
			auto *arg =
			    static_cast<Expr *>(static_cast<void *>(Prepare(static_cast<Node *>(linitial(func->args)), context)));
			return reinterpret_cast<Node *>(
			    makeRelabelType(arg, NUMERICOID, (precision << 16) + VARHDRSZ, InvalidOid, COERCE_EXPLICIT_CAST));
		}
		return PrepareRewrittenFunction(castNode(FuncExpr, expression_tree_mutator(node, AsMutator(Prepare), context)));
	}
	return expression_tree_mutator(node, AsMutator(Prepare), context);
}

// The select list's avg and numeric / (the check allowed them only as whole top-level columns) as
// calls of duckpipe.numeric_div, the DuckDB macro of the same name computing PostgreSQL's digits.
void WriteExactDivisions(Query *query) {
	Oid divide = InvalidOid;
	ListCell *cell;
	foreach (cell, query->targetList) {
		auto *tle = static_cast<TargetEntry *>(lfirst(cell));
		Node *expr = reinterpret_cast<Node *>(tle->expr);
		if (tle->resjunk || !IsExactDivision(expr)) {
			continue;
		}
		divide = OidIsValid(divide) ? divide : ExactDivisionFunction();
		if (IsA(expr, Aggref) || IsA(expr, WindowFunc)) {
			// A window avg divides its frame's sum and count as the plain avg does.
			tle->expr = reinterpret_cast<Expr *>(SumAndCount(expr, divide));
		} else {
			tle->expr = reinterpret_cast<Expr *>(makeFuncExpr(divide, NUMERICOID, castNode(OpExpr, expr)->args,
			                                                  InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL));
		}
	}
}

} // namespace

Query *PrepareForDuckDB(Query *query, ParamListInfoData *params) {
	PrepareContext ctx{params};
	Query *prepared = castNode(Query, Prepare(static_cast<Node *>(copyObjectImpl(query)), &ctx));
	WriteExactDivisions(prepared);
	Oid divide = ExactDivisionFunction();
	if (OidIsValid(divide)) {
		ReplaceComparedAverages(reinterpret_cast<Node *>(prepared), CompareAverage, &divide);
	}
	return prepared;
}

} // namespace duckpipe::ext
