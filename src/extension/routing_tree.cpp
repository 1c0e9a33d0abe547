// Walks and rewrites of query trees for query routing. The rewrite copies the tree (a mutator)
// rather than editing Vars in place: parse analysis may share a Var between two places (a USING
// join's alias variables and its quals), which an in-place edit would remap twice.
#include "extension/routing_tree.hpp"

#include "extension/pg_includes.hpp"

extern "C" {
#include "access/sysattr.h"
#include "catalog/pg_class.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "storage/lockdefs.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
}

namespace duckpipe::ext {

namespace {

// The walker APIs take untyped function pointers (through void (*)() the cast is a plain one).
template <class Context>
auto AsWalker(bool (*fn)(Node *, Context *)) {
	return reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(fn));
}
template <class Context>
auto AsMutator(Node *(*fn)(Node *, Context *)) {
	return reinterpret_cast<Node *(*)()>(reinterpret_cast<void (*)()>(fn));
}

struct Collect {
	QueryShape shape;
	int capacity;
};

bool CollectWalker(Node *node, Collect *ctx) {
	if (!node) {
		return false;
	}
	if (IsA(node, Query)) {
		auto *query = reinterpret_cast<Query *>(node);
		auto &shape = ctx->shape;
		shape.writes =
		    shape.writes || query->commandType != CMD_SELECT || query->hasModifyingCTE || query->utilityStmt != nullptr;
		shape.row_marks = shape.row_marks || query->rowMarks != NIL;
		unsigned int rti = 0;
		ListCell *cell;
		foreach (cell, query->rtable) {
			rti++;
			auto *rte = static_cast<RangeTblEntry *>(lfirst(cell));
			if (rte->rtekind != RTE_RELATION) {
				continue;
			}
			if (shape.nrelations == ctx->capacity) {
				ctx->capacity *= 2;
				shape.relations = static_cast<RoutingRelation *>(
				    repalloc(shape.relations, sizeof(RoutingRelation) * static_cast<size_t>(ctx->capacity)));
			}
			shape.relations[shape.nrelations++] = {query, rti, rte};
		}
		return query_tree_walker(query, AsWalker(CollectWalker), ctx, 0);
	}
	return expression_tree_walker(node, AsWalker(CollectWalker), ctx);
}

// Vars of one relation: `depth` is how many query levels below the relation's the walk is.
struct VarSearch {
	unsigned int rti;
	unsigned int depth;
};

bool BadRefWalker(Node *node, VarSearch *ctx) {
	if (!node) {
		return false;
	}
	if (IsA(node, Var)) {
		auto *var = reinterpret_cast<Var *>(node);
		return var->varno == static_cast<int>(ctx->rti) && var->varlevelsup == ctx->depth && var->varattno <= 0;
	}
	if (IsA(node, Query)) {
		ctx->depth++;
		bool found = query_tree_walker(reinterpret_cast<Query *>(node), AsWalker(BadRefWalker), ctx, 0);
		ctx->depth--;
		return found;
	}
	return expression_tree_walker(node, AsWalker(BadRefWalker), ctx);
}

// The relation's column compared by `expr`, when expr is (a binary-compatible cast of) one of its Vars.
AttrNumber KeyColumn(Node *expr, unsigned int rti) {
	while (expr && IsA(expr, RelabelType)) {
		expr = reinterpret_cast<Node *>(reinterpret_cast<RelabelType *>(expr)->arg);
	}
	if (!expr || !IsA(expr, Var)) {
		return InvalidAttrNumber;
	}
	auto *var = reinterpret_cast<Var *>(expr);
	return var->varno == static_cast<int>(rti) && var->varlevelsup == 0 ? var->varattno : InvalidAttrNumber;
}

// A value fixed for the whole scan: no Var of this level, nothing volatile.
bool FixedValue(Node *expr) {
	return !contain_vars_of_level(expr, 0) && !contain_volatile_functions(expr);
}

bool IsEquality(Oid opno) {
	return get_oprrest(opno) == F_EQSEL;
}

void CollectEqualities(Node *qual, unsigned int rti, Bitmapset **columns) {
	if (!qual) {
		return;
	}
	if (IsA(qual, List)) {
		ListCell *cell;
		foreach (cell, reinterpret_cast<List *>(qual)) {
			CollectEqualities(static_cast<Node *>(lfirst(cell)), rti, columns);
		}
	} else if (is_andclause(qual)) {
		CollectEqualities(reinterpret_cast<Node *>(reinterpret_cast<BoolExpr *>(qual)->args), rti, columns);
	} else if (IsA(qual, OpExpr)) {
		auto *op = reinterpret_cast<OpExpr *>(qual);
		if (list_length(op->args) != 2 || !IsEquality(op->opno)) {
			return;
		}
		auto *left = static_cast<Node *>(linitial(op->args));
		auto *right = static_cast<Node *>(lsecond(op->args));
		AttrNumber column = KeyColumn(left, rti);
		if (column > 0 && FixedValue(right)) {
			*columns = bms_add_member(*columns, column - FirstLowInvalidHeapAttributeNumber);
		}
		column = KeyColumn(right, rti);
		if (column > 0 && FixedValue(left)) {
			*columns = bms_add_member(*columns, column - FirstLowInvalidHeapAttributeNumber);
		}
	} else if (IsA(qual, ScalarArrayOpExpr)) {
		// key IN (...) / key = ANY(...): a few point lookups.
		auto *op = reinterpret_cast<ScalarArrayOpExpr *>(qual);
		if (!op->useOr || list_length(op->args) != 2 || !IsEquality(op->opno)) {
			return;
		}
		AttrNumber column = KeyColumn(static_cast<Node *>(linitial(op->args)), rti);
		if (column > 0 && FixedValue(static_cast<Node *>(lsecond(op->args)))) {
			*columns = bms_add_member(*columns, column - FirstLowInvalidHeapAttributeNumber);
		}
	}
}

// WHERE and the ON of inner joins restrict every row of the level; outer joins' ON do not.
void CollectJoinTreeEqualities(Node *node, unsigned int rti, Bitmapset **columns) {
	if (!node) {
		return;
	}
	if (IsA(node, FromExpr)) {
		auto *from = reinterpret_cast<FromExpr *>(node);
		CollectEqualities(from->quals, rti, columns);
		ListCell *cell;
		foreach (cell, from->fromlist) {
			CollectJoinTreeEqualities(static_cast<Node *>(lfirst(cell)), rti, columns);
		}
	} else if (IsA(node, JoinExpr)) {
		auto *join = reinterpret_cast<JoinExpr *>(node);
		if (join->jointype == JOIN_INNER) {
			CollectEqualities(join->quals, rti, columns);
			CollectJoinTreeEqualities(join->larg, rti, columns);
			CollectJoinTreeEqualities(join->rarg, rti, columns);
		}
	}
}

// A FROM subquery reaches the mutator as a flat copy of the original Query (range_table_mutator
// copies it first): the copy still shares the original's range table list.
bool SameQuery(const Query *target, const Query *query) {
	return target == query || (query->rtable != NIL && target->rtable == query->rtable);
}

struct Remap {
	RouteTarget *targets;
	int ntargets;
	int depth; // of the Query being copied, 0 at the top
	// Per target: the depth of its Query once the copy has reached it, -1 before and after.
	int *target_depth;
};

Node *RemapMutator(Node *node, Remap *ctx) {
	if (!node) {
		return nullptr;
	}
	if (IsA(node, Var)) {
		auto *var = reinterpret_cast<Var *>(copyObjectImpl(node));
		for (int i = 0; i < ctx->ntargets; i++) {
			const auto &target = ctx->targets[i];
			if (ctx->target_depth[i] < 0 || var->varno != static_cast<int>(target.rti) ||
			    static_cast<int>(var->varlevelsup) != ctx->depth - ctx->target_depth[i] || var->varattno <= 0 ||
			    var->varattno > target.map_length) {
				continue;
			}
			AttrNumber old_attno = var->varattno;
			var->varattno = target.attno_map[old_attno - 1];
			if (var->varnosyn == static_cast<Index>(var->varno) && var->varattnosyn == old_attno) {
				var->varattnosyn = var->varattno;
			}
			break;
		}
		return reinterpret_cast<Node *>(var);
	}
	if (IsA(node, Query)) {
		auto *query = reinterpret_cast<Query *>(node);
		ctx->depth++;
		for (int i = 0; i < ctx->ntargets; i++) {
			if (SameQuery(ctx->targets[i].query, query)) {
				ctx->target_depth[i] = ctx->depth;
			}
		}
		auto *copy = reinterpret_cast<Query *>(query_tree_mutator(query, AsMutator(RemapMutator), ctx, 0));
		for (int i = 0; i < ctx->ntargets; i++) {
			const auto &target = ctx->targets[i];
			if (!SameQuery(target.query, query)) {
				continue;
			}
			ctx->target_depth[i] = -1;
			auto *rte = static_cast<RangeTblEntry *>(list_nth(copy->rtable, static_cast<int>(target.rti) - 1));
			rte->relid = target.lake_oid;
			rte->relkind = RELKIND_RELATION;
			rte->rellockmode = AccessShareLock;
			rte->inh = false;
			rte->tablesample = nullptr;
			rte->requiredPerms = ACL_SELECT;
			rte->selectedCols = target.selected_cols;
			rte->insertedCols = nullptr;
			rte->updatedCols = nullptr;
			rte->extraUpdatedCols = nullptr;
			rte->securityQuals = NIL;
			rte->eref = makeAlias(rte->eref->aliasname, target.lake_colnames);
			// Column aliases are positional over the source's columns: eref has them by lake attno.
			if (rte->alias && rte->alias->colnames != NIL) {
				rte->alias = makeAlias(rte->alias->aliasname, NIL);
			}
		}
		ctx->depth--;
		return reinterpret_cast<Node *>(copy);
	}
	return expression_tree_mutator(node, AsMutator(RemapMutator), ctx);
}

} // namespace

