// EXISTS subqueries without their select lists (duck_exec_exists.hpp).
#include "extension/duck_exec_exists.hpp"

#include <vector>

#include "extension/pg_includes.hpp"

extern "C" {
#include "access/sysattr.h"
#include "catalog/pg_type.h"
#include "nodes/bitmapset.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "parser/parsetree.h"
}

namespace duckpipe::ext {

namespace {

bool (*AsWalker(bool (*fn)(Node *, void *)))() {
	return reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(fn));
}

// The columns of `owner`'s relations that Vars read, from owner's level or (as outer references)
// from the levels below it.
struct ColumnsContext {
	Query *owner;
	Index depth = 0;
	std::vector<Bitmapset *> columns; // by range table index - 1
};

bool CollectColumns(Node *node, void *context) {
	auto *ctx = static_cast<ColumnsContext *>(context);
	if (!node) {
		return false;
	}
	if (IsA(node, Var)) {
		auto *var = castNode(Var, node);
		if (var->varlevelsup != ctx->depth || var->varno < 1 ||
		    var->varno > static_cast<int>(list_length(ctx->owner->rtable))) {
			return false;
		}
		RangeTblEntry *rte = rt_fetch(var->varno, ctx->owner->rtable);
		if (rte->rtekind == RTE_RELATION) {
			ctx->columns[var->varno - 1] =
			    bms_add_member(ctx->columns[var->varno - 1], var->varattno - FirstLowInvalidHeapAttributeNumber);
		} else if (rte->rtekind == RTE_JOIN) {
			// A join's column is its alias expression over the joined relations' columns (at owner's
			// level); its whole row is every one of them.
			Index depth = ctx->depth;
			ctx->depth = 0;
			bool stop = var->varattno == 0
			                ? CollectColumns(reinterpret_cast<Node *>(rte->joinaliasvars), ctx)
			                : CollectColumns(static_cast<Node *>(list_nth(rte->joinaliasvars, var->varattno - 1)), ctx);
			ctx->depth = depth;
			return stop;
		}
		return false;
	}
	if (IsA(node, Query)) {
		ctx->depth++;
		bool stop = query_tree_walker(castNode(Query, node), AsWalker(CollectColumns), ctx, QTW_IGNORE_JOINALIASES);
		ctx->depth--;
		return stop;
	}
	return expression_tree_walker(node, AsWalker(CollectColumns), ctx);
}

// As simplify_EXISTS_query decides, but stricter: nothing that refers to the select list (ORDER BY,
// GROUP BY, DISTINCT, windows) and no LIMIT, so that dropping the list is all there is to do.
bool SelectListUnused(const Query *sub) {
	return sub->commandType == CMD_SELECT && !sub->setOperations && !sub->hasAggs && !sub->groupingSets &&
	       !sub->hasWindowFuncs && !sub->hasTargetSRFs && !sub->hasModifyingCTE && !sub->havingQual &&
	       !sub->limitOffset && !sub->limitCount && !sub->rowMarks && sub->groupClause == NIL &&
	       sub->windowClause == NIL && sub->distinctClause == NIL && sub->sortClause == NIL && !sub->utilityStmt;
}

void SelectConstant(Query *sub) {
	Const *one = makeConst(INT4OID, -1, InvalidOid, sizeof(int32), Int32GetDatum(1), false, true);
	sub->targetList = list_make1(makeTargetEntry(reinterpret_cast<Expr *>(one), 1, pstrdup("?column?"), false));
	ColumnsContext ctx{sub, 0, std::vector<Bitmapset *>(static_cast<size_t>(list_length(sub->rtable)), nullptr)};
	query_tree_walker(sub, AsWalker(CollectColumns), &ctx, QTW_IGNORE_JOINALIASES);
	ListCell *cell;
	foreach (cell, sub->rtable) {
		auto *rte = castNode(RangeTblEntry, lfirst(cell));
		if (rte->rtekind == RTE_RELATION) {
			rte->selectedCols = ctx.columns[foreach_current_index(cell)];
		}
	}
}

bool RewriteExists(Node *node, void *context) {
	if (!node) {
		return false;
	}
	if (IsA(node, Query)) {
		return query_tree_walker(castNode(Query, node), AsWalker(RewriteExists), context, QTW_IGNORE_JOINALIASES);
	}
	// Inner EXISTS first: the columns an outer one's relations read are then those the inner ones
	// still use.
	if (expression_tree_walker(node, AsWalker(RewriteExists), context)) {
		return true;
	}
	if (IsA(node, SubLink) && castNode(SubLink, node)->subLinkType == EXISTS_SUBLINK) {
		Query *sub = castNode(Query, castNode(SubLink, node)->subselect);
		if (SelectListUnused(sub)) {
			if (!*static_cast<bool *>(context)) {
				return true; // only looking: there is one
			}
			SelectConstant(sub);
		}
	}
	return false;
}

} // namespace

Query *WithExistsSelectingConstants(Query *query) {
	bool rewrite = false;
	if (!RewriteExists(reinterpret_cast<Node *>(query), &rewrite)) {
		return query;
	}
	rewrite = true;
	auto *copy = static_cast<Query *>(copyObjectImpl(query));
	RewriteExists(reinterpret_cast<Node *>(copy), &rewrite);
	return copy;
}

} // namespace duckpipe::ext
