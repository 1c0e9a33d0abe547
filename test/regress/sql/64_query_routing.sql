-- Transparent query routing (duckpipe.query_routing): SELECTs on synced source tables read their lake
-- relations. Routed and unrouted results agree once the lake has caught up; point lookups, writes,
-- locks, writing transactions and mixed queries are not routed in auto; the NOTICE of
-- duckpipe.query_routing_log; plans follow the setting; a stopped worker stops routing.
CREATE SCHEMA qr;
-- A dropped column before the others: the source's attnos differ from the lake relation's.
CREATE TABLE qr.orders (id bigint PRIMARY KEY, gone int, customer int, amount numeric(12,2), note text);
ALTER TABLE qr.orders DROP COLUMN gone;
CREATE TABLE qr.customers (id int PRIMARY KEY, name text);
CREATE TABLE qr.local_only (id int);
INSERT INTO qr.customers SELECT g, 'customer ' || g FROM generate_series(1, 5) g;
INSERT INTO qr.orders SELECT g, g % 6, g * 1.5, 'note ' || g FROM generate_series(1, 80) g;
INSERT INTO qr.local_only VALUES (1), (2);
SELECT duckpipe.create_group('qr');
SELECT duckpipe.add_table('qr.orders', sync_group => 'qr');
SELECT duckpipe.add_table('qr.customers', sync_group => 'qr');
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('qr.orders', 'qr.orders_ducklake', 80)
    AND duckpipe_test.same('qr.customers', 'qr.customers_ducklake', 5)
    AND (SELECT bool_and(state = 'STREAMING') FROM duckpipe.status() WHERE sync_group = 'qr')$$);

