#pragma once

// Query-tree helpers of query routing (routing_tree.cpp). PostgreSQL types only: these run inside
// one PgCall, where no C++ object with a destructor may live.
struct Query;
struct RangeTblEntry;
struct List;
struct Bitmapset;

namespace duckpipe::ext {

// A relation read somewhere in a query: the Query whose range table holds it, and its index there.
struct RoutingRelation {
	Query *query;
	unsigned int rti;
	RangeTblEntry *rte;
};

struct QueryShape {
	RoutingRelation *relations; // every RTE_RELATION, at any depth (palloc'd)
	int nrelations;
	bool writes;    // a level is not a SELECT, or has a data-modifying CTE
	bool row_marks; // FOR UPDATE/SHARE at some level
};
QueryShape DescribeQuery(Query *parse);

// Whether the query level references the relation's whole row or a system column.
bool HasWholeRowOrSystemRef(const RoutingRelation &relation);

// Whether every column of `key` (attnos offset by FirstLowInvalidHeapAttributeNumber) is compared for
// equality with a value that does not depend on the query level's rows (a point lookup).
bool IsPointLookup(const RoutingRelation &relation, const Bitmapset *key);

// One routed relation: its new relid and the source attno -> lake attno map (0: no column).
struct RouteTarget {
	Query *query; // the original Query (before the rewrite copies it)
	unsigned int rti;
	unsigned int lake_oid;
	short *attno_map; // index: source attno - 1
	int map_length;
	List *lake_colnames; // eref column names of the lake relation
	Bitmapset *selected_cols;
};
// Returns a copy of parse reading each target's lake relation instead of its source.
Query *RewriteQuery(Query *parse, RouteTarget *targets, int ntargets);

} // namespace duckpipe::ext
