// The functions, operators and aggregates whose DuckDB counterpart (same name, as pg_get_querydef
// prints it, or the rewrite of duck_exec_prepare.cpp / duck_exec_types.cpp) returns PostgreSQL's
// values: the allowlist part of the check of whole-query execution (duck_exec_check.cpp).
#include "extension/duck_exec_allow.hpp"
#include "extension/duck_exec_check.hpp"
#include "extension/duck_exec_types.hpp"

#include <cstring>
#include <set>
#include <string>

#include "extension/pg_includes.hpp"

extern "C" {
#include "catalog/pg_aggregate.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/pg_locale.h"
#include "utils/syscache.h"
}

namespace duckpipe::ext {

bool IsText(Oid type) {
	return type == TEXTOID || type == VARCHAROID || type == BPCHAROID || type == NAMEOID;
}

bool IsInteger(Oid type) {
	return type == INT2OID || type == INT4OID || type == INT8OID;
}

bool OrdersLikeC(Oid collation) {
	return !OidIsValid(collation) || lc_collate_is_c(collation);
}

int CharCastLength(FuncExpr *func) {
	if (func->funcid != F_BPCHAR_BPCHAR_INT4_BOOL || list_length(func->args) != 3) {
		return -1;
	}
	auto *typmod = static_cast<Node *>(lsecond(func->args));
	auto *is_explicit = static_cast<Node *>(lthird(func->args));
	if (!IsA(typmod, Const) || castNode(Const, typmod)->constisnull || !IsA(is_explicit, Const) ||
	    castNode(Const, is_explicit)->constisnull || !DatumGetBool(castNode(Const, is_explicit)->constvalue)) {
		return -1; // an assignment's cast fails on characters past n where an explicit one drops them
	}
	int32 length = DatumGetInt32(castNode(Const, typmod)->constvalue) - VARHDRSZ;
	return length >= 1 ? length : -1;
}

std::string CatalogName(Oid func) {
	HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(func));
	if (!HeapTupleIsValid(tuple)) {
		return "";
	}
	auto *proc = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple));
	std::string name = NameStr(proc->proname);
	if (proc->provolatile == PROVOLATILE_VOLATILE) {
		name = "(volatile) " + name;
	} else if (proc->pronamespace != PG_CATALOG_NAMESPACE) {
		name = "(not built in) " + name;
	}
	ReleaseSysCache(tuple);
	return name;
}

bool IsNonZeroConst(Node *node) {
	while (node && IsA(node, FuncExpr) && castNode(FuncExpr, node)->funcformat == COERCE_IMPLICIT_CAST &&
	       list_length(castNode(FuncExpr, node)->args) == 1) {
		node = static_cast<Node *>(linitial(castNode(FuncExpr, node)->args)); // 4 in ratio / 4
	}
	if (!node || !IsA(node, Const) || castNode(Const, node)->constisnull) {
		return false;
	}
	auto *c = castNode(Const, node);
	switch (c->consttype) {
	case INT2OID:
		return DatumGetInt16(c->constvalue) != 0;
	case INT4OID:
		return DatumGetInt32(c->constvalue) != 0;
	case INT8OID:
		return DatumGetInt64(c->constvalue) != 0;
	case FLOAT8OID:
		return DatumGetFloat8(c->constvalue) != 0;
	case NUMERICOID:
		return strpbrk(DatumGetCString(DirectFunctionCall1(numeric_out, c->constvalue)), "123456789") != nullptr;
	default:
		return false;
	}
}

namespace {

// A field of EXTRACT / date_part whose value is a whole number in both systems.
bool IntegerField(Node *node) {
	if (!node || !IsA(node, Const) || castNode(Const, node)->constisnull || !IsText(castNode(Const, node)->consttype)) {
		return false;
	}
	char *field = TextDatumGetCString(castNode(Const, node)->constvalue);
	static const std::set<std::string> kFields = {"year",   "month", "day", "quarter", "dow",
	                                              "isodow", "week",  "doy", "hour",    "minute"};
	return kFields.count(field) > 0;
}

// EXTRACT / date_part of such a field: a whole number, which any rounding leaves as it is.
bool IntegerValued(Node *node) {
	if (!node || !IsA(node, FuncExpr) || list_length(castNode(FuncExpr, node)->args) != 2) {
		return false;
	}
	std::string name = CatalogName(castNode(FuncExpr, node)->funcid);
	return (name == "extract" || name == "date_part") &&
	       IntegerField(static_cast<Node *>(linitial(castNode(FuncExpr, node)->args)));
}

} // namespace

