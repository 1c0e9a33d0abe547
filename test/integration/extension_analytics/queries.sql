-- Analytical queries over the TPC-H-like schema of schema.sql, written once with unqualified table
-- names: the test runs each with search_path = src (the heap tables) and with search_path = lake
-- (their lake copies) and compares the results row for row as PostgreSQL's text output.
--
-- Format: each query starts with a line `-- name: <name>`; a line `-- ordered` after it says the
-- result's order is part of the answer (compared in order; otherwise as a multiset). The query
-- runs to the next `-- name:` line; a trailing `;` is dropped. src.segment_target is a heap table
-- that is never synced (a lake/heap join on the lake side). A line `-- path: duckdb` or
-- `-- path: row` says where the lake side runs with the default settings: whole in DuckDB, or on
-- the row path (a NOTICE names why; a heap table in the query takes it there without a word). The
-- test fails when a query takes the other path.
--
-- Rules that keep the answers independent of row order (the lake returns rows in another order
-- than the heap): every ORDER BY ... LIMIT and every window ORDER BY is a total order; aggregates
-- over floats see values whose sums are exact (schema.sql); text sort keys that could differ
-- between collations (mixed case, punctuation) sort with COLLATE "C".

-- name: q01_pricing_summary
-- path: duckdb
-- ordered
SELECT l_returnflag, l_linestatus, sum(l_quantity) AS sum_qty, sum(l_extendedprice) AS sum_base_price,
	sum(l_extendedprice * (1 - l_discount)) AS sum_disc_price,
	sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS sum_charge, avg(l_quantity) AS avg_qty,
	avg(l_extendedprice) AS avg_price, avg(l_discount) AS avg_disc, count(*) AS count_order
FROM lineitem
WHERE l_shipdate <= date '1998-12-01' - interval '90 days'
GROUP BY l_returnflag, l_linestatus
ORDER BY l_returnflag, l_linestatus;

-- name: q02_minimum_cost_supplier
-- path: duckdb
-- ordered
SELECT s_acctbal, s_name, n_name, p_partkey, p_mfgr, s_address, s_phone, s_comment
FROM part, supplier, partsupp, nation, region
WHERE p_partkey = ps_partkey AND s_suppkey = ps_suppkey AND p_size < 20 AND p_type LIKE '%BRASS'
	AND s_nationkey = n_nationkey AND n_regionkey = r_regionkey AND r_name = 'EUROPE'
	AND ps_supplycost = (SELECT min(ps_supplycost) FROM partsupp, supplier, nation, region
		WHERE p_partkey = ps_partkey AND s_suppkey = ps_suppkey AND s_nationkey = n_nationkey
			AND n_regionkey = r_regionkey AND r_name = 'EUROPE')
ORDER BY s_acctbal DESC, n_name, s_name, p_partkey
LIMIT 100;

-- name: q03_shipping_priority
-- path: duckdb
-- ordered
SELECT l_orderkey, sum(l_extendedprice * (1 - l_discount)) AS revenue, o_orderdate, o_shippriority
FROM customer, orders, lineitem
WHERE c_mktsegment = 'BUILDING' AND c_custkey = o_custkey AND l_orderkey = o_orderkey
	AND o_orderdate < date '1995-03-15' AND l_shipdate > date '1995-03-15'
GROUP BY l_orderkey, o_orderdate, o_shippriority
ORDER BY revenue DESC, o_orderdate, l_orderkey
LIMIT 10;

-- name: q04_order_priority_checking
-- path: duckdb
-- ordered
SELECT o_orderpriority, count(*) AS order_count
FROM orders
WHERE o_orderdate >= date '1993-07-01' AND o_orderdate < date '1993-07-01' + interval '3 months'
	AND EXISTS (SELECT * FROM lineitem WHERE l_orderkey = o_orderkey AND l_commitdate < l_receiptdate)
GROUP BY o_orderpriority
ORDER BY o_orderpriority;

-- name: q05_local_supplier_volume
-- path: duckdb
-- ordered
SELECT n_name, sum(l_extendedprice * (1 - l_discount)) AS revenue
FROM customer, orders, lineitem, supplier, nation, region
WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey AND l_suppkey = s_suppkey AND c_nationkey = s_nationkey
	AND s_nationkey = n_nationkey AND n_regionkey = r_regionkey AND r_name = 'ASIA'
	AND o_orderdate >= date '1994-01-01' AND o_orderdate < date '1994-01-01' + interval '1 year'
GROUP BY n_name
ORDER BY revenue DESC, n_name;

-- name: q06_forecasting_revenue_change
-- path: duckdb
SELECT sum(l_extendedprice * l_discount) AS revenue
FROM lineitem
WHERE l_shipdate >= date '1994-01-01' AND l_shipdate < date '1994-01-01' + interval '1 year'
	AND l_discount BETWEEN 0.06 - 0.01 AND 0.06 + 0.01 AND l_quantity < 24;

-- name: q07_volume_shipping
-- path: duckdb
-- ordered
SELECT supp_nation, cust_nation, l_year, sum(volume) AS revenue
FROM (SELECT n1.n_name AS supp_nation, n2.n_name AS cust_nation, extract(year FROM l_shipdate) AS l_year,
		l_extendedprice * (1 - l_discount) AS volume
	FROM supplier, lineitem, orders, customer, nation n1, nation n2
	WHERE s_suppkey = l_suppkey AND o_orderkey = l_orderkey AND c_custkey = o_custkey
		AND s_nationkey = n1.n_nationkey AND c_nationkey = n2.n_nationkey
		AND n1.n_name IN ('FRANCE', 'GERMANY', 'RUSSIA') AND n2.n_name IN ('FRANCE', 'GERMANY', 'RUSSIA')
		AND n1.n_name <> n2.n_name
		AND l_shipdate BETWEEN date '1995-01-01' AND date '1996-12-31') AS shipping
GROUP BY supp_nation, cust_nation, l_year
ORDER BY supp_nation, cust_nation, l_year;

-- name: q08_national_market_share
-- path: duckdb
-- ordered
SELECT o_year, sum(CASE WHEN nation = 'BRAZIL' THEN volume ELSE 0 END) / sum(volume) AS mkt_share
FROM (SELECT extract(year FROM o_orderdate) AS o_year, l_extendedprice * (1 - l_discount) AS volume,
		n2.n_name AS nation
	FROM part, supplier, lineitem, orders, customer, nation n1, nation n2, region
	WHERE p_partkey = l_partkey AND s_suppkey = l_suppkey AND l_orderkey = o_orderkey AND o_custkey = c_custkey
		AND c_nationkey = n1.n_nationkey AND n1.n_regionkey = r_regionkey AND r_name = 'AMERICA'
		AND s_nationkey = n2.n_nationkey AND o_orderdate BETWEEN date '1995-01-01' AND date '1996-12-31'
		AND p_type LIKE '%STEEL') AS all_nations
GROUP BY o_year
ORDER BY o_year;

-- name: q09_product_type_profit
-- path: duckdb
-- ordered
SELECT nation, o_year, sum(amount) AS sum_profit
FROM (SELECT n_name AS nation, extract(year FROM o_orderdate) AS o_year,
		l_extendedprice * (1 - l_discount) - ps_supplycost * l_quantity AS amount
	FROM part, supplier, lineitem, partsupp, orders, nation
	WHERE s_suppkey = l_suppkey AND ps_suppkey = l_suppkey AND ps_partkey = l_partkey AND p_partkey = l_partkey
		AND o_orderkey = l_orderkey AND s_nationkey = n_nationkey AND p_name LIKE '%green%') AS profit
GROUP BY nation, o_year
ORDER BY nation, o_year DESC;

