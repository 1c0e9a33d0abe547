// Which SELECTs DuckDB may run whole with PostgreSQL's semantics. An allowlist, not a denylist:
// every function, operator, aggregate and type a query uses must be one whose DuckDB counterpart
// (same name, as pg_get_querydef prints it) returns the same values; anything else keeps the query
// on the row path. docs/lake-relation.md lists what is in and what falls back, and why.
#include "extension/duck_exec_check.hpp"
#include "extension/duck_exec_frames.hpp"
#include "extension/duck_exec_types.hpp"
#include "extension/time_travel.hpp"

#include <cstring>
#include <set>
#include <string>

#include "extension/lake_am.hpp"
#include "extension/pg_includes.hpp"

extern "C" {
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/params.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/pg_locale.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

namespace duckpipe::ext {

namespace {

// The walker API takes untyped function pointers (through void (*)(void), which any
// function pointer converts to without a warning).
bool (*AsWalker(bool (*fn)(Node *, void *)))() {
	return reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(fn));
}

struct CheckContext {
	ParamListInfo params;
	DuckExecVerdict verdict;
	// The avg and numeric / that DuckDB computes exactly (duckpipe.numeric_div, whose result is
	// text): each the whole of a top-level select-list column that nothing sorts, groups or compares.
	std::set<const Node *> exact_divisions;
	// Numeric / at such a place in a query with LIMIT or OFFSET, by a divisor that may be zero.
	std::set<const Node *> divisions_under_limit;
	std::string no_exact_division; // why there are none at all (duckpipe.numeric_div is missing)
};

bool Fail(CheckContext &ctx, std::string reason) {
	if (ctx.verdict.reason.empty()) {
		ctx.verdict.reason = std::move(reason);
	}
	return true; // stops the walk
}

// Types whose values, operators and text forms are the same in DuckDB (a lake column of the type
// is stored natively, see pg_type_mapping.cpp), or held so that they are (char(n) without its
// padding, duck_exec_types.hpp). No float4 (DuckDB widens its sums to DOUBLE), no interval columns
// (stored as text): those queries fall back.
bool AllowedType(Oid type) {
	switch (type) {
	case BOOLOID:
	case INT2OID:
	case INT4OID:
	case INT8OID:
	case FLOAT8OID:
	case NUMERICOID:
	case TEXTOID:
	case VARCHAROID:
	case BPCHAROID:
	case DATEOID:
	case TIMESTAMPOID:
	case TIMESTAMPTZOID:
	case UUIDOID:
	case INTERVALOID: // constants only: lake columns of the type are text and fail the column check
		return true;
	default:
		return false;
	}
}

// numeric(p,s) that DuckDB's DECIMAL holds (as pg_type_mapping.cpp maps it): 1 <= p <= 38, 0 <= s <= p.
bool DecimalTypmod(int32 typmod) {
	if (typmod < VARHDRSZ) {
		return false;
	}
	int precision = ((typmod - VARHDRSZ) >> 16) & 0xffff;
	int scale = (typmod - VARHDRSZ) & 0x7ff;
	return precision >= 1 && precision <= 38 && scale <= precision; // bit 0x400 set: a negative scale
}

bool IsText(Oid type) {
	return type == TEXTOID || type == VARCHAROID || type == BPCHAROID || type == NAMEOID;
}

bool IsInteger(Oid type) {
	return type == INT2OID || type == INT4OID || type == INT8OID;
}

// Sorting or comparing text orders it by the collation: DuckDB orders by bytes (C), so only C and
// POSIX collations (or a C default) agree.
bool OrdersLikeC(Oid collation) {
	return !OidIsValid(collation) || lc_collate_is_c(collation);
}

// The function's name when it lives in pg_catalog, else "".
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

// A field of EXTRACT / date_part whose value is a whole number in both systems.
bool IntegerField(Node *node) {
	if (!node || !IsA(node, Const) || castNode(Const, node)->constisnull || !IsText(castNode(Const, node)->consttype)) {
		return false;
	}
	char *field = TextDatumGetCString(castNode(Const, node)->constvalue);
	static const std::set<std::string> kFields = {"year", "month", "day", "quarter", "dow", "doy", "hour", "minute"};
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

bool CheckOperator(OpExpr *op, CheckContext &ctx) {
	set_opfuncid(op);
	std::string fn = CatalogName(op->opfuncid);
	char *name = get_opname(op->opno);
	std::string opname = name ? name : "";
	Oid left = list_length(op->args) == 2 ? exprType(static_cast<Node *>(linitial(op->args))) : InvalidOid;
	Oid right = exprType(static_cast<Node *>(llast(op->args)));
	Node *right_node = static_cast<Node *>(llast(op->args));
	if (fn.empty() || fn[0] == '(') {
		return Fail(ctx, "operator " + opname + " calls " + fn + ", which DuckDB does not run");
	}
	static const std::set<std::string> kCompare = {"=", "<>", "<", ">", "<=", ">="};
	static const std::set<std::string> kArith = {"+", "-", "*"};
	if (kCompare.count(opname)) {
		if (IsText(right) && OidIsValid(op->inputcollid) && !get_collation_isdeterministic(op->inputcollid)) {
			return Fail(ctx, "a text comparison under a nondeterministic collation");
		}
		if (opname != "=" && opname != "<>" && IsText(right) && !OrdersLikeC(op->inputcollid)) {
			return Fail(ctx, "a text comparison under a non-C collation (DuckDB compares bytes)");
		}
		return false;
	}
	if (kArith.count(opname)) {
		if (opname == "-" && left != DATEOID && (left == TIMESTAMPOID || left == TIMESTAMPTZOID) &&
		    (right == TIMESTAMPOID || right == TIMESTAMPTZOID)) {
			return Fail(ctx, "timestamp - timestamp (DuckDB's interval is not justified like PostgreSQL's)");
		}
		return false;
	}
	if (opname == "/" || opname == "%") {
		if (IsInteger(left) && IsInteger(right) && opname == "/") {
			return Fail(ctx, "integer division (DuckDB's / on integers returns a fraction)");
		}
		if (op->opfuncid == F_NUMERIC_DIV) {
			if (ctx.exact_divisions.count(reinterpret_cast<Node *>(op))) {
				return false;
			}
			if (ctx.divisions_under_limit.count(reinterpret_cast<Node *>(op))) {
				return Fail(ctx,
				            "numeric / in a query with LIMIT or OFFSET (DuckDB divides rows the LIMIT never "
				            "reaches in PostgreSQL, where a zero divisor would be an error PostgreSQL never raises)");
			}
			return Fail(ctx,
			            "numeric / other than as a whole select-list column" + ctx.no_exact_division +
			                " (DuckDB computes PostgreSQL's digits as text, which cannot be sorted, grouped, compared "
			                "or computed with)");
		}
		if (left == NUMERICOID || right == NUMERICOID) {
			return Fail(ctx, "numeric " + opname + " (the result scale differs in DuckDB)");
		}
		if (!IsNonZeroConst(right_node)) {
			return Fail(ctx, "division by a value that may be zero (an error in PostgreSQL, NULL in DuckDB)");
		}
		return false;
	}
	if (opname == "||") {
		return fn == "textcat" ? false : Fail(ctx, "|| of a non-text value (its text form may differ)");
	}
	if (opname == "~~" || opname == "!~~" || opname == "~~*" || opname == "!~~*") {
		// PostgreSQL's LIKE escapes with a backslash by default, DuckDB's has no escape character.
		if (!IsA(right_node, Const) || castNode(Const, right_node)->constisnull ||
		    strchr(TextDatumGetCString(castNode(Const, right_node)->constvalue), '\\')) {
			return Fail(ctx, "LIKE with a pattern that is not a constant without backslashes");
		}
		if (IsBpcharLike(op) && BpcharPad(static_cast<Node *>(linitial(op->args))) == kPadUnknown) {
			return Fail(ctx, "LIKE on a char value whose padding is not known (PostgreSQL matches the padded value)");
		}
		return false;
	}
	return Fail(ctx, "operator " + opname + " is not on the list DuckDB runs the same way");
}

bool CheckFunction(FuncExpr *func, CheckContext &ctx) {
	std::string name = CatalogName(func->funcid);
	if (func->funcretset) {
		return Fail(ctx, "set-returning function " + name);
	}
	if (func->funcformat == COERCE_EXPLICIT_CAST || func->funcformat == COERCE_IMPLICIT_CAST) {
		Oid from = list_length(func->args) > 0 ? exprType(static_cast<Node *>(linitial(func->args))) : InvalidOid;
		if (func->funcresulttype == NUMERICOID && exprTypmod(reinterpret_cast<Node *>(func)) < 0 &&
		    func->funcformat == COERCE_EXPLICIT_CAST && !IsInteger(from)) {
			return Fail(ctx, "a cast to numeric without precision and scale (DuckDB's DECIMAL(18,3))");
		}
		if (IsInteger(func->funcresulttype) && (from == FLOAT8OID || from == NUMERICOID) &&
		    !IntegerValued(static_cast<Node *>(linitial(func->args)))) {
			return Fail(ctx, "a cast to an integer from a fraction (rounding differs)");
		}
		if (name == "varchar" && list_length(func->args) > 1) {
			return Fail(ctx, "a cast to varchar(n) (DuckDB ignores the length)");
		}
		static const std::set<std::string> kCasts = {"int2",    "int4", "int8",      "float8",      "numeric", "text",
		                                             "varchar", "date", "timestamp", "timestamptz", "bool"};
		return kCasts.count(name) ? false : Fail(ctx, "cast function " + name);
	}
	if (func->funcid == F_TIMEZONE_TEXT_TIMESTAMPTZ) {
		// At UTC both give the UTC wall clock (infinities kept); another zone's offsets come from
		// PostgreSQL's tz data in one and ICU's in the other, which need not agree for every date.
		auto *zone = static_cast<Node *>(linitial(func->args));
		std::string name = zone && IsA(zone, Const) && !castNode(Const, zone)->constisnull
		                       ? TextDatumGetCString(castNode(Const, zone)->constvalue)
		                       : "";
		return name == "UTC" || name == "Etc/UTC"
		           ? false
		           : Fail(ctx, "AT TIME ZONE other than a constant 'UTC' (DuckDB's zone rules are ICU's)");
	}
	if (auto rewritten = CheckRewrittenFunction(func, ctx.params)) {
		return rewritten->empty() ? false : Fail(ctx, *rewritten);
	}
	// Checked one by one against DuckDB (btrim, every and concat's text forms are not the same).
	static const std::set<std::string> kSame = {"lower", "upper", "length", "char_length", "character_length",
	                                            "abs",   "ltrim", "rtrim",  "replace",     "md5",
	                                            "strpos"};
	if (kSame.count(name)) {
		return false;
	}
	if (name == "date_trunc" || name == "extract" || name == "date_part") {
		if (name == "date_trunc") {
			return false; // field names are DuckDB's too; the time zone is the session's
		}
		return IntegerField(static_cast<Node *>(linitial(func->args)))
		           ? false
		           : Fail(ctx, name + " of a field other than year, month, day, quarter, dow, doy, hour, minute");
	}
	return Fail(ctx, "function " + name + " is not on the list DuckDB runs the same way");
}

bool CheckSortCollation(List *clauses, List *tlist, CheckContext &ctx) {
	ListCell *cell;
	foreach (cell, clauses) {
		auto *clause = static_cast<SortGroupClause *>(lfirst(cell));
		TargetEntry *tle = get_sortgroupclause_tle(clause, tlist);
		Node *expr = reinterpret_cast<Node *>(tle->expr);
		if (IsText(exprType(expr)) && !OrdersLikeC(exprCollation(expr))) {
			return Fail(ctx, "ORDER BY text under a non-C collation (DuckDB orders by bytes)");
		}
	}
	return false;
}

bool CheckAggregate(Aggref *agg, CheckContext &ctx) {
	std::string name = CatalogName(agg->aggfnoid);
	if (agg->aggkind != AGGKIND_NORMAL || agg->aggvariadic) {
		return Fail(ctx, "ordered-set or variadic aggregate " + name);
	}
	Oid input = list_length(agg->aggargtypes) > 0 ? linitial_oid(agg->aggargtypes) : InvalidOid;
	if (name == "avg" && input != FLOAT8OID && !IsExactDivision(reinterpret_cast<Node *>(agg))) {
		return Fail(ctx, "avg of " + std::string(format_type_be(input)));
	}
	if (name == "avg" && input != FLOAT8OID) {
		if (ctx.exact_divisions.count(reinterpret_cast<Node *>(agg))) {
			return false; // sum and count, divided by duckpipe.numeric_div
		}
		return Fail(ctx, "avg of an integer or numeric other than as a whole select-list column" +
		                     ctx.no_exact_division +
		                     " (DuckDB computes PostgreSQL's digits as text, which cannot be sorted, grouped, "
		                     "compared or computed with)");
	}
	if ((name == "min" || name == "max") && IsText(input) && !OrdersLikeC(agg->inputcollid)) {
		return Fail(ctx, name + " of text under a non-C collation");
	}
	static const std::set<std::string> kSpread = {"stddev",   "stddev_samp", "stddev_pop",
	                                              "variance", "var_samp",    "var_pop"};
	if (kSpread.count(name)) {
		return Fail(ctx,
		            input == FLOAT8OID
		                ? name + " of float8 (PostgreSQL's algorithm and DuckDB's give different digits)"
		                : name + " of an integer or numeric (PostgreSQL computes numeric digits, DuckDB a double)");
	}
	// every is bool_and under another name (the same transition function): written as bool_and.
	static const std::set<std::string> kAggregates = {"count",    "sum",     "min",        "max",  "avg",
	                                                  "bool_and", "bool_or", "string_agg", "every"};
	if (!kAggregates.count(name)) {
		return Fail(ctx, "aggregate " + name + " is not on the list DuckDB runs the same way");
	}
	return CheckSortCollation(agg->aggorder, agg->args, ctx) || CheckSortCollation(agg->aggdistinct, agg->args, ctx);
}

bool CheckWindowFunction(WindowFunc *win, CheckContext &ctx) {
	std::string name = CatalogName(win->winfnoid);
	// cume_dist and percent_rank divide the same two row counts as doubles in both systems (and give
	// 0 for a partition of one row in both).
	static const std::set<std::string> kWindow = {
	    "row_number", "rank", "dense_rank", "ntile", "lag",      "lead",    "first_value", "last_value",
	    "count",      "sum",  "min",        "max",   "bool_and", "bool_or", "cume_dist",   "percent_rank"};
	Oid input = list_length(win->args) > 0 ? exprType(static_cast<Node *>(linitial(win->args))) : InvalidOid;
	if ((name == "min" || name == "max") && IsText(input) && !OrdersLikeC(win->inputcollid)) {
		return Fail(ctx, name + " of text under a non-C collation");
	}
	if (name == "avg" && input == FLOAT8OID) {
		return false;
	}
	return kWindow.count(name) ? false : Fail(ctx, "window function " + name + " is not on the list");
}

// A lake relation's entry (CheckDuckExecution made sure every relation is one, or a view's
// permission entry): the columns the query reads must be stored natively in the lake.
bool CheckRelation(RangeTblEntry *rte, CheckContext &ctx) {
	if (rte->relkind == RELKIND_VIEW) {
		return false; // the permission entry of an expanded view: never read
	}
	if (rte->tablesample) {
		return Fail(ctx, "TABLESAMPLE");
	}
	Relation rel = table_open(rte->relid, NoLock);
	std::string name =
	    quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)), RelationGetRelationName(rel));
	TupleDesc desc = RelationGetDescr(rel);
	std::string bad_column;
	int member = -1;
	while (bad_column.empty() && (member = bms_next_member(rte->selectedCols, member)) >= 0) {
		AttrNumber attno = static_cast<AttrNumber>(member + FirstLowInvalidHeapAttributeNumber);
		if (attno <= 0) {
			bad_column = attno == 0 ? "a whole-row reference" : "a system column";
			continue;
		}
		Form_pg_attribute att = TupleDescAttr(desc, attno - 1);
		bool ok = AllowedType(att->atttypid) && att->atttypid != INTERVALOID;
		if (att->atttypid == NUMERICOID) { // only numeric(p,s) with p <= 38 is a DECIMAL in the lake
			ok = DecimalTypmod(att->atttypmod);
		}
		if (!ok) {
			bad_column = "column " + std::string(NameStr(att->attname)) + " of type " +
			             format_type_with_typemod(att->atttypid, att->atttypmod) + " (not a native lake type)";
		}
	}
	table_close(rel, NoLock);
	return bad_column.empty() ? false : Fail(ctx, bad_column + " of " + name);
}