std::string OperatorProblem(OpExpr *op, const ExactDivisions &divisions) {
	set_opfuncid(op);
	std::string fn = CatalogName(op->opfuncid);
	char *name = get_opname(op->opno);
	std::string opname = name ? name : "";
	Oid left = list_length(op->args) == 2 ? exprType(static_cast<Node *>(linitial(op->args))) : InvalidOid;
	Oid right = exprType(static_cast<Node *>(llast(op->args)));
	Node *right_node = static_cast<Node *>(llast(op->args));
	if (fn.empty() || fn[0] == '(') {
		return "operator " + opname + " calls " + fn + ", which DuckDB does not run";
	}
	static const std::set<std::string> kCompare = {"=", "<>", "<", ">", "<=", ">="};
	static const std::set<std::string> kArith = {"+", "-", "*"};
	if (kCompare.count(opname)) {
		if (IsText(right) && OidIsValid(op->inputcollid) && !get_collation_isdeterministic(op->inputcollid)) {
			return "a text comparison under a nondeterministic collation";
		}
		if (opname != "=" && opname != "<>" && IsText(right) && !OrdersLikeC(op->inputcollid)) {
			return "a text comparison under a non-C collation (DuckDB compares bytes)";
		}
		return "";
	}
	if (kArith.count(opname)) {
		if (opname == "-" && left != DATEOID && (left == TIMESTAMPOID || left == TIMESTAMPTZOID) &&
		    (right == TIMESTAMPOID || right == TIMESTAMPTZOID)) {
			return "timestamp - timestamp (DuckDB's interval is not justified like PostgreSQL's)";
		}
		return "";
	}
	if (opname == "/" || opname == "%") {
		if (IsInteger(left) && IsInteger(right) && opname == "/") {
			return "integer division (DuckDB's / on integers returns a fraction)";
		}
		if (op->opfuncid == F_NUMERIC_DIV) {
			if (divisions.allowed.count(reinterpret_cast<Node *>(op))) {
				return "";
			}
			if (divisions.under_limit.count(reinterpret_cast<Node *>(op))) {
				return std::string(
				    "numeric / in a query with LIMIT or OFFSET (DuckDB divides rows the LIMIT never "
				    "reaches in PostgreSQL, where a zero divisor would be an error PostgreSQL never raises)");
			}
			return std::string(
			    "numeric / other than as a whole select-list column" + divisions.missing +
			    " (DuckDB computes PostgreSQL's digits as text, which cannot be sorted, grouped, compared "
			    "or computed with)");
		}
		if (left == NUMERICOID || right == NUMERICOID) {
			return std::string("numeric " + opname + " (the result scale differs in DuckDB)");
		}
		if (!IsNonZeroConst(right_node)) {
			return "division by a value that may be zero (an error in PostgreSQL, NULL in DuckDB)";
		}
		return "";
	}
	if (opname == "||") {
		return fn == "textcat" ? "" : std::string("|| of a non-text value (its text form may differ)");
	}
	if (opname == "~~" || opname == "!~~" || opname == "~~*" || opname == "!~~*") {
		// PostgreSQL's LIKE escapes with a backslash by default, DuckDB's has no escape character.
		if (!IsA(right_node, Const) || castNode(Const, right_node)->constisnull ||
		    strchr(TextDatumGetCString(castNode(Const, right_node)->constvalue), '\\')) {
			return "LIKE with a pattern that is not a constant without backslashes";
		}
		if (IsBpcharLike(op) && BpcharPad(static_cast<Node *>(linitial(op->args))) == kPadUnknown) {
			return "LIKE on a char value whose padding is not known (PostgreSQL matches the padded value)";
		}
		return "";
	}
	return "operator " + opname + " is not on the list DuckDB runs the same way";
}