-- name: q10_returned_item_reporting
-- path: duckdb
-- ordered
SELECT c_custkey, c_name, sum(l_extendedprice * (1 - l_discount)) AS revenue, c_acctbal, n_name, c_address,
	c_phone, c_comment
FROM customer, orders, lineitem, nation
WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey AND o_orderdate >= date '1993-10-01'
	AND o_orderdate < date '1993-10-01' + interval '3 months' AND l_returnflag = 'R' AND c_nationkey = n_nationkey
GROUP BY c_custkey, c_name, c_acctbal, c_phone, n_name, c_address, c_comment
ORDER BY revenue DESC, c_custkey
LIMIT 20;

-- name: q11_important_stock
-- path: duckdb
-- ordered
SELECT ps_partkey, sum(ps_supplycost * ps_availqty) AS value
FROM partsupp, supplier, nation
WHERE ps_suppkey = s_suppkey AND s_nationkey = n_nationkey AND n_name = 'GERMANY'
GROUP BY ps_partkey
HAVING sum(ps_supplycost * ps_availqty) > (SELECT sum(ps_supplycost * ps_availqty) * 0.01
	FROM partsupp, supplier, nation
	WHERE ps_suppkey = s_suppkey AND s_nationkey = n_nationkey AND n_name = 'GERMANY')
ORDER BY value DESC, ps_partkey;

-- name: q12_shipping_modes
-- path: duckdb
-- ordered
SELECT l_shipmode,
	sum(CASE WHEN o_orderpriority = '1-URGENT' OR o_orderpriority = '2-HIGH' THEN 1 ELSE 0 END) AS high_line_count,
	sum(CASE WHEN o_orderpriority <> '1-URGENT' AND o_orderpriority <> '2-HIGH' THEN 1 ELSE 0 END) AS low_line_count
FROM orders, lineitem
WHERE o_orderkey = l_orderkey AND l_shipmode IN ('MAIL', 'SHIP') AND l_commitdate < l_receiptdate
	AND l_shipdate < l_commitdate AND l_receiptdate >= date '1994-01-01'
	AND l_receiptdate < date '1994-01-01' + interval '1 year'
GROUP BY l_shipmode
ORDER BY l_shipmode;

-- name: q13_customer_distribution
-- path: duckdb
-- ordered
SELECT c_count, count(*) AS custdist
FROM (SELECT c_custkey, count(o_orderkey) AS c_count
	FROM customer LEFT OUTER JOIN orders ON c_custkey = o_custkey AND o_comment NOT LIKE '%special%requests%'
	GROUP BY c_custkey) AS c_orders
GROUP BY c_count
ORDER BY custdist DESC, c_count DESC;

-- name: q14_promotion_effect
-- path: duckdb
SELECT 100.00 * sum(CASE WHEN p_type LIKE 'PROMO%' THEN l_extendedprice * (1 - l_discount) ELSE 0 END)
	/ sum(l_extendedprice * (1 - l_discount)) AS promo_revenue
FROM lineitem, part
WHERE l_partkey = p_partkey AND l_shipdate >= date '1995-09-01' AND l_shipdate < date '1995-09-01' + interval '1 month';

-- name: q15_top_supplier
-- path: duckdb
-- ordered
WITH revenue AS (
	SELECT l_suppkey AS supplier_no, sum(l_extendedprice * (1 - l_discount)) AS total_revenue
	FROM lineitem
	WHERE l_shipdate >= date '1996-01-01' AND l_shipdate < date '1996-01-01' + interval '3 months'
	GROUP BY l_suppkey)
SELECT s_suppkey, s_name, s_address, s_phone, total_revenue
FROM supplier, revenue
WHERE s_suppkey = supplier_no AND total_revenue = (SELECT max(total_revenue) FROM revenue)
ORDER BY s_suppkey;

-- name: q16_parts_supplier_relationship
-- path: duckdb
-- ordered
SELECT p_brand, p_type, p_size, count(DISTINCT ps_suppkey) AS supplier_cnt
FROM partsupp, part
WHERE p_partkey = ps_partkey AND p_brand <> 'Brand#45' AND p_type NOT LIKE 'MEDIUM POLISHED%'
	AND p_size IN (49, 14, 23, 45, 19, 3, 36, 9)
	AND ps_suppkey NOT IN (SELECT s_suppkey FROM supplier WHERE s_comment LIKE '%Customer%Complaints%')
GROUP BY p_brand, p_type, p_size
ORDER BY supplier_cnt DESC, p_brand, p_type, p_size;

-- name: q17_small_quantity_order_revenue
-- path: duckdb
-- The average per part is a derived table joined on the part (TPC-H writes it as a subquery
-- correlated on p_partkey): through the row-by-row path each rescan of lineitem reads and converts
-- the whole table again (~0.4 s here), once per outer row.
SELECT sum(l_extendedprice) / 7.0 AS avg_yearly
FROM lineitem, part, (SELECT l_partkey AS agg_partkey, 0.6 * avg(l_quantity) AS avg_quantity
		FROM lineitem GROUP BY l_partkey) AS part_agg
WHERE p_partkey = l_partkey AND agg_partkey = p_partkey AND p_brand = 'Brand#23' AND p_container LIKE 'MED%'
	AND l_quantity < avg_quantity;

-- name: q18_large_volume_customer
-- path: duckdb
-- ordered
SELECT c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice, sum(l_quantity)
FROM customer, orders, lineitem
WHERE o_orderkey IN (SELECT l_orderkey FROM lineitem GROUP BY l_orderkey HAVING sum(l_quantity) > 250)
	AND c_custkey = o_custkey AND o_orderkey = l_orderkey
GROUP BY c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice
ORDER BY o_totalprice DESC, o_orderdate, o_orderkey
LIMIT 100;

-- name: q19_discounted_revenue
-- path: duckdb
SELECT sum(l_extendedprice * (1 - l_discount)) AS revenue
FROM lineitem, part
WHERE (p_partkey = l_partkey AND p_brand = 'Brand#12' AND p_container IN ('SM CASE', 'SM BOX', 'SM PACK', 'SM PKG')
		AND l_quantity >= 1 AND l_quantity <= 1 + 10 AND p_size BETWEEN 1 AND 25
		AND l_shipmode IN ('AIR', 'REG AIR') AND l_shipinstruct = 'DELIVER IN PERSON')
	OR (p_partkey = l_partkey AND p_brand = 'Brand#23' AND p_container IN ('MED BAG', 'MED BOX', 'MED PKG', 'MED PACK')
		AND l_quantity >= 10 AND l_quantity <= 10 + 10 AND p_size BETWEEN 1 AND 30
		AND l_shipmode IN ('AIR', 'REG AIR') AND l_shipinstruct = 'DELIVER IN PERSON')
	OR (p_partkey = l_partkey AND p_brand = 'Brand#34' AND p_container IN ('LG CASE', 'LG BOX', 'LG PACK', 'LG PKG')
		AND l_quantity >= 20 AND l_quantity <= 20 + 10 AND p_size BETWEEN 1 AND 50
		AND l_shipmode IN ('AIR', 'REG AIR') AND l_shipinstruct = 'DELIVER IN PERSON');