QueryShape DescribeQuery(Query *parse) {
	Collect ctx{};
	ctx.capacity = 8;
	ctx.shape.relations = static_cast<RoutingRelation *>(palloc(sizeof(RoutingRelation) * 8));
	CollectWalker(reinterpret_cast<Node *>(parse), &ctx);
	return ctx.shape;
}

bool HasWholeRowOrSystemRef(const RoutingRelation &relation) {
	VarSearch ctx{relation.rti, 0};
	return query_tree_walker(relation.query, AsWalker(BadRefWalker), &ctx, 0);
}

bool IsPointLookup(const RoutingRelation &relation, const Bitmapset *key) {
	if (bms_is_empty(key)) {
		return false;
	}
	Bitmapset *columns = nullptr;
	CollectJoinTreeEqualities(reinterpret_cast<Node *>(relation.query->jointree), relation.rti, &columns);
	return bms_is_subset(key, columns);
}

Query *RewriteQuery(Query *parse, RouteTarget *targets, int ntargets) {
	Remap ctx{targets, ntargets, -1, static_cast<int *>(palloc(sizeof(int) * static_cast<size_t>(ntargets)))};
	for (int i = 0; i < ntargets; i++) {
		ctx.target_depth[i] = -1;
	}
	return reinterpret_cast<Query *>(RemapMutator(reinterpret_cast<Node *>(parse), &ctx));
}

} // namespace duckpipe::ext