std::string FunctionProblem(FuncExpr *func, ParamListInfoData *params) {
	std::string name = CatalogName(func->funcid);
	if (func->funcretset) {
		return std::string("set-returning function " + name);
	}
	if (func->funcformat == COERCE_EXPLICIT_CAST || func->funcformat == COERCE_IMPLICIT_CAST) {
		Oid from = list_length(func->args) > 0 ? exprType(static_cast<Node *>(linitial(func->args))) : InvalidOid;
		if (func->funcresulttype == NUMERICOID && exprTypmod(reinterpret_cast<Node *>(func)) < 0 &&
		    func->funcformat == COERCE_EXPLICIT_CAST && !IsInteger(from)) {
			return "a cast to numeric without precision and scale (DuckDB's DECIMAL(18,3))";
		}
		// numeric: DuckDB's DECIMAL casts round half away from zero and fail out of range, as
		// numeric_int4 does (test/regress/sql/65_duckdb_types.sql). float8: DuckDB rounds half to
		// even as rint() does, but 2147483647.5 becomes -2147483648 where PostgreSQL fails.
		if (IsInteger(func->funcresulttype) && from == FLOAT8OID &&
		    !IntegerValued(static_cast<Node *>(linitial(func->args)))) {
			return "a cast to an integer from a float8 fraction (DuckDB wraps around at the range's edge)";
		}
		if (CharCastLength(func) >= 0) {
			return "";
		}
		if (name == "varchar" && list_length(func->args) > 1) {
			return "a cast to varchar(n) (DuckDB ignores the length)";
		}
		static const std::set<std::string> kCasts = {"int2",    "int4", "int8",      "float8",      "numeric", "text",
		                                             "varchar", "date", "timestamp", "timestamptz", "bool"};
		return kCasts.count(name) ? "" : std::string("cast function " + name);
	}
	if (func->funcid == F_TIMEZONE_TEXT_TIMESTAMPTZ) {
		// At UTC both give the UTC wall clock (infinities kept); another zone's offsets come from
		// PostgreSQL's tz data in one and ICU's in the other, which need not agree for every date.
		auto *zone = static_cast<Node *>(linitial(func->args));
		std::string name = zone && IsA(zone, Const) && !castNode(Const, zone)->constisnull
		                       ? TextDatumGetCString(castNode(Const, zone)->constvalue)
		                       : "";
		return name == "UTC" || name == "Etc/UTC"
		           ? ""
		           : std::string("AT TIME ZONE other than a constant 'UTC' (DuckDB's zone rules are ICU's)");
	}
	if (auto rewritten = CheckRewrittenFunction(func, params)) {
		return *rewritten;
	}
	// Checked one by one against DuckDB (btrim, every and concat's text forms are not the same).
	static const std::set<std::string> kSame = {"lower", "upper", "length", "char_length", "character_length",
	                                            "abs",   "ltrim", "rtrim",  "replace",     "md5",
	                                            "strpos"};
	if (kSame.count(name)) {
		return "";
	}
	// The bytes of the UTF-8 text (bit_length(x) >> 3 in DuckDB, whose octet_length takes a BLOB);
	// a char(n) value's bytes include its padding, restored where its width is known.
	if (func->funcid == F_OCTET_LENGTH_TEXT || (func->funcid == F_OCTET_LENGTH_BPCHAR &&
	                                            BpcharPad(static_cast<Node *>(linitial(func->args))) != kPadUnknown)) {
		return "";
	}
	// A date's and a timestamp's infinities are DuckDB's too (isfinite of interval is not: no lake
	// column holds one natively).
	if (func->funcid == F_ISFINITE_DATE || func->funcid == F_ISFINITE_TIMESTAMP ||
	    func->funcid == F_ISFINITE_TIMESTAMPTZ) {
		return "";
	}
	if (name == "date_trunc" || name == "extract" || name == "date_part") {
		if (name == "date_trunc") {
			return ""; // field names are DuckDB's too; the time zone is the session's
		}
		return IntegerField(static_cast<Node *>(linitial(func->args)))
		           ? ""
		           : std::string(
		                 name +
		                 " of a field other than year, month, day, quarter, dow, isodow, week, doy, hour, minute");
	}
	return std::string("function " + name + " is not on the list DuckDB runs the same way");
}