-- Whether the plan of q reads a lake relation (EXPLAIN names the relation it scans).
CREATE FUNCTION qr.reads_lake(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        IF line LIKE '%\_ducklake%' THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN false;
END $$;
-- The rows of q with routing off and with routing auto (which must route it), as sorted text.
CREATE FUNCTION qr.agree(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    wrapped text := format('SELECT array_agg(r::text ORDER BY r::text) FROM (%s) r', q);
    heap text[];
    lake text[];
BEGIN
    PERFORM set_config('duckpipe.query_routing', 'off', true);
    EXECUTE wrapped INTO heap;
    PERFORM set_config('duckpipe.query_routing', 'auto', true);
    IF NOT qr.reads_lake(wrapped) THEN
        RETURN 'not routed';
    END IF;
    EXECUTE wrapped INTO lake;
    RETURN CASE WHEN heap IS DISTINCT FROM lake THEN 'differ' ELSE format('agree (%s rows)', cardinality(heap)) END;
END $$;

-- Off by default: nothing is routed.
SHOW duckpipe.query_routing;
SELECT qr.reads_lake('SELECT count(*) FROM qr.orders') AS routed;
SET duckpipe.query_routing = 'auto';
-- 20s, from the server's configuration (scripts/installcheck.sh; the default is 10s).
SHOW duckpipe.query_routing_max_lag;
-- The group's lag settles under the limit (the worker measures it about once a second).
CALL duckpipe_test.wait_for($$SELECT qr.reads_lake('SELECT count(*) FROM qr.orders')$$);
-- Query shapes: aggregate, join of two synced tables, filter with ORDER BY/LIMIT, correlated
-- subquery, CTE, subquery in FROM, USING join.
SELECT qr.agree('SELECT customer, count(*), sum(amount), avg(amount) FROM qr.orders GROUP BY customer');
SELECT qr.agree('SELECT c.name, count(*), sum(o.amount) FROM qr.orders o JOIN qr.customers c ON c.id = o.customer GROUP BY c.name');
SELECT qr.agree('SELECT id, note, amount FROM qr.orders WHERE amount > 50 ORDER BY id LIMIT 5');
SELECT qr.agree('SELECT * FROM qr.customers c WHERE EXISTS (SELECT 1 FROM qr.orders o WHERE o.customer = c.id AND o.amount > 100)');
SELECT qr.agree('WITH big AS (SELECT customer, amount FROM qr.orders WHERE amount > 10) SELECT customer, max(amount) FROM big GROUP BY customer');
SELECT qr.agree('SELECT s.customer, s.n FROM (SELECT customer, count(*) AS n FROM qr.orders GROUP BY customer) s WHERE s.n > 13');
SELECT qr.agree('SELECT note, name FROM qr.orders JOIN (SELECT id AS customer, name FROM qr.customers) c USING (customer) WHERE note LIKE ''note 1%''');
-- Column aliases, a view, UNION ALL, a window function.
SELECT qr.agree('SELECT x.a, x.c FROM qr.orders AS x(a, b, c) WHERE x.c > 100');
CREATE VIEW qr.by_customer AS SELECT customer, sum(amount) AS total FROM qr.orders GROUP BY customer;
SELECT qr.agree('SELECT * FROM qr.by_customer WHERE total > 500');
SELECT qr.agree('SELECT id FROM qr.orders WHERE id < 5 UNION ALL SELECT id FROM qr.customers');
SELECT qr.agree('SELECT id, rank() OVER (PARTITION BY customer ORDER BY amount DESC) FROM qr.orders');
-- A point lookup is not routed in auto.
SELECT qr.agree('SELECT * FROM qr.orders WHERE id = 7');

-- The NOTICE names each routed table, or why the query is not routed.
SET duckpipe.query_routing_log = on;
SELECT count(*), sum(amount) FROM qr.orders;
SELECT c.name, count(*) FROM qr.orders o JOIN qr.customers c ON c.id = o.customer GROUP BY c.name ORDER BY 1;
-- Point lookups by the primary key (equality on every key column) stay on the source.
SELECT id, note FROM qr.orders WHERE id = 7;
SELECT id, note FROM qr.orders WHERE id IN (7, 8) ORDER BY id;
SELECT name FROM qr.customers WHERE id = 2;
-- Not a point lookup: an equality on another column.
SELECT id FROM qr.orders WHERE customer = 3 ORDER BY id LIMIT 3;
-- Locks and writes (and the SELECTs inside them) are never routed.
SELECT id FROM qr.orders WHERE amount > 118 ORDER BY id FOR UPDATE;
SELECT id FROM qr.orders o WHERE amount > 118 ORDER BY id FOR SHARE OF o;
INSERT INTO qr.local_only SELECT customer FROM qr.orders WHERE false;
DELETE FROM qr.local_only WHERE id IN (SELECT customer + 100 FROM qr.orders);
WITH gone AS (DELETE FROM qr.local_only WHERE id > 100 RETURNING id) SELECT count(*) FROM qr.orders, gone;
-- A transaction that has written reads the source (its own writes included).
BEGIN;
SELECT count(*) FROM qr.orders;
INSERT INTO qr.orders VALUES (1000, 1, 1, 'in transaction');
SELECT count(*) FROM qr.orders;
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT count(*) FROM qr.orders;
COMMIT;
-- A table that is not synced keeps the query on the source in auto...
SELECT count(*) FROM qr.orders o JOIN qr.local_only l ON l.id = o.customer;
-- ...while on routes the synced tables of it (and point lookups, and writing transactions).
SET duckpipe.query_routing = 'on';
SELECT count(*) FROM qr.orders o JOIN qr.local_only l ON l.id = o.customer;
SELECT id, note FROM qr.orders WHERE id = 7;
SELECT id FROM qr.orders WHERE amount > 118 ORDER BY id FOR UPDATE;
SET duckpipe.query_routing = 'auto';
-- A role with SELECT on the source but not on the lake relation reads the source.
CREATE ROLE qr_reader;
GRANT USAGE ON SCHEMA qr TO qr_reader;
GRANT SELECT ON qr.orders TO qr_reader;
SET ROLE qr_reader;
SELECT count(*) FROM qr.orders;
RESET ROLE;
-- With SELECT on the lake relation only, the source's privilege is still required.
REVOKE SELECT ON qr.orders FROM qr_reader;
GRANT SELECT ON qr.orders_ducklake TO qr_reader;
SET ROLE qr_reader;
SELECT count(*) FROM qr.orders;
RESET ROLE;
SET duckpipe.query_routing_log = off;

-- Prepared statements follow the setting (a change resets cached plans).
PREPARE qr_count AS SELECT count(*) FROM qr.orders WHERE customer = $1;
SELECT qr.reads_lake('EXECUTE qr_count(2)') AS routed;
EXECUTE qr_count(2);
SET duckpipe.query_routing = 'off';
SELECT qr.reads_lake('EXECUTE qr_count(2)') AS routed;
EXECUTE qr_count(2);
SET duckpipe.query_routing = 'auto';
SELECT qr.reads_lake('EXECUTE qr_count(2)') AS routed;
DEALLOCATE qr_count;

-- A stopped worker: the lake no longer follows, nothing is routed; started again, it catches up and
-- routing resumes.
SELECT duckpipe.stop_worker('qr');
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: qr'$$);
INSERT INTO qr.orders VALUES (81, 1, 81, 'while stopped');
-- No worker: no lag to compare (NULL).
SELECT sync_group, worker_running, lag_ms FROM duckpipe.routing_lag() WHERE sync_group = 'qr';
SET duckpipe.query_routing_log = on;
SELECT count(*) FROM qr.orders;
SET duckpipe.query_routing_log = off;
SELECT duckpipe.start_worker('qr');
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('qr.orders', 'qr.orders_ducklake', 81)
    AND qr.reads_lake('SELECT count(*) FROM qr.orders')$$);
SELECT qr.agree('SELECT count(*), max(note) FROM qr.orders');
SELECT worker_running, lag_ms <= 20000 AS under_max_lag FROM duckpipe.routing_lag() WHERE sync_group = 'qr';

-- Clean up.
RESET duckpipe.query_routing;
SELECT duckpipe.remove_table('qr.orders', drop_target => true);
SELECT duckpipe.remove_table('qr.customers', drop_target => true);
SELECT duckpipe.drop_group('qr');
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: qr'$$);
DROP SCHEMA qr CASCADE;
DROP ROLE qr_reader;