-- name: q20_potential_part_promotion
-- path: duckdb
-- ordered
-- The yearly quantity per part and supplier is a derived table (correlated in TPC-H, see q17).
SELECT s_name, s_address
FROM supplier, nation
WHERE s_suppkey IN (SELECT ps_suppkey FROM partsupp, (SELECT l_partkey, l_suppkey, 0.5 * sum(l_quantity) AS half_qty
			FROM lineitem
			WHERE l_shipdate >= date '1994-01-01' AND l_shipdate < date '1994-01-01' + interval '1 year'
			GROUP BY l_partkey, l_suppkey) AS shipped
		WHERE ps_partkey IN (SELECT p_partkey FROM part WHERE p_name LIKE 'forest%')
			AND l_partkey = ps_partkey AND l_suppkey = ps_suppkey AND ps_availqty > half_qty)
	AND s_nationkey = n_nationkey AND n_name IN ('CANADA', 'BRAZIL', 'PERU')
ORDER BY s_name;

-- name: q21_suppliers_who_kept_orders_waiting
-- path: duckdb
-- ordered
SELECT s_name, count(*) AS numwait
FROM supplier, lineitem l1, orders, nation
WHERE s_suppkey = l1.l_suppkey AND o_orderkey = l1.l_orderkey AND o_orderstatus = 'F'
	AND l1.l_receiptdate > l1.l_commitdate
	AND EXISTS (SELECT * FROM lineitem l2 WHERE l2.l_orderkey = l1.l_orderkey AND l2.l_suppkey <> l1.l_suppkey)
	AND NOT EXISTS (SELECT * FROM lineitem l3 WHERE l3.l_orderkey = l1.l_orderkey AND l3.l_suppkey <> l1.l_suppkey
		AND l3.l_receiptdate > l3.l_commitdate)
	AND s_nationkey = n_nationkey AND n_name IN ('SAUDI ARABIA', 'IRAN', 'IRAQ', 'EGYPT', 'JORDAN')
GROUP BY s_name
ORDER BY numwait DESC, s_name
LIMIT 100;

-- name: q22_global_sales_opportunity
-- path: duckdb
-- ordered
SELECT cntrycode, count(*) AS numcust, sum(c_acctbal) AS totacctbal
FROM (SELECT substring(c_phone FROM 1 FOR 2) AS cntrycode, c_acctbal
	FROM customer
	WHERE substring(c_phone FROM 1 FOR 2) IN ('13', '31', '23', '29', '30', '18', '17')
		AND c_acctbal > (SELECT avg(c_acctbal) FROM customer WHERE c_acctbal > 0.00
			AND substring(c_phone FROM 1 FOR 2) IN ('13', '31', '23', '29', '30', '18', '17'))
		AND NOT EXISTS (SELECT * FROM orders WHERE o_custkey = c_custkey)) AS custsale
GROUP BY cntrycode
ORDER BY cntrycode;

-- name: agg_integers
-- path: row
SELECT min(l_linenumber), max(l_linenumber), sum(l_linenumber), avg(l_linenumber), count(DISTINCT l_linenumber),
	min(l_orderkey), max(l_orderkey), sum(l_orderkey), avg(l_orderkey), sum(l_partkey), avg(l_suppkey),
	count(DISTINCT l_partkey), bit_or(l_linenumber), stddev_samp(l_partkey), count(*)
FROM lineitem;

-- name: agg_numerics
-- path: row
SELECT min(l_big), max(l_big), sum(l_big), avg(l_big), count(DISTINCT l_big), count(l_big), sum(l_quantity),
	avg(l_extendedprice), stddev_samp(l_extendedprice), var_pop(l_discount), max(l_extendedprice * l_tax)
FROM lineitem;

-- name: agg_unconstrained_numeric
-- path: row
SELECT min(o_ratio), max(o_ratio), sum(o_ratio), avg(o_ratio), count(DISTINCT o_ratio), count(o_ratio),
	sum(o_totalprice), avg(o_totalprice)
FROM orders;

-- name: agg_floats
-- path: row
SELECT min(l_weight), max(l_weight), sum(l_weight), avg(l_weight), count(DISTINCT l_weight), min(l_score),
	max(l_score), sum(l_score), avg(l_score), count(DISTINCT l_score)
FROM lineitem;

-- name: agg_floats_negative_zero
-- path: row
SELECT min(p_weight), max(p_weight), sum(p_weight), count(DISTINCT p_weight), min(o_score), max(o_score),
	sum(o_score), avg(o_score)
FROM part, (SELECT o_score FROM orders WHERE o_orderkey <= 400) o;

-- name: agg_temporal
-- path: row
SELECT min(o_orderdate), max(o_orderdate), max(o_orderdate) - min(o_orderdate), count(DISTINCT o_orderdate),
	min(o_created), max(o_created), min(o_updated), max(o_updated), min(o_wait), max(o_wait), sum(o_wait),
	avg(o_wait), count(DISTINCT o_wait)
FROM orders;

-- name: agg_temporal_infinity
-- path: row
SELECT min(l_shipped_at), max(l_shipped_at), count(*) FILTER (WHERE l_shipped_at = 'infinity'),
	count(*) FILTER (WHERE isfinite(l_shipped_at)), min(l_delay), max(l_delay), sum(l_delay),
	min(c_since), max(c_since)
FROM lineitem, (SELECT c_since FROM customer WHERE c_custkey <= 3) c;

-- name: agg_text
-- path: duckdb
SELECT min(c_name), max(c_comment COLLATE "C"), min(c_comment COLLATE "C"), count(DISTINCT c_mktsegment),
	string_agg(DISTINCT c_mktsegment, ',' ORDER BY c_mktsegment), min(c_phone), max(c_address), count(c_comment),
	max(length(c_comment)), min(l_tag COLLATE "C"), max(l_tag COLLATE "C"), count(DISTINCT l_tag)
FROM customer, (SELECT l_tag FROM lineitem WHERE l_orderkey < 300) l;

-- name: agg_by_bool_uuid_jsonb
-- path: row
-- ordered
SELECT c_active, count(*), count(c_prefs), count(DISTINCT c_uuid), bool_and((c_prefs ->> 'vip')::bool),
	bool_or((c_prefs ->> 'vip')::bool), sum((c_prefs ->> 'tier')::int), count(DISTINCT c_prefs)
FROM customer
GROUP BY c_active
ORDER BY c_active NULLS FIRST;

-- name: agg_by_bool_bytea
-- path: row
-- ordered
SELECT o_flag, o_payload IS NULL AS no_payload, count(*), count(DISTINCT o_payload), max(length(o_payload)),
	max(encode(o_payload, 'hex')), sum(length(o_payload)), count(DISTINCT o_token)
FROM orders
GROUP BY o_flag, o_payload IS NULL
ORDER BY 1, 2;

-- name: group_rollup
-- path: duckdb
SELECT l_returnflag, l_linestatus, extract(year FROM l_shipdate)::int AS yr, count(*), sum(l_quantity),
	grouping(l_returnflag, l_linestatus)
FROM lineitem
GROUP BY ROLLUP (l_returnflag, l_linestatus, yr);

-- name: group_grouping_sets
-- path: duckdb
SELECT c_mktsegment, c_nationkey, c_active, grouping(c_mktsegment, c_nationkey, c_active), count(*), sum(c_acctbal)
FROM customer
GROUP BY GROUPING SETS ((c_mktsegment), (c_nationkey, c_active), ());

-- name: group_cube
-- path: duckdb
SELECT o_orderstatus, o_orderpriority, count(*), avg(o_totalprice), max(o_created)
FROM orders
GROUP BY CUBE (o_orderstatus, o_orderpriority);

-- name: group_rollup_no_rows
-- path: duckdb
-- The empty grouping set gives its row (count 0, sums NULL) even when no row is read.
SELECT l_shipmode, l_returnflag, count(*), sum(l_quantity), max(l_shipdate), grouping(l_shipmode, l_returnflag)
FROM lineitem
WHERE l_shipdate > date '2100-01-01'
GROUP BY ROLLUP (l_shipmode, l_returnflag);