std::string SortCollationProblem(List *clauses, List *tlist) {
	ListCell *cell;
	foreach (cell, clauses) {
		auto *clause = static_cast<SortGroupClause *>(lfirst(cell));
		TargetEntry *tle = get_sortgroupclause_tle(clause, tlist);
		Node *expr = reinterpret_cast<Node *>(tle->expr);
		if (IsText(exprType(expr)) && !OrdersLikeC(exprCollation(expr))) {
			return "ORDER BY text under a non-C collation (DuckDB orders by bytes)";
		}
	}
	return "";
}

std::string AggregateProblem(Aggref *agg, const ExactDivisions &divisions) {
	std::string name = CatalogName(agg->aggfnoid);
	if (agg->aggkind != AGGKIND_NORMAL || agg->aggvariadic) {
		return std::string("ordered-set or variadic aggregate " + name);
	}
	Oid input = list_length(agg->aggargtypes) > 0 ? linitial_oid(agg->aggargtypes) : InvalidOid;
	if (name == "avg" && input != FLOAT8OID && !IsExactDivision(reinterpret_cast<Node *>(agg))) {
		return std::string("avg of " + std::string(format_type_be(input)));
	}
	if (name == "avg" && input != FLOAT8OID) {
		if (divisions.allowed.count(reinterpret_cast<Node *>(agg))) {
			return ""; // sum and count, divided by duckpipe.numeric_div
		}
		return std::string("avg of an integer or numeric other than as a whole select-list column" + divisions.missing +
		                   " (DuckDB computes PostgreSQL's digits as text, which cannot be sorted, grouped, "
		                   "compared or computed with)");
	}
	if ((name == "min" || name == "max") && IsText(input) && !OrdersLikeC(agg->inputcollid)) {
		return name + " of text under a non-C collation";
	}
	static const std::set<std::string> kSpread = {"stddev",   "stddev_samp", "stddev_pop",
	                                              "variance", "var_samp",    "var_pop"};
	if (kSpread.count(name)) {
		return std::string(input == FLOAT8OID
		                       ? name + " of float8 (PostgreSQL's algorithm and DuckDB's give different digits)"
		                       : name +
		                             " of an integer or numeric (PostgreSQL computes numeric digits, DuckDB a double)");
	}
	// every is bool_and under another name (the same transition function): written as bool_and.
	// bit_and/bit_or/bit_xor of integers keep the input's type in both (of bit strings: not a lake type).
	static const std::set<std::string> kAggregates = {"count",   "sum",        "min",   "max",     "avg",    "bool_and",
	                                                  "bool_or", "string_agg", "every", "bit_and", "bit_or", "bit_xor"};
	if (!kAggregates.count(name)) {
		return std::string("aggregate " + name + " is not on the list DuckDB runs the same way");
	}
	std::string order = SortCollationProblem(agg->aggorder, agg->args);
	return order.empty() ? SortCollationProblem(agg->aggdistinct, agg->args) : order;
}

std::string WindowFunctionProblem(WindowFunc *win, const ExactDivisions &divisions) {
	std::string name = CatalogName(win->winfnoid);
	// cume_dist and percent_rank divide the same two row counts as doubles in both systems (and give
	// 0 for a partition of one row in both).
	static const std::set<std::string> kWindow = {
	    "row_number", "rank", "dense_rank", "ntile", "lag",      "lead",    "first_value", "last_value",
	    "count",      "sum",  "min",        "max",   "bool_and", "bool_or", "cume_dist",   "percent_rank"};
	Oid input = list_length(win->args) > 0 ? exprType(static_cast<Node *>(linitial(win->args))) : InvalidOid;
	if ((name == "min" || name == "max") && IsText(input) && !OrdersLikeC(win->inputcollid)) {
		return name + " of text under a non-C collation";
	}
	if (name == "avg" && input == FLOAT8OID) {
		return "";
	}
	if (name == "avg" && IsExactDivision(reinterpret_cast<Node *>(win))) {
		// sum and count over the same window, divided by duckpipe.numeric_div
		return divisions.allowed.count(reinterpret_cast<Node *>(win))
		           ? ""
		           : "window avg of an integer or numeric other than as a whole select-list column" +
		                 divisions.missing + " (DuckDB computes PostgreSQL's digits as text)";
	}
	return kWindow.count(name) ? "" : std::string("window function " + name + " is not on the list");
}

} // namespace duckpipe::ext
