-- A round of changes after the initial copy, so the lake holds streamed rows, deletes and several
-- data files per table. Deterministic, like schema.sql.
BEGIN;
UPDATE src.orders SET o_comment = 'updated ' || o_orderkey, o_score = -o_score, o_updated = NULL,
	o_wait = o_wait + interval '1 hour'
WHERE o_orderkey % 28 = 0;
UPDATE src.orders SET o_flag = NOT o_flag, o_payload = NULL WHERE o_orderkey % 36 = 4;
DELETE FROM src.lineitem WHERE l_orderkey % 44 = 8;
DELETE FROM src.lineitem WHERE (l_orderkey + l_linenumber) % 97 = 0;
UPDATE src.lineitem SET l_discount = 0.10, l_tag = upper(l_tag), l_big = -l_big WHERE l_orderkey % 52 = 12;
COMMIT;

BEGIN;
DELETE FROM src.orders WHERE o_orderkey % 200 = 100 AND NOT EXISTS (
	SELECT 1 FROM src.lineitem WHERE l_orderkey = o_orderkey AND l_orderkey % 44 <> 8);
DELETE FROM src.lineitem WHERE l_orderkey IN (SELECT o_orderkey FROM src.orders WHERE o_orderkey % 300 = 40);
DELETE FROM src.orders WHERE o_orderkey % 300 = 40;
-- New orders and lineitems: copies of existing ones under new keys, dated a year later.
INSERT INTO src.orders
SELECT o_orderkey + 1000000, o_custkey, o_orderstatus, o_totalprice, o_orderdate + 365, o_orderpriority, o_clerk,
	o_shippriority, 'new ' || coalesce(o_comment, 'none'), o_created + interval '1 year', o_updated, o_score, o_token,
	o_payload, o_ratio, o_wait, o_flag
FROM src.orders WHERE o_orderkey % 40 = 0;
INSERT INTO src.lineitem
SELECT l_orderkey + 1000000, l_linenumber, l_partkey, l_suppkey, l_quantity, l_extendedprice, l_discount, l_tax,
	l_returnflag, l_linestatus, l_shipdate + 365, l_commitdate + 365, l_receiptdate + 365, l_shipinstruct, l_shipmode,
	l_comment, l_weight, l_score, l_shipped_at + interval '365 days', l_tag, l_big, l_delay
FROM src.lineitem WHERE l_orderkey % 40 = 0;
COMMIT;

UPDATE src.customer SET c_acctbal = c_acctbal + 1.01, c_prefs = NULL WHERE c_custkey % 10 = 1;
UPDATE src.customer SET c_active = NULL WHERE c_custkey % 17 = 2;
DELETE FROM src.partsupp WHERE ps_partkey % 50 = 7 AND ps_suppkey % 2 = 0;
UPDATE src.part SET p_retailprice = p_retailprice * 2, p_comment = NULL WHERE p_partkey % 33 = 5;
UPDATE src.supplier SET s_acctbal = -s_acctbal WHERE s_suppkey % 8 = 3;
INSERT INTO src.nation VALUES (25, 'ATLANTIS', 4, NULL);
UPDATE src.region SET r_comment = 'changed' WHERE r_regionkey = 1;
