// Which SELECTs DuckDB may run whole with PostgreSQL's semantics. An allowlist, not a denylist:
// every function, operator, aggregate and type a query uses must be one whose DuckDB counterpart
// (same name, as pg_get_querydef prints it) returns the same values; anything else keeps the query
// on the row path. docs/lake-relation.md lists what is in and what falls back, and why.
#include "extension/duck_exec_check.hpp"
#include "extension/duck_exec_allow.hpp"
#include "extension/duck_exec_compared.hpp"
#include "extension/duck_exec_frames.hpp"
#include "extension/duck_exec_from.hpp"
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
#include "utils/date.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/pg_locale.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
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
	ExactDivisions divisions;
	// The generate_series calls of FROM items FunctionScanProblem allowed (elsewhere a set-returning
	// function falls back).
	std::set<const Node *> from_functions;
	// text read as char by an explicit cast to char(n): the cast's value is held trimmed in DuckDB.
	std::set<const Node *> char_cast_args;
};

bool Fail(CheckContext &ctx, std::string reason) {
	if (ctx.verdict.reason.empty()) {
		ctx.verdict.reason = std::move(reason);
	}
	return true; // stops the walk
}

// A problem found by the allowlist (duck_exec_allow.hpp), if any.
bool FailIf(CheckContext &ctx, std::string problem) {
	return problem.empty() ? false : Fail(ctx, std::move(problem));
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
	// set's row also over no rows (queries.sql, group_*). GROUP BY DISTINCT, which DuckDB has not, is
	// written as the grouping sets PostgreSQL's expansion keeps (duck_exec_prepare.cpp).
	if (query->limitOption == LIMIT_OPTION_WITH_TIES) {
		return Fail(ctx, "FETCH ... WITH TIES");
	}
	if (FailIf(ctx, SortCollationProblem(query->sortClause, query->targetList))) {
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
		if (FailIf(ctx, SortCollationProblem(wc->orderClause, query->targetList))) {
			return true;
		}
	}
	return false;
}

// pg_get_querydef writes such a constant with a trailing " BC", which DuckDB's literal ignores.
bool BeforeYearOne(Const *c) {
	constexpr int64 kYearOne = 1721426 - POSTGRES_EPOCH_JDATE; // date2j(1, 1, 1): days from 2000-01-01
	if (c->constisnull) {
		return false;
	}
	switch (c->consttype) {
	case DATEOID:
		return !DATE_NOT_FINITE(DatumGetDateADT(c->constvalue)) && DatumGetDateADT(c->constvalue) < kYearOne;
	case TIMESTAMPOID:
	case TIMESTAMPTZOID:
		return !TIMESTAMP_NOT_FINITE(DatumGetTimestamp(c->constvalue)) &&
		       DatumGetTimestamp(c->constvalue) < kYearOne * USECS_PER_DAY + 16 * USECS_PER_HOUR; // BC in some zone
	default:
		return false;
	}
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
		case RTE_VALUES:
			return FailIf(ctx, ValuesProblem(rte)); // the values are checked as expressions
		case RTE_FUNCTION:
			if (FailIf(ctx, FunctionScanProblem(rte))) {
				return true;
			}
			ctx.from_functions.insert(castNode(RangeTblFunction, linitial(rte->functions))->funcexpr);
			return false;
		default:
			return Fail(ctx, "a FROM item that is not a table, subquery, join, CTE, VALUES list or generate_series");
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
	case T_RangeTblFunction:
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
		// text to uuid: DuckDB reads more forms than PostgreSQL (a hyphen anywhere), so only the forms
		// PostgreSQL reads reach its cast (duck_exec_prepare.cpp), the others fail in both. Not of
		// char(n), whose padding PostgreSQL reads and DuckDB's values lack.
		auto *coerce = castNode(CoerceViaIO, node);
		Oid from = exprType(reinterpret_cast<Node *>(coerce->arg));
		if (coerce->resulttype == UUIDOID && (from == TEXTOID || from == VARCHAROID)) {
			break;
		}
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
		if (BeforeYearOne(c)) {
			return Fail(ctx, "a date or timestamp constant before year 1 (DuckDB reads '0044-03-15 BC' as AD)");
		}
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
		if (CharCastLength(castNode(FuncExpr, node)) >= 0) {
			ctx.char_cast_args.insert(static_cast<Node *>(linitial(castNode(FuncExpr, node)->args)));
		}
		if (!ctx.from_functions.count(node) && FailIf(ctx, FunctionProblem(castNode(FuncExpr, node), ctx.params))) {
			return true;
		}
		break;
	case T_OpExpr:
		if (FailIf(ctx, OperatorProblem(castNode(OpExpr, node), ctx.divisions))) {
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
		if (FailIf(ctx, AggregateProblem(castNode(Aggref, node), ctx.divisions))) {
			return true;
		}
		break;
	case T_WindowFunc:
		if (FailIf(ctx, WindowFunctionProblem(castNode(WindowFunc, node), ctx.divisions))) {
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
		if (exprType(node) == BPCHAROID && !ctx.char_cast_args.count(node) &&
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
		ctx.divisions.missing = " (and duckpipe.numeric_div is missing: ALTER EXTENSION pg_duckpipe UPDATE)";
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
			ctx.divisions.under_limit.insert(expr);
			continue;
		}
		ctx.divisions.allowed.insert(expr);
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
	Oid fn = expr && IsA(expr, Aggref)       ? castNode(Aggref, expr)->aggfnoid
	         : expr && IsA(expr, WindowFunc) ? castNode(WindowFunc, expr)->winfnoid
	                                         : InvalidOid;
	return fn == F_AVG_INT2 || fn == F_AVG_INT4 || fn == F_AVG_INT8 || fn == F_AVG_NUMERIC;
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
	if (ctx.divisions.missing.empty()) {
		ReplaceComparedAverages(
		    reinterpret_cast<Node *>(query),
		    [](Aggref *avg, int, void *allowed) {
			    static_cast<std::set<const Node *> *>(allowed)->insert(reinterpret_cast<Node *>(avg));
			    return reinterpret_cast<Node *>(avg);
		    },
		    &ctx.divisions.allowed);
	}
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
