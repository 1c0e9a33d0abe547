#pragma once

struct Aggref;
struct Node;

namespace duckpipe::ext {

// The avg of an integer or numeric whose value only a comparison (= <> < > <= >=) with a numeric
// reads: as an operand, through + - (or * by a factor of at most 8 decimals), as a scalar
// subquery's only column or as a derived table's column that its query only compares so. DuckDB
// computes it as an exact DECIMAL of PostgreSQL's quotient (CompareAverage), whose text never
// reaches the result. Calls fn with each (in a query tree, at every level) and puts what fn returns
// in its place. Calls PostgreSQL.
// max_scale: the decimals the avg may keep there (20 as a factor of a product, else 30).
void ReplaceComparedAverages(Node *tree, Node *(*fn)(Aggref *avg, int max_scale, void *context), void *context);

// The DuckDB form of a compared avg (context: the Oid of duckpipe.numeric_div).
Node *CompareAverage(Aggref *avg, int max_scale, void *context);

// avg(x), an Aggref or a window's WindowFunc, as duckpipe.numeric_div(sum(x), count(x)) of the same
// rows (DISTINCT, FILTER and the frame kept), as PostgreSQL's int*_avg and numeric_avg compute it.
Node *SumAndCount(Node *avg, unsigned int divide);

} // namespace duckpipe::ext