bool CheckQueryLevel(Query *query, CheckContext &ctx) {
	if (query->rowMarks != NIL) {
		return Fail(ctx, "FOR UPDATE/SHARE");
	}
	if (query->hasModifyingCTE || query->commandType != CMD_SELECT) {
		return Fail(ctx, "a data-modifying statement");
	}
	if (query->hasTargetSRFs) {
		return Fail(ctx, "a set-returning function in the select list");
	}
	// DuckDB groups by each grouping set as PostgreSQL does: NULL in the columns a set leaves out,
	// GROUPING()'s bits in the same order, a set listed twice (a, ROLLUP (a)) grouped twice, the empty
	// set's row also over no rows (queries.sql, group_*). GROUP BY DISTINCT stays set when the parser
	// has reduced the sets to a plain GROUP BY, which pg_get_querydef then writes with DISTINCT.
	if (query->groupDistinct) {
		return Fail(ctx, "GROUP BY DISTINCT (DuckDB has no GROUP BY DISTINCT)");
	}
	if (query->limitOption == LIMIT_OPTION_WITH_TIES) {
		return Fail(ctx, "FETCH ... WITH TIES");
	}
	if (CheckSortCollation(query->sortClause, query->targetList, ctx)) {
		return true;
	}
	// Grouping compares text for equality: bytes in DuckDB, the same under deterministic collations.
	for (List *clauses : {query->groupClause, query->distinctClause}) {
		ListCell *group_cell;
		foreach (group_cell, clauses) {
			Node *expr = reinterpret_cast<Node *>(
			    get_sortgroupclause_tle(static_cast<SortGroupClause *>(lfirst(group_cell)), query->targetList)->expr);
			Oid collation = exprCollation(expr);
			if (IsText(exprType(expr)) && OidIsValid(collation) && !get_collation_isdeterministic(collation)) {
				return Fail(ctx, "GROUP BY or DISTINCT on text under a nondeterministic collation");
			}
		}
	}
	ListCell *cell;
	foreach (cell, query->windowClause) {
		auto *wc = static_cast<WindowClause *>(lfirst(cell));
		if (std::string problem = FrameProblem(wc); !problem.empty()) {
			return Fail(ctx, problem);
		}
		if (CheckSortCollation(wc->orderClause, query->targetList, ctx)) {
			return true;
		}
	}
	return false;
}

