-- Planner statistics of lake relations: the size estimate comes from the lake catalog (live rows:
-- the data files' records less the deleted ones), ANALYZE samples the lake table into pg_class and
-- pg_statistic, and a join with a heap table is planned from them.
CREATE SCHEMA ls66;
SELECT duckpipe.create_group('ls66');
CREATE TABLE ls66.orders (id bigint PRIMARY KEY, customer int, status text, amount numeric(12,2));
INSERT INTO ls66.orders
SELECT g, g % 50, (ARRAY['new', 'paid', 'shipped'])[1 + g % 3], g * 1.5 FROM generate_series(1, 5000) g;
SELECT duckpipe.add_table('ls66.orders', sync_group => 'ls66');
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('ls66.orders', 'ls66.orders_ducklake', 5000)$$);
-- Deleted rows are not counted.
DELETE FROM ls66.orders WHERE id > 4000;
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('ls66.orders', 'ls66.orders_ducklake', 4000)$$);
CREATE TABLE ls66.customers (id int PRIMARY KEY, name text);
INSERT INTO ls66.customers SELECT g, 'customer ' || g FROM generate_series(0, 49) g;
ANALYZE ls66.customers;

-- The planner's row estimate of a query (the top plan node's), with the lake relation scanned by
-- PostgreSQL (not run whole in DuckDB, whose scan has no estimate of its own).
CREATE FUNCTION ls66.estimate(query text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
    RETURN (plan->0->'Plan'->>'Plan Rows')::float8;
END $$;
-- EXPLAIN without the lake's snapshot id and file counts (they depend on the flushes).
CREATE FUNCTION ls66.plan(query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
        CONTINUE WHEN line ~ 'Lake Snapshot|Lake Files';
        RETURN NEXT line;
    END LOOP;
END $$;
SET duckpipe.duckdb_execution = off;

-- Before ANALYZE: the row count is the lake's; a filter or a join gets PostgreSQL's default guesses.
SELECT ls66.estimate('SELECT * FROM ls66.orders_ducklake') AS all_rows,
       ls66.estimate('SELECT * FROM ls66.orders_ducklake WHERE customer = 7') AS one_customer,
       ls66.estimate('SELECT * FROM ls66.orders_ducklake o JOIN ls66.customers c ON c.id = o.customer') AS joined;

-- ANALYZE samples the lake table (here all of it: fewer rows than the sample's 30000).
ANALYZE ls66.orders_ducklake;
SELECT relpages, reltuples FROM pg_class WHERE oid = 'ls66.orders_ducklake'::regclass;
SELECT attname, null_frac, n_distinct, array_length(most_common_vals::text::text[], 1) AS common_values,
       CASE WHEN attname = 'status' THEN most_common_vals::text END AS status_values
FROM pg_stats WHERE schemaname = 'ls66' AND tablename = 'orders_ducklake' AND attname IN ('status', 'customer', 'id')
ORDER BY attname;
SELECT (SELECT count(*) FROM unnest(histogram_bounds::text::numeric[])) > 10 AS amount_histogram
FROM pg_stats WHERE schemaname = 'ls66' AND tablename = 'orders_ducklake' AND attname = 'amount';
-- The estimates now follow the data.
SELECT ls66.estimate('SELECT * FROM ls66.orders_ducklake') AS all_rows,
       ls66.estimate('SELECT * FROM ls66.orders_ducklake WHERE customer = 7') AS one_customer,
       ls66.estimate('SELECT * FROM ls66.orders_ducklake WHERE status = ''paid''') AS paid,
       ls66.estimate('SELECT * FROM ls66.orders_ducklake o JOIN ls66.customers c ON c.id = o.customer') AS joined;
-- A join of the lake relation with a heap table: a hash join whose hash table is the small heap table
-- (the lake relation is scanned once).
SELECT * FROM ls66.plan($$SELECT c.name, count(*), sum(o.amount) FROM ls66.orders_ducklake o
    JOIN ls66.customers c ON c.id = o.customer WHERE o.status = 'paid' GROUP BY c.name$$);

-- New rows: the estimate follows the lake's snapshot at once (no ANALYZE needed for the row count).
INSERT INTO ls66.orders SELECT g, g % 50, 'new', g FROM generate_series(5001, 6000) g;
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('ls66.orders', 'ls66.orders_ducklake', 5000)$$);
SELECT ls66.estimate('SELECT * FROM ls66.orders_ducklake') AS all_rows;

-- VACUUM ANALYZE and a database-wide ANALYZE go through lake relations (of this test and others).
VACUUM ANALYZE ls66.orders_ducklake;
ANALYZE;
SELECT reltuples FROM pg_class WHERE oid = 'ls66.orders_ducklake'::regclass;
RESET duckpipe.duckdb_execution;

-- Query routing follows the table's state at each execution of a cached plan: routed, then not once
-- the group is disabled (in a REPEATABLE READ transaction, whose xmin does not move and so does not
-- re-plan the statement), then routed again.
SET duckpipe.query_routing = on;
SET duckpipe.query_routing_log = on;
CALL duckpipe_test.wait_for($$SELECT lag_ms IS NOT NULL AND lag_ms < 5000 FROM duckpipe.routing_lag() WHERE sync_group = 'ls66'$$);
PREPARE q66 AS SELECT status, count(*) FROM ls66.orders GROUP BY status ORDER BY status;
EXECUTE q66;
BEGIN ISOLATION LEVEL REPEATABLE READ;
EXECUTE q66;
SELECT duckpipe.disable_group('ls66');
EXECUTE q66;
ROLLBACK;
EXECUTE q66;
DEALLOCATE q66;
RESET duckpipe.query_routing;
RESET duckpipe.query_routing_log;

SELECT duckpipe.remove_table('ls66.orders', drop_target => true);
SELECT duckpipe.drop_group('ls66');
DROP SCHEMA ls66 CASCADE;