-- name: group_set_listed_twice
-- path: duckdb
-- A set listed twice (o_orderstatus, then ROLLUP's (o_orderstatus); CUBE of a column twice) gives
-- its groups twice.
SELECT o_orderstatus, count(*), sum(o_totalprice), max(o_orderdate), grouping(o_orderstatus)
FROM orders
GROUP BY o_orderstatus, ROLLUP (o_orderstatus)
UNION ALL
SELECT o_orderstatus, count(*), sum(o_totalprice), min(o_orderdate), grouping(o_orderstatus)
FROM orders
GROUP BY CUBE (o_orderstatus, o_orderstatus);

-- name: group_having
-- path: duckdb
SELECT o_custkey, count(*), sum(o_totalprice), max(o_orderdate), min(o_created)
FROM orders
GROUP BY o_custkey
HAVING count(*) > 12 AND sum(o_totalprice) > 100000;

-- name: window_rank
-- path: duckdb
-- ordered
SELECT c_custkey, c_mktsegment, c_acctbal,
	row_number() OVER (PARTITION BY c_mktsegment ORDER BY c_acctbal DESC, c_custkey),
	rank() OVER (PARTITION BY c_nationkey ORDER BY c_acctbal DESC),
	dense_rank() OVER (ORDER BY c_mktsegment),
	cume_dist() OVER (PARTITION BY c_active ORDER BY c_since NULLS FIRST)
FROM customer
ORDER BY c_custkey;

-- name: window_lag_running
-- path: duckdb
-- ordered
SELECT o_orderkey, o_custkey, o_orderdate, o_totalprice, lag(o_orderdate) OVER w, lead(o_totalprice, 2) OVER w,
	o_orderdate - lag(o_orderdate) OVER w AS gap,
	sum(o_totalprice) OVER (PARTITION BY o_custkey ORDER BY o_orderdate, o_orderkey
		ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running,
	avg(o_totalprice) OVER (PARTITION BY o_custkey ORDER BY o_orderdate, o_orderkey
		ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING) AS moving,
	first_value(o_orderkey) OVER w, last_value(o_score) OVER w, count(*) OVER (PARTITION BY o_custkey)
FROM orders
WINDOW w AS (PARTITION BY o_custkey ORDER BY o_orderdate, o_orderkey)
ORDER BY o_orderkey;

-- name: window_range_frame
-- path: duckdb
-- ordered
SELECT l_orderkey, l_linenumber, l_shipdate,
	sum(l_quantity) OVER (ORDER BY l_shipdate RANGE BETWEEN interval '3 days' PRECEDING AND CURRENT ROW),
	ntile(4) OVER (ORDER BY l_extendedprice, l_orderkey, l_linenumber),
	percent_rank() OVER (PARTITION BY l_shipmode ORDER BY l_quantity),
	max(l_tax) OVER (PARTITION BY l_orderkey)
FROM lineitem
WHERE l_orderkey < 2000
ORDER BY l_orderkey, l_linenumber;

-- name: window_percent_rank
-- path: duckdb
-- ordered
-- Partitions of one row (0 in both), ties, NULLs first and last.
SELECT c_custkey, percent_rank() OVER (PARTITION BY c_nationkey ORDER BY c_acctbal, c_custkey),
	percent_rank() OVER (PARTITION BY c_custkey ORDER BY c_acctbal), cume_dist() OVER (ORDER BY c_since DESC),
	percent_rank() OVER (PARTITION BY c_active ORDER BY c_since NULLS FIRST), cume_dist() OVER (PARTITION BY c_custkey)
FROM customer
ORDER BY c_custkey;

-- name: window_offset_frames
-- path: duckdb
-- ordered
-- RANGE offsets over nullable date, timestamp and int2 columns (a NULL row's frame is its NULL
-- peers), month and year arithmetic, both directions, and ROWS offsets.
SELECT 'c' AS side, c_custkey, c_since,
	count(*) OVER (ORDER BY c_since RANGE BETWEEN interval '1 month' PRECEDING AND interval '10 days' FOLLOWING),
	sum(c_acctbal) OVER (ORDER BY c_since DESC RANGE BETWEEN interval '1 year' PRECEDING AND CURRENT ROW),
	min(c_custkey) OVER (PARTITION BY c_mktsegment ORDER BY c_nationkey RANGE BETWEEN 2 PRECEDING AND 1 FOLLOWING),
	max(c_acctbal) OVER (ORDER BY c_custkey ROWS BETWEEN 3 PRECEDING AND 1 PRECEDING),
	count(*) OVER (ORDER BY c_since NULLS FIRST RANGE BETWEEN CURRENT ROW AND interval '30 days' FOLLOWING)
FROM customer
UNION ALL
SELECT 's', s_suppkey, NULL,
	count(*) OVER (ORDER BY s_since RANGE BETWEEN interval '100 days 2 hours' PRECEDING AND CURRENT ROW),
	sum(s_acctbal) OVER (ORDER BY s_since DESC NULLS LAST RANGE BETWEEN interval '1 month 1 day' PRECEDING
		AND interval '1 hour' FOLLOWING),
	min(s_suppkey) OVER (ORDER BY s_rating RANGE BETWEEN 1 PRECEDING AND 2 FOLLOWING),
	max(s_acctbal) OVER (ORDER BY s_rating DESC, s_suppkey ROWS 2 PRECEDING),
	count(*) OVER (ORDER BY s_rating NULLS FIRST RANGE BETWEEN UNBOUNDED PRECEDING AND 1 FOLLOWING)
FROM supplier
ORDER BY 1, 2;

-- name: distinct_columns
-- path: duckdb
SELECT DISTINCT l_shipmode, l_returnflag, l_tag FROM lineitem;

-- name: distinct_on
-- path: duckdb
-- ordered
SELECT DISTINCT ON (o_custkey) o_custkey, o_orderkey, o_orderdate, o_totalprice
FROM orders
ORDER BY o_custkey, o_orderdate DESC, o_orderkey DESC;

-- name: cte_joined_ctes
-- path: duckdb
-- ordered
WITH cust_rev AS (
	SELECT o_custkey, sum(o_totalprice) AS rev, count(*) AS n FROM orders GROUP BY o_custkey),
seg AS (
	SELECT c_mktsegment, c_custkey, c_nationkey FROM customer WHERE c_active IS NOT FALSE)
SELECT seg.c_mktsegment, n_name, count(*), sum(rev), max(n), avg(rev)
FROM seg JOIN cust_rev ON cust_rev.o_custkey = seg.c_custkey JOIN nation ON n_nationkey = seg.c_nationkey
GROUP BY seg.c_mktsegment, n_name
ORDER BY 1, 2;

-- name: correlated_scalar_subqueries
-- path: duckdb
-- ordered
SELECT n_nationkey, n_name, (SELECT count(*) FROM customer WHERE c_nationkey = n_nationkey) AS customers,
	(SELECT max(s_acctbal) FROM supplier WHERE s_nationkey = n_nationkey) AS best_supplier
FROM nation
ORDER BY n_nationkey;

-- name: in_and_not_in
-- path: duckdb
SELECT count(*), sum(p_retailprice)
FROM part
WHERE p_partkey IN (SELECT l_partkey FROM lineitem WHERE l_shipmode = 'AIR')
	AND p_partkey NOT IN (SELECT ps_partkey FROM partsupp WHERE ps_availqty < 500);

-- name: exists_and_not_exists
-- path: duckdb
SELECT c_custkey, c_name
FROM customer c
WHERE NOT EXISTS (SELECT 1 FROM orders WHERE o_custkey = c.c_custkey AND o_orderdate > date '1998-01-01')
	AND EXISTS (SELECT 1 FROM orders o JOIN lineitem ON l_orderkey = o.o_orderkey
		WHERE o.o_custkey = c.c_custkey AND l_returnflag = 'R');

-- name: left_join_nulls
-- path: duckdb
SELECT c_custkey, c_name, o_orderkey, o_comment, o_score
FROM customer LEFT JOIN orders ON o_custkey = c_custkey AND o_orderdate < date '1992-03-01'
WHERE c_custkey < 100;

-- name: full_join_nulls
-- path: duckdb
SELECT n_nationkey, n_name, s_suppkey, coalesce(s_comment, n_comment, 'none')
FROM nation FULL JOIN (SELECT * FROM supplier WHERE s_acctbal > 0) s ON s_nationkey = n_nationkey;

-- name: date_arithmetic
-- path: row
-- ordered
SELECT o_orderkey, o_orderdate + interval '1 month', o_orderdate + 30, o_orderdate - date '1992-01-01',
	date_trunc('month', o_orderdate), date_trunc('week', o_created), extract(dow FROM o_orderdate),
	extract(epoch FROM o_created), extract(quarter FROM o_orderdate), to_char(o_orderdate, 'YYYY-MM Dy'),
	age(date '1999-01-01', o_orderdate), o_created - o_updated, o_created::date, o_updated::time
FROM orders
WHERE o_orderkey % 50 = 0 OR o_orderkey IN (20, 24)
ORDER BY o_orderkey;

-- name: date_differences_by_mode
-- path: row
-- ordered
SELECT l_shipmode, avg(l_receiptdate - l_shipdate), max(l_receiptdate - l_commitdate),
	count(*) FILTER (WHERE l_shipdate + l_delay > l_commitdate), min(l_shipdate + l_delay),
	sum(extract(day FROM l_delay))
FROM lineitem
GROUP BY l_shipmode
ORDER BY l_shipmode;

-- name: timestamptz_in_session_zone
-- path: duckdb
-- ordered
SELECT date_trunc('day', l_shipped_at), count(*), min(l_shipped_at AT TIME ZONE 'UTC'), max(l_shipped_at::date),
	max(l_shipped_at)
FROM lineitem
WHERE l_shipped_at BETWEEN timestamptz '1995-01-01 00:00-03:30' AND timestamptz '1995-03-01 00:00+00'
GROUP BY 1
ORDER BY 1;

-- name: timestamptz_at_utc_edges
-- path: duckdb
-- ordered
-- AT TIME ZONE 'UTC' of infinite, far-future, pre-1900 and NULL timestamptz values.
SELECT l_orderkey, l_linenumber, l_shipped_at AT TIME ZONE 'UTC', l_shipped_at AT TIME ZONE 'Etc/UTC'
FROM lineitem
WHERE l_shipped_at NOT BETWEEN timestamptz '1990-01-01 00:00+00' AND timestamptz '2030-01-01 00:00+00'
	OR l_orderkey < 40
ORDER BY l_orderkey, l_linenumber;

-- name: string_functions
-- path: row
-- ordered
SELECT c_custkey, lower(c_mktsegment), upper(c_comment), substr(c_name, 10), length(c_phone), octet_length(c_phone),
	c_name || '/' || c_mktsegment, trim(c_mktsegment) || '!', replace(c_address, 'caddr', 'A'),
	split_part(c_phone, '-', 2), c_comment LIKE '%special%', c_comment ILIKE 'customer%', position('5' IN c_phone),
	left(c_name, 3), md5(c_name), c_mktsegment::text, c_prefs::text
FROM customer
ORDER BY c_custkey;

-- name: like_filters_three_valued
-- path: duckdb
SELECT count(*), count(*) FILTER (WHERE p_comment NOT LIKE 'part 1%'), count(p_comment)
FROM part
WHERE p_name LIKE '%green%' OR p_type LIKE 'PROMO%' OR p_comment NOT LIKE 'part 1%';

-- name: case_coalesce_casts
-- path: row
-- ordered
SELECT o_orderkey, CASE WHEN o_score IS NULL THEN 'none' WHEN o_score < 0 THEN 'neg' ELSE 'pos' END,
	coalesce(o_comment, o_clerk), nullif(o_shippriority, 0), o_totalprice::int, o_totalprice::float8,
	round(o_ratio, 2), o_score::numeric, o_score::text, o_flag::int, o_token::text, o_wait::text,
	greatest(o_orderdate, date '1995-01-01'), o_payload::text, o_created::text, o_orderkey::int2 AS key2
FROM orders
WHERE o_orderkey < 400
ORDER BY o_orderkey;

-- name: order_nulls_first_limit_offset
-- path: duckdb
-- ordered
SELECT o_orderkey, o_score, o_updated
FROM orders
ORDER BY o_score DESC NULLS FIRST, o_orderkey
LIMIT 25 OFFSET 100;

-- name: order_nulls_last_text_c
-- path: row
-- ordered
SELECT l_tag, l_delay, l_orderkey, l_linenumber
FROM lineitem
ORDER BY l_tag COLLATE "C" NULLS FIRST, l_delay DESC NULLS LAST, l_orderkey, l_linenumber
LIMIT 50 OFFSET 10;

-- name: heap_join_segment_target
-- path: row
-- ordered
SELECT c_mktsegment, t.target, t.owner, count(*), sum(c_acctbal), sum(c_acctbal) > t.target
FROM customer JOIN src.segment_target t ON t.mktsegment = c_mktsegment
GROUP BY 1, 2, 3
ORDER BY 1;

-- name: heap_left_join_orders
-- path: row
SELECT c.c_mktsegment, t.owner, count(o_orderkey), sum(o_totalprice)
FROM customer c LEFT JOIN src.segment_target t ON t.mktsegment = c.c_mktsegment
	LEFT JOIN orders ON o_custkey = c.c_custkey
GROUP BY 1, 2;

-- name: uuid_equality
-- path: duckdb
SELECT o_orderkey, o_token, c_custkey, c_uuid
FROM orders JOIN customer ON c_custkey = o_custkey
WHERE o_token = md5('order12')::uuid OR o_token IN (md5('order100')::uuid, md5('order2999')::uuid)
	OR c_uuid = md5('cust7')::uuid;

-- name: jsonb_filters
-- path: row
-- ordered
SELECT c_custkey, c_prefs, c_prefs ->> 'tier', c_prefs -> 'tags' ->> 0, c_prefs ? 'vip'
FROM customer
WHERE c_prefs = '{"tier": 2, "tags": ["a"], "vip": false}'::jsonb OR c_prefs @> '{"vip": true, "tier": 3}'
ORDER BY c_custkey;

-- name: bytea_filters
-- path: row
-- ordered
SELECT o_orderkey, o_payload, length(o_payload), encode(o_payload, 'hex')
FROM orders
WHERE o_payload = '\x'::bytea OR o_payload = decode(substr(md5('17'), 1, 4), 'hex') OR o_payload < '\x08'::bytea
ORDER BY o_orderkey;

-- name: filters_on_every_type
-- path: row
-- ordered
SELECT 'int2', count(*) FROM lineitem WHERE l_linenumber = 3
UNION ALL SELECT 'int4', count(*) FROM lineitem WHERE l_partkey BETWEEN 100 AND 150
UNION ALL SELECT 'int8', count(*) FROM lineitem WHERE l_orderkey > 6000
UNION ALL SELECT 'numeric(12,2)', count(*) FROM lineitem WHERE l_quantity = 25.00
UNION ALL SELECT 'numeric(38,6)', count(*) FROM lineitem WHERE l_big < -500000.5
UNION ALL SELECT 'numeric', count(*) FROM orders WHERE o_ratio > 100000
UNION ALL SELECT 'float4', count(*) FROM lineitem WHERE l_weight = 12.25
UNION ALL SELECT 'float8', count(*) FROM orders WHERE o_score < -100.5
UNION ALL SELECT 'float8 zero', count(*) FROM orders WHERE o_score = 0
UNION ALL SELECT 'bool', count(*) FROM customer WHERE c_active IS NOT TRUE
UNION ALL SELECT 'date', count(*) FROM orders WHERE o_orderdate = date '1995-06-17'
UNION ALL SELECT 'date old', count(*) FROM customer WHERE c_since < date '1900-01-01'
UNION ALL SELECT 'timestamp', count(*) FROM orders WHERE o_updated > timestamp '1997-01-01 12:00'
UNION ALL SELECT 'timestamptz', count(*) FROM orders WHERE o_created >= timestamptz '1996-01-01 00:00:00+05:30'
UNION ALL SELECT 'timestamptz far', count(*) FROM orders WHERE o_created > timestamptz '3000-01-01 00:00+00'
UNION ALL SELECT 'text', count(*) FROM lineitem WHERE l_tag = 'beta'
UNION ALL SELECT 'text empty', count(*) FROM lineitem WHERE l_tag = ''
UNION ALL SELECT 'varchar', count(*) FROM part WHERE p_type LIKE 'LARGE%'
UNION ALL SELECT 'char(n)', count(*) FROM lineitem WHERE l_shipmode = 'AIR'
UNION ALL SELECT 'interval', count(*) FROM orders WHERE o_wait > interval '1 day 3 hours'
UNION ALL SELECT 'uuid null', count(*) FROM orders WHERE o_token IS NULL
UNION ALL SELECT 'uuid range', count(*) FROM customer WHERE c_uuid > 'a0000000-0000-0000-0000-000000000000'
UNION ALL SELECT 'jsonb', count(*) FROM customer WHERE c_prefs ? 'tier' AND (c_prefs ->> 'tier')::int > 1
UNION ALL SELECT 'bytea', count(*) FROM orders WHERE o_payload > '\x80'::bytea
ORDER BY 1;

-- name: numeric_edges
-- path: row
-- ordered
SELECT o_orderkey, o_ratio, o_ratio * 2, o_ratio / 3, round(o_ratio, 1), scale(o_ratio), o_ratio::text,
	-o_ratio
FROM orders
WHERE o_ratio > 1e20 OR o_ratio < 0 OR o_orderkey < 60
ORDER BY o_orderkey;

-- name: set_operations
-- path: duckdb
SELECT l_suppkey FROM lineitem WHERE l_shipmode = 'AIR'
INTERSECT SELECT ps_suppkey FROM partsupp WHERE ps_availqty > 9000
EXCEPT SELECT s_suppkey FROM supplier WHERE s_acctbal < 0
UNION ALL SELECT n_nationkey FROM nation WHERE n_comment IS NULL;

-- name: nested_aggregate_having
-- path: duckdb
-- ordered
SELECT nation, count(*), avg(cnt), max(cnt)
FROM (SELECT n_name AS nation, o_custkey, count(*) AS cnt
	FROM orders JOIN customer ON c_custkey = o_custkey JOIN nation ON n_nationkey = c_nationkey
	GROUP BY 1, 2) AS per_customer
GROUP BY nation
HAVING avg(cnt) > 5
ORDER BY nation;

-- name: count_distinct_per_type
-- path: row
-- ordered
SELECT o_orderpriority, count(DISTINCT o_custkey), count(DISTINCT o_clerk), count(DISTINCT o_orderdate),
	count(DISTINCT o_wait), count(DISTINCT o_score), count(DISTINCT o_token), count(DISTINCT o_payload),
	count(DISTINCT o_ratio), count(DISTINCT o_created), count(DISTINCT o_updated)
FROM orders
GROUP BY o_orderpriority
ORDER BY o_orderpriority;

-- name: ordered_set_aggregates
-- path: row
-- ordered
SELECT l_shipmode, percentile_cont(0.5) WITHIN GROUP (ORDER BY l_extendedprice),
	percentile_disc(0.9) WITHIN GROUP (ORDER BY l_shipdate), mode() WITHIN GROUP (ORDER BY l_linenumber)
FROM lineitem
GROUP BY l_shipmode
ORDER BY l_shipmode;

-- name: ordered_array_aggregates
-- path: row
-- ordered
SELECT o_custkey, array_agg(o_orderkey ORDER BY o_orderkey), string_agg(o_orderstatus, '' ORDER BY o_orderdate, o_orderkey),
	jsonb_agg(o_score ORDER BY o_orderkey), array_agg(DISTINCT o_orderpriority)
FROM orders
WHERE o_custkey < 20
GROUP BY o_custkey
ORDER BY o_custkey;

-- name: lateral_top_n
-- path: duckdb
-- ordered
SELECT c_custkey, x.o_orderkey, x.o_totalprice
FROM customer, LATERAL (SELECT o_orderkey, o_totalprice FROM orders WHERE o_custkey = c_custkey
	ORDER BY o_totalprice DESC, o_orderkey LIMIT 2) x
WHERE c_custkey < 12
ORDER BY 1, 2;

-- name: self_join
-- path: duckdb
SELECT a.l_orderkey, count(*), sum(a.l_quantity + b.l_quantity)
FROM lineitem a JOIN lineitem b ON a.l_orderkey = b.l_orderkey AND a.l_linenumber < b.l_linenumber
	AND a.l_suppkey = b.l_suppkey
GROUP BY a.l_orderkey;

-- name: empty_aggregate
-- path: duckdb
SELECT count(*), sum(l_quantity), max(l_shipdate), avg(l_score), bool_and(l_tag = 'x')
FROM lineitem
WHERE l_shipdate > date '2100-01-01';

-- name: values_join_char
-- path: duckdb
-- ordered
SELECT l_shipmode, v.label, count(*)
FROM lineitem JOIN (VALUES ('AIR', 'fast'), ('RAIL', 'slow'), ('FOB ', 'pad')) AS v(mode, label)
	ON l_shipmode = v.mode::char(10)
GROUP BY 1, 2
ORDER BY 1;

-- name: generate_series_left_join
-- path: duckdb
-- ordered
SELECT d::date, count(o_orderkey), sum(o_totalprice)
FROM generate_series(date '1995-01-01', date '1995-03-31', interval '1 week') AS d
	LEFT JOIN orders ON o_orderdate >= d AND o_orderdate < d + interval '7 days'
GROUP BY 1
ORDER BY 1;

-- name: bool_logic_rollup
-- path: duckdb
SELECT c_active, o_flag, count(*), bool_or(o_flag AND c_active), every(o_totalprice > 1000)
FROM customer JOIN orders ON o_custkey = c_custkey
GROUP BY ROLLUP (c_active, o_flag);

-- name: group_by_mixed_case_text
-- path: duckdb
-- ordered
SELECT l_tag, count(*), sum(l_quantity)
FROM lineitem
GROUP BY l_tag
ORDER BY l_tag COLLATE "C" NULLS LAST;

-- name: interval_arithmetic
-- path: row
-- ordered
SELECT o_orderkey, o_wait, o_wait * 2, o_wait / 3, justify_hours(o_wait), extract(epoch FROM o_wait),
	o_orderdate + o_wait, -o_wait
FROM orders
WHERE o_wait < interval '1 day'
ORDER BY o_orderkey
LIMIT 100;

-- name: timestamp_functions
-- path: row
-- ordered
SELECT s_suppkey, s_since, s_since + interval '1 day 2 hours', date_trunc('hour', s_since),
	extract(isodow FROM s_since), to_char(s_since, 'YYYY-MM-DD HH24:MI:SS'), s_since::timestamptz AS since_tz, s_rating,
	s_rating * 2 - 1
FROM supplier
ORDER BY s_since NULLS FIRST, s_suppkey;

-- name: exists_select_star
-- path: duckdb
-- ordered
-- The subqueries select * of tables with columns DuckDB does not read (float4, interval, bytea,
-- jsonb); PostgreSQL never evaluates an EXISTS select list, and neither does DuckDB then.
SELECT c_custkey, c_mktsegment
FROM customer
WHERE EXISTS (SELECT * FROM orders JOIN lineitem ON l_orderkey = o_orderkey
		WHERE o_custkey = c_custkey AND l_shipmode = 'AIR' AND l_tag IS NULL)
	AND NOT EXISTS (SELECT * FROM orders o2 WHERE o2.o_custkey = c_custkey AND o2.o_orderstatus = 'P'
		AND EXISTS (SELECT * FROM part WHERE p_partkey = o2.o_custkey))
ORDER BY c_custkey;

-- name: exists_reads_interval_column
-- path: row
-- The subquery uses a column DuckDB does not read as PostgreSQL does (interval, stored as text).
SELECT count(*)
FROM customer
WHERE EXISTS (SELECT * FROM orders WHERE o_custkey = c_custkey AND o_wait > interval '1 day');

-- name: values_list_types
-- path: duckdb
-- ordered
-- Integers, text with NULL and empty, numerics of one scale (negative, zero, NULL), dates (year 44,
-- infinite) and timestamps in a VALUES list, joined to a lake table.
SELECT v.k, v.label, v.amount, v.day, isfinite(v.day), v.at, isfinite(v.at), count(c_custkey), sum(c_acctbal)
FROM (VALUES (1, 'one', 1.50, date '1995-01-01', timestamp '2000-02-29 12:00'),
		(2, NULL, -2.25, NULL, timestamp '-infinity'),
		(3, 'three', NULL, date '0044-03-15', NULL),
		(-4, '', 0.00, date 'infinity', timestamp '1899-12-31 23:59:59.5')) AS v(k, label, amount, day, at)
	LEFT JOIN customer ON c_nationkey = v.k
GROUP BY 1, 2, 3, 4, 5, 6, 7
ORDER BY 1;

-- name: values_default_column_names
-- path: duckdb
-- ordered
SELECT column1, n_name, column2
FROM (VALUES (1, 10::int8), (3, NULL), (24, -1)) v JOIN nation ON n_nationkey = column1
ORDER BY 1;

-- name: values_numeric_scales
-- path: row
-- PostgreSQL keeps each numeric's own scale (2, not 2.0); DuckDB's VALUES column has one type.
SELECT v.x, n_name
FROM (VALUES (1.5), (2)) v(x) JOIN nation ON n_nationkey = v.x::int;

-- name: generate_series_integers
-- path: duckdb
-- ordered
-- int4 series (values and arithmetic int4, as in PostgreSQL), a negative start, a step, and a
-- correlated series that is empty for the larger g.
SELECT g, g * 2 - 1, count(o_orderkey), min(o_orderkey), (SELECT count(*) FROM generate_series(g, 3) h)
FROM generate_series(-3, 10, 2) g
	LEFT JOIN orders ON o_custkey = g
GROUP BY g
ORDER BY g;

-- name: generate_series_empty_descending_int8
-- path: duckdb
SELECT 'desc' AS kind, g, NULL::int8 AS n FROM generate_series(5, -5, -3) g
UNION ALL SELECT 'empty', g, count(*) OVER () FROM generate_series(3, 1) g
UNION ALL SELECT 'int8', g, n_nationkey FROM generate_series(4294967296, 4294967298) g, nation WHERE n_nationkey < 2
UNION ALL SELECT 'lateral', s.g, n_nationkey FROM nation, generate_series(n_regionkey, 2) s(g) WHERE n_nationkey < 6;

-- name: generate_series_months
-- path: duckdb
-- ordered
-- A month from January 31 is February 28, then March 28 (each step from the previous value).
SELECT d, count(o_orderkey), min(o_orderkey)
FROM generate_series(timestamp '1995-01-31', timestamp '1995-12-31', interval '1 month') d
	LEFT JOIN orders ON o_orderdate >= d AND o_orderdate < d + interval '1 month'
GROUP BY d
ORDER BY d;

-- name: generate_series_timestamptz_dst
-- path: duckdb
-- ordered
-- Steps across the session zone's daylight saving change (America/St_Johns, April 2 1995).
SELECT d, d::date AS day, count(*) FILTER (WHERE o_created < d)
FROM generate_series(timestamptz '1995-03-31 23:30', timestamptz '1995-04-06', interval '1 day 5 hours') d, orders
GROUP BY d
ORDER BY d;

-- name: group_by_distinct_sets
-- path: duckdb
-- The sets of both rollups' product, each once: (s, p, s) is (s, p), (s, s) is (s).
SELECT o_orderstatus, o_orderpriority, count(*), sum(o_totalprice), grouping(o_orderstatus, o_orderpriority)
FROM orders
GROUP BY DISTINCT ROLLUP (o_orderstatus, o_orderpriority), ROLLUP (o_orderstatus);

-- name: group_by_distinct_no_rows_and_plain
-- path: duckdb
SELECT l_shipmode, count(*), grouping(l_shipmode), sum(l_quantity)
FROM lineitem
WHERE l_shipdate > date '2100-01-01'
GROUP BY DISTINCT CUBE (l_shipmode), GROUPING SETS ((l_shipmode), ())
UNION ALL
SELECT c_mktsegment, count(*), 0, sum(c_acctbal)
FROM customer
GROUP BY DISTINCT c_mktsegment, c_mktsegment;

-- name: bit_aggregates
-- path: duckdb
-- ordered
-- int2 (NULLs, negatives; a nation whose ratings are all NULL), int4 and int8, and no rows.
SELECT s_nationkey, bit_or(s_rating), bit_and(s_rating), bit_xor(s_rating), bit_or(s_suppkey - 25),
	bit_and(s_suppkey::int8 * -3), bit_xor(s_suppkey) FILTER (WHERE s_suppkey > 1000), bool_or(s_rating < 0)
FROM supplier
GROUP BY s_nationkey
ORDER BY s_nationkey;

-- name: bit_aggregates_lineitem
-- path: duckdb
SELECT bit_or(l_linenumber), bit_and(l_linenumber), bit_xor(l_orderkey), bit_or(l_partkey) FILTER (WHERE l_partkey < 0),
	bit_and(l_suppkey)
FROM lineitem;

-- name: isodow_week_octet_length
-- path: duckdb
-- ordered
-- Dates before 1900 and BC, timestamps and timestamptz (the session's zone), multibyte and empty text.
SELECT c_custkey, c_since, extract(isodow FROM c_since), extract(week FROM c_since), date_part('isodow', c_since),
	isfinite(c_since), octet_length(c_comment), octet_length(c_name || 'é'), octet_length(c_phone),
	octet_length(c_mktsegment), octet_length(c_comment::char(30)), octet_length(''::char(3)), octet_length(min(c_mktsegment) OVER ())
FROM customer
WHERE c_custkey < 40
ORDER BY c_custkey;

-- name: isodow_octet_length_lineitem
-- path: duckdb
-- ordered
SELECT l_orderkey, l_linenumber, extract(isodow FROM l_shipped_at), extract(week FROM l_shipped_at),
	isfinite(l_shipped_at), octet_length(l_tag), octet_length(l_comment), extract(isodow FROM o_updated),
	extract(week FROM o_created), isfinite(o_created)
FROM lineitem JOIN orders ON o_orderkey = l_orderkey
WHERE l_orderkey < 200 OR l_tag LIKE 'na%'
ORDER BY l_orderkey, l_linenumber;

-- name: numeric_to_integer_casts
-- path: duckdb
-- ordered
-- Halves round away from zero (2.50 -> 3, -2.50 -> -3), to int2, int4 and int8.
SELECT l_orderkey, l_linenumber, (l_discount * 50)::int, (-l_discount * 50)::int2, (l_tax * -150)::int8,
	l_quantity::int, (l_extendedprice * 0.01)::int4, round(l_extendedprice, 1)::int8
FROM lineitem
WHERE l_orderkey < 300
ORDER BY l_orderkey, l_linenumber;

-- name: float_to_integer_cast
-- path: row
-- DuckDB's double to integer cast wraps at the edge (2147483647.5 gives -2147483648).
SELECT o_orderkey, o_score::int
FROM orders
WHERE o_orderkey < 100;

-- name: uuid_from_text
-- path: duckdb
-- ordered
-- Text to uuid in the forms PostgreSQL reads: upper case, braces, no hyphens, a hyphen after any
-- group of four digits, NULL (others are an error in both: test/regress/sql/65_duckdb_types.sql).
SELECT c_custkey, upper(m)::uuid, ('{' || m || '}')::uuid, (substr(m, 1, 4) || '-' || substr(m, 5))::uuid,
	(substr(m, 1, 8) || '-' || substr(m, 9, 4) || '-' || substr(m, 13, 4) || '-' || substr(m, 17, 4) || '-' ||
		substr(m, 21))::uuid = c_uuid,
	CASE WHEN c_custkey % 5 = 0 THEN NULL ELSE m END::uuid
FROM (SELECT c_custkey, c_uuid, md5('cust' || c_custkey::text) AS m FROM customer WHERE c_custkey < 30) c
ORDER BY c_custkey;

-- name: date_constant_before_year_one
-- path: row
-- pg_get_querydef writes '0044-03-15 BC', which DuckDB would read as year 44 AD.
SELECT c_custkey, c_since
FROM customer
WHERE c_since < date '0001-01-01' OR c_since = date '0044-03-15 BC';

-- name: avg_compared
-- path: duckdb
-- avg of int2/int4/int8/numeric compared directly, through arithmetic and as a scalar subquery;
-- ties with the exact quotient (avg 25.50 = 25.5), negatives, an empty group's NULL, FILTER and
-- DISTINCT.
SELECT l_returnflag::text, count(*), sum(l_quantity)
FROM lineitem
GROUP BY l_returnflag
HAVING avg(l_quantity) > 25 AND avg(l_linenumber) * 2 >= 3 AND avg(DISTINCT l_orderkey) - 1 <> 0
	AND (avg(l_partkey) FILTER (WHERE l_partkey < 0) > 0) IS NOT TRUE
UNION ALL
SELECT 'c', count(*), sum(c_acctbal)
FROM customer
WHERE c_acctbal < (SELECT avg(c_acctbal) FROM customer WHERE c_nationkey = 3)
	AND -c_acctbal * 2 > (SELECT 0.5 * avg(s_acctbal) - avg(s_rating) FROM supplier)
UNION ALL
SELECT 'p', count(*), sum(p_size)
FROM part
WHERE p_size = (SELECT avg(p2.p_size) FROM part p2 WHERE p2.p_size IN (24, 26))
	OR p_size > (SELECT avg(p_size) FROM part WHERE p_size > 100);

-- name: avg_compared_correlated
-- path: duckdb
-- ordered
SELECT c_custkey, c_acctbal
FROM customer
WHERE c_custkey < 40
	AND c_acctbal * 10 > (SELECT avg(o_totalprice) FROM orders WHERE o_custkey = c_custkey AND o_orderkey < 4000)
ORDER BY c_custkey;

-- name: avg_in_expression_output
-- path: row
-- The avg's value reaches the result through arithmetic: its text (scale) is PostgreSQL's own.
SELECT l_returnflag, avg(l_quantity) * 2
FROM lineitem
GROUP BY l_returnflag;

-- name: window_avg_exact
-- path: duckdb
-- ordered
-- avg over windows of int2 (NULLs, negatives), int4, int8 and numeric: frames that are empty at
-- the partition's end (NULL), FILTER, a running and a whole-partition frame.
SELECT s_suppkey, s_nationkey,
	avg(s_rating) OVER (PARTITION BY s_nationkey ORDER BY s_suppkey ROWS BETWEEN 1 FOLLOWING AND 3 FOLLOWING),
	avg(s_suppkey) OVER (ORDER BY s_suppkey ROWS BETWEEN 2 PRECEDING AND CURRENT ROW),
	avg(s_suppkey::int8 * -7) OVER (PARTITION BY s_nationkey),
	avg(s_acctbal) FILTER (WHERE s_acctbal < 0) OVER (PARTITION BY s_nationkey ORDER BY s_suppkey),
	avg(s_acctbal) OVER (ORDER BY s_acctbal, s_suppkey RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
FROM supplier
ORDER BY s_suppkey;

-- name: window_avg_sorted
-- path: row
-- A window avg sorted by: its value would be DuckDB's text.
SELECT s_suppkey, avg(s_acctbal) OVER (PARTITION BY s_nationkey) AS a
FROM supplier
ORDER BY a, s_suppkey;

-- name: cast_to_char_n
-- path: duckdb
-- ordered
-- Explicit casts to char(n): text cut to n characters (multibyte ones counted as one), trailing
-- spaces, empty and NULL text, char(m) to a shorter char(n); compared, grouped and returned padded.
SELECT l_tag::char(3) AS tag3, (l_tag || '  ')::char(6) = l_tag::char(6), l_shipmode::char(4), count(*),
	min(l_comment::char(12)), max(l_orderkey)
FROM lineitem
WHERE l_orderkey < 2000
GROUP BY 1, 2, 3
ORDER BY l_tag::char(3) COLLATE "C" NULLS FIRST, 2, l_shipmode::char(4) COLLATE "C";

-- name: cast_to_char_implicit_length
-- path: row
-- An assignment-style cast (char(n) of a longer text fails there, where an explicit cast cuts it)
-- stays with PostgreSQL; so does char without a length.
SELECT count(*)
FROM lineitem
WHERE l_tag::bpchar = 'alpha';

-- name: avg_derived_table_compared
-- path: duckdb
-- ordered
-- A derived table's avg columns that the outer query only compares (twice, through arithmetic).
SELECT o_custkey, count(*)
FROM orders, (SELECT l_orderkey AS k, avg(l_quantity) AS q, avg(l_linenumber) - 1 AS n FROM lineitem GROUP BY 1) a
WHERE k = o_orderkey AND q * 2 > 50 AND q <= 40 AND n >= 1.5 AND o_custkey < 50
GROUP BY o_custkey
ORDER BY o_custkey;

-- name: avg_derived_table_returned
-- path: row
-- The derived table's avg reaches the result: its text is PostgreSQL's own.
SELECT k, q
FROM (SELECT l_orderkey AS k, avg(l_quantity) AS q FROM lineitem GROUP BY 1) a
WHERE q > 45;

-- name: values_integer_numerics
-- path: duckdb
-- ordered
-- Integers the parser made numerics (2::numeric, not folded), with a NULL: scale 0 in both.
SELECT v.x, v.y, n_name
FROM (VALUES (2::numeric, 1.25), (NULL, NULL), (3, -0.50)) v(x, y) LEFT JOIN nation ON n_nationkey = v.x
ORDER BY 1;