bool Walk(Node *node, CheckContext &ctx);

bool WalkCallback(Node *node, void *context) {
	return Walk(node, *static_cast<CheckContext *>(context));
}

bool Walk(Node *node, CheckContext &ctx) {
	if (!node) {
		return false;
	}
	switch (nodeTag(node)) {
	case T_Query: {
		auto *query = castNode(Query, node);
		if (CheckQueryLevel(query, ctx)) {
			return true;
		}
		// A join's alias list names every column of both sides, used or not: the columns a query
		// uses are checked where they are read (CheckRelation's selectedCols, the expressions).
		return query_tree_walker(query, AsWalker(WalkCallback), &ctx, QTW_EXAMINE_RTES_BEFORE | QTW_IGNORE_JOINALIASES);
	}
	case T_RangeTblEntry: {
		auto *rte = castNode(RangeTblEntry, node);
		switch (rte->rtekind) {
		case RTE_RELATION:
			return CheckRelation(rte, ctx);
		case RTE_SUBQUERY:
		case RTE_JOIN:
		case RTE_CTE:
			return false;
		default:
			return Fail(ctx, "a FROM item that is not a table, subquery, join or CTE");
		}
	}
	case T_Var:
	case T_Const:
	case T_Param:
	case T_FuncExpr:
	case T_OpExpr:
	case T_DistinctExpr:
	case T_NullIfExpr:
	case T_Aggref:
	case T_WindowFunc:
	case T_GroupingFunc:
	case T_CaseExpr:
	case T_CoalesceExpr:
	case T_RelabelType:
	case T_ScalarArrayOpExpr:
	case T_ArrayExpr: {
		Oid type = exprType(node);
		int32 typmod = type == NUMERICOID ? exprTypmod(node) : -1;
		if (typmod >= 0 && !DecimalTypmod(typmod)) {
			return Fail(ctx, "a numeric of precision above 38 (DuckDB's DECIMAL stops at 38 digits)");
		}
		if (!AllowedType(type) && !(IsA(node, ArrayExpr) && type == get_array_type(get_element_type(type)) &&
		                            AllowedType(get_element_type(type)))) {
			return Fail(ctx, std::string("a value of type ") + format_type_be(type));
		}
		break;
	}
	case T_BoolExpr:
	case T_NullTest:
	case T_BooleanTest:
	case T_CaseWhen:
	case T_CaseTestExpr:
	case T_SubLink:
	case T_TargetEntry:
	case T_FromExpr:
	case T_JoinExpr:
	case T_RangeTblRef:
	case T_SortGroupClause:
	case T_WindowClause:
	case T_List:
	case T_CommonTableExpr:
	case T_SetOperationStmt:
		break;
	case T_CollateExpr:
		// COLLATE "C" is how a query under another default collation orders text as DuckDB does.
		if (!OrdersLikeC(castNode(CollateExpr, node)->collOid)) {
			return Fail(ctx, "COLLATE with a collation other than C or POSIX");
		}
		break;
	case T_CoerceViaIO: {
		// Integers print the same in both systems; other text forms (floats, dates under a DateStyle,
		// timestamps) may not.
		auto *coerce = castNode(CoerceViaIO, node);
		if (!IsInteger(exprType(reinterpret_cast<Node *>(coerce->arg))) || !IsText(coerce->resulttype)) {
			return Fail(ctx, std::string("a cast through text from ") +
			                     format_type_be(exprType(reinterpret_cast<Node *>(coerce->arg))) + " to " +
			                     format_type_be(coerce->resulttype));
		}
		break;
	}
	default: {
		// The node's name as nodeToString spells it: "{SQLVALUEFUNCTION ..." -> SQLVALUEFUNCTION.
		std::string text = nodeToString(node);
		size_t end = text.find_first_of(" }", 1);
		return Fail(ctx, "an expression (" + text.substr(1, end == std::string::npos ? 0 : end - 1) +
		                     ") that DuckDB execution does not translate");
	}
	}
	switch (nodeTag(node)) {
	case T_Const: {
		auto *c = castNode(Const, node);
		if (c->consttype == NUMERICOID && !c->constisnull) {
			if (numeric_is_nan(DatumGetNumeric(c->constvalue)) || numeric_is_inf(DatumGetNumeric(c->constvalue))) {
				return Fail(ctx, "a NaN or infinite numeric constant");
			}
			int digits = 0;
			for (const char *p = DatumGetCString(DirectFunctionCall1(numeric_out, c->constvalue)); *p; p++) {
				digits += *p >= '0' && *p <= '9' ? 1 : 0;
			}
			if (digits > 38) {
				return Fail(ctx, "a numeric constant of more than 38 digits");
			}
		}
		break;
	}
	case T_Param: {
		auto *p = castNode(Param, node);
		ParamExternData workspace;
		ParamExternData *value = nullptr;
		if (p->paramkind == PARAM_SUBLINK) {
			break; // the subquery's output in an IN / ANY / ALL test: deparsed with its subquery
		}
		if (p->paramkind == PARAM_EXTERN && ctx.params && p->paramid > 0 && p->paramid <= ctx.params->numParams) {
			value = ctx.params->paramFetch ? ctx.params->paramFetch(ctx.params, p->paramid, true, &workspace)
			                               : &ctx.params->params[p->paramid - 1];
		}
		if (!value || value->ptype != p->paramtype || !(value->pflags & PARAM_FLAG_CONST)) {
			return Fail(ctx, "a parameter without a value known at planning time");
		}
		break;
	}
	case T_FuncExpr:
		if (CheckFunction(castNode(FuncExpr, node), ctx)) {
			return true;
		}
		break;
	case T_OpExpr:
		if (CheckOperator(castNode(OpExpr, node), ctx)) {
			return true;
		}
		break;
	case T_ScalarArrayOpExpr: {
		auto *op = castNode(ScalarArrayOpExpr, node);
		char *name = get_opname(op->opno);
		if (!name || (strcmp(name, "=") != 0 && strcmp(name, "<>") != 0) || !IsA(lsecond(op->args), ArrayExpr)) {
			return Fail(ctx, "an ANY/ALL other than IN (list of values)");
		}
		break;
	}
	case T_Aggref:
		if (CheckAggregate(castNode(Aggref, node), ctx)) {
			return true;
		}
		break;
	case T_WindowFunc:
		if (CheckWindowFunction(castNode(WindowFunc, node), ctx)) {
			return true;
		}
		break;
	case T_GroupingFunc:
		if (castNode(GroupingFunc, node)->agglevelsup != 0) {
			return Fail(ctx, "GROUPING() of an outer query's grouping");
		}
		break;
	case T_RelabelType:
		// text or varchar read as char(n) would keep trailing spaces DuckDB's char values do not have.
		if (exprType(node) == BPCHAROID &&
		    exprType(reinterpret_cast<Node *>(castNode(RelabelType, node)->arg)) != BPCHAROID) {
			return Fail(ctx, "a conversion of text to char");
		}
		break;
	case T_SubLink:
		if (castNode(SubLink, node)->subLinkType == ROWCOMPARE_SUBLINK ||
		    castNode(SubLink, node)->subLinkType == MULTIEXPR_SUBLINK) {
			return Fail(ctx, "a row comparison with a subquery");
		}
		break;
	default:
		break;
	}
	return expression_tree_walker(node, AsWalker(WalkCallback), &ctx);
}

bool CollectWalker(Node *node, void *context) {
	if (!node) {
		return false;
	}
	if (IsA(node, Query)) {
		return query_tree_walker(castNode(Query, node), AsWalker(CollectWalker), context, QTW_EXAMINE_RTES_BEFORE);
	}
	if (IsA(node, RangeTblEntry)) {
		auto *rte = castNode(RangeTblEntry, node);
		if (rte->rtekind == RTE_RELATION) {
			*static_cast<List **>(context) = lappend(*static_cast<List **>(context), rte);
		}
		return false;
	}
	return expression_tree_walker(node, AsWalker(CollectWalker), context);
}

// The select-list columns whose avg or numeric / DuckDB may compute as PostgreSQL does.
void CollectExactDivisions(Query *query, CheckContext &ctx) {
	if (!OidIsValid(ExactDivisionFunction())) {
		ctx.no_exact_division = " (and duckpipe.numeric_div is missing: ALTER EXTENSION pg_duckpipe UPDATE)";
		return;
	}
	ListCell *cell;
	foreach (cell, query->targetList) {
		auto *tle = static_cast<TargetEntry *>(lfirst(cell));
		Node *expr = reinterpret_cast<Node *>(tle->expr);
		if (tle->resjunk || tle->ressortgroupref != 0 || !IsExactDivision(expr)) {
			continue;
		}
		if (IsA(expr, OpExpr) && (query->limitCount || query->limitOffset) &&
		    !IsNonZeroConst(static_cast<Node *>(lsecond(castNode(OpExpr, expr)->args)))) {
			ctx.divisions_under_limit.insert(expr);
			continue;
		}
		ctx.exact_divisions.insert(expr);
	}
}

} // namespace

unsigned int ExactDivisionFunction() {
	// From the catalog, not by name lookup: that would check USAGE on the schema, which the DuckDB
	// SQL needs no more than PostgreSQL's own avg does.
	Oid schema = get_namespace_oid("duckpipe", true);
	if (!OidIsValid(schema)) {
		return InvalidOid;
	}
	Oid args[2] = {NUMERICOID, NUMERICOID};
	return GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid, CStringGetDatum("numeric_div"),
	                       PointerGetDatum(buildoidvector(args, 2)), ObjectIdGetDatum(schema));
}

bool IsExactDivision(Node *expr) {
	if (expr && IsA(expr, OpExpr)) {
		set_opfuncid(castNode(OpExpr, expr));
		return castNode(OpExpr, expr)->opfuncid == F_NUMERIC_DIV;
	}
	if (expr && IsA(expr, Aggref)) {
		Oid fn = castNode(Aggref, expr)->aggfnoid;
		return fn == F_AVG_INT2 || fn == F_AVG_INT4 || fn == F_AVG_INT8 || fn == F_AVG_NUMERIC;
	}
	return false;
}

List *CollectRelations(Query *query) {
	List *relations = NIL;
	CollectWalker(reinterpret_cast<Node *>(query), &relations);
	return relations;
}

DuckExecVerdict CheckDuckExecution(Query *query, ParamListInfoData *params) {
	CheckContext ctx;
	ctx.params = params;
	List *relations = CollectRelations(query);
	int lake_relations = 0;
	ListCell *cell;
	foreach (cell, relations) {
		Relation rel = table_open(castNode(RangeTblEntry, lfirst(cell))->relid, NoLock);
		// A view's own entry stays in its expanded query for the permission check only.
		bool lake = IsLakeRelation(rel) || rel->rd_rel->relkind == RELKIND_VIEW;
		lake_relations += IsLakeRelation(rel) ? 1 : 0;
		if (lake && rel->rd_rel->relrowsecurity && ctx.verdict.rls_relation.empty()) {
			ctx.verdict.rls_relation =
			    quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)), RelationGetRelationName(rel));
		}
		table_close(rel, NoLock);
		if (!lake) {
			return ctx.verdict; // not all lake: the row path (or the pushdown scan), without a word
		}
	}
	if (lake_relations == 0) {
		return ctx.verdict; // no relation, or only views over something else (pg_settings)
	}
	// Time travel reads an older snapshot, whose lake tables may lack columns the relations have now
	// (added since): the row path reads those as NULL, a DuckDB query would not bind. Without a word,
	// as for mixed queries.
	// (Settings that contradict each other: the row path's read reports them.)
	bool latest = false;
	try {
		latest = SessionSnapshot().kind == lake::SnapshotSelector::Kind::Latest;
	} catch (const std::exception &) {
	}
	if (!latest) {
		return ctx.verdict;
	}
	ctx.verdict.all_lake = true;
	CollectExactDivisions(query, ctx);
	Walk(reinterpret_cast<Node *>(query), ctx);
	// A char result is padded back to its width: one that cannot be told (a bpchar without length,
	// a subquery's min) would come back without the trailing spaces PostgreSQL's value has.
	foreach (cell, query->targetList) {
		auto *tle = static_cast<TargetEntry *>(lfirst(cell));
		if (!tle->resjunk && exprType(reinterpret_cast<Node *>(tle->expr)) == BPCHAROID &&
		    BpcharPad(reinterpret_cast<Node *>(tle->expr)) == kPadUnknown) {
			Fail(ctx, "a char result column whose padding is not known (" +
			              std::string(tle->resname ? tle->resname : "?column?") + ")");
		}
	}
	return ctx.verdict;
}

} // namespace duckpipe::ext
