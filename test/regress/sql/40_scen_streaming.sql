-- Data through the extension: snapshot then streaming (insert/update/delete), mixed DML in one
-- transaction, composite keys, several tables at once, REPLICA IDENTITY FULL, a snapshot taken
-- while the table is written, TRUNCATE and resync. Each check compares the source with its lake
-- relation row for row (as text), both ways, counting duplicates.
CREATE SCHEMA scen_stream;
-- The lake relation holds exactly the source's rows, and the table streams.
CREATE FUNCTION scen_stream.synced(src text) RETURNS boolean LANGUAGE sql AS $$
    SELECT duckpipe_test.diff(src::regclass, (src || '_ducklake')::regclass) = 0
       AND EXISTS (SELECT 1 FROM duckpipe.status() s WHERE s.source_table = src AND s.state = 'STREAMING')
$$;
SELECT duckpipe.create_group('scen_stream');

-- Snapshot of existing rows, then streamed inserts, updates, deletes.
CREATE TABLE scen_stream.orders (id bigint PRIMARY KEY, customer text, amount numeric(12,2), at timestamptz);
INSERT INTO scen_stream.orders SELECT g, 'c' || (g % 7), g * 1.25, TIMESTAMPTZ '2024-01-01 00:00+00' + g * INTERVAL '1 minute'
FROM generate_series(1, 1000) g;
SELECT duckpipe.add_table('scen_stream.orders', sync_group => 'scen_stream');
CALL duckpipe_test.wait_for($$SELECT scen_stream.synced('scen_stream.orders')$$);
SELECT count(*) AS lake_rows, sum(amount) AS lake_sum FROM scen_stream.orders_ducklake;
SELECT sync_group, source_table, target_table, state, enabled, error_message, consecutive_failures, snapshot_rows
FROM duckpipe.status() WHERE source_table = 'scen_stream.orders';
INSERT INTO scen_stream.orders SELECT g, 'new', g, NULL FROM generate_series(1001, 1100) g;
UPDATE scen_stream.orders SET amount = amount + 1000, customer = 'upd' WHERE id % 10 = 0;
DELETE FROM scen_stream.orders WHERE id % 13 = 0;
CALL duckpipe_test.wait_for($$SELECT scen_stream.synced('scen_stream.orders')$$);
SELECT duckpipe_test.diff('scen_stream.orders', 'scen_stream.orders_ducklake') AS diff,
       (SELECT count(*) FROM scen_stream.orders_ducklake) AS lake_rows,
       (SELECT count(*) FROM scen_stream.orders_ducklake WHERE customer = 'upd') AS updated;

-- Mixed DML in one transaction: a row inserted, updated twice and deleted; a key deleted and
-- inserted again; a key changed; NULLs set and cleared.
BEGIN;
INSERT INTO scen_stream.orders VALUES (5000, 'ephemeral', 1, NULL);
UPDATE scen_stream.orders SET amount = 2 WHERE id = 5000;
UPDATE scen_stream.orders SET amount = 3 WHERE id = 5000;
DELETE FROM scen_stream.orders WHERE id = 5000;
DELETE FROM scen_stream.orders WHERE id = 1;
INSERT INTO scen_stream.orders VALUES (1, 'reborn', 11.11, NULL);
UPDATE scen_stream.orders SET id = 6000 WHERE id = 2;
UPDATE scen_stream.orders SET id = 2 WHERE id = 3;
UPDATE scen_stream.orders SET customer = NULL, at = NULL WHERE id = 4;
UPDATE scen_stream.orders SET customer = 'back' WHERE id = 4;
COMMIT;
-- The same in separate transactions, faster than one flush.
INSERT INTO scen_stream.orders VALUES (5001, 'x', 1, NULL);
UPDATE scen_stream.orders SET amount = 99 WHERE id = 5001;
DELETE FROM scen_stream.orders WHERE id = 5001;
INSERT INTO scen_stream.orders VALUES (5001, 'y', 2, NULL);
CALL duckpipe_test.wait_for($$SELECT scen_stream.synced('scen_stream.orders')$$);
SELECT id, customer, amount FROM scen_stream.orders_ducklake WHERE id IN (1, 2, 3, 4, 5000, 5001, 6000) ORDER BY id;
SELECT duckpipe_test.diff('scen_stream.orders', 'scen_stream.orders_ducklake') AS diff;

-- Composite keys (one part text), several tables written in one transaction.
CREATE TABLE scen_stream.lines (tenant text, order_id bigint, line int, sku text, qty int,
    PRIMARY KEY (tenant, order_id, line));
CREATE TABLE scen_stream.customers (id int PRIMARY KEY, name text);
INSERT INTO scen_stream.lines SELECT 't' || (g % 3), g / 10, g % 10, 'sku' || g, g FROM generate_series(1, 500) g;
INSERT INTO scen_stream.customers SELECT g, 'name ' || g FROM generate_series(1, 50) g;
SELECT duckpipe.add_table('scen_stream.lines', sync_group => 'scen_stream');
SELECT duckpipe.add_table('scen_stream.customers', sync_group => 'scen_stream');
CALL duckpipe_test.wait_for($$SELECT scen_stream.synced('scen_stream.lines') AND scen_stream.synced('scen_stream.customers')$$);
BEGIN;
UPDATE scen_stream.lines SET qty = -qty WHERE tenant = 't1';
UPDATE scen_stream.lines SET line = line + 100 WHERE order_id = 7;
UPDATE scen_stream.lines SET tenant = 't9' WHERE order_id = 8 AND line < 5;
DELETE FROM scen_stream.lines WHERE tenant = 't2' AND order_id < 20;
INSERT INTO scen_stream.lines VALUES ('t2', 1, 1, 'again', 1);
UPDATE scen_stream.customers SET name = upper(name) WHERE id % 2 = 0;
DELETE FROM scen_stream.customers WHERE id > 45;
INSERT INTO scen_stream.orders VALUES (7000, 'from the multi-table transaction', 7, NULL);
COMMIT;
CALL duckpipe_test.wait_for($$SELECT scen_stream.synced('scen_stream.lines') AND scen_stream.synced('scen_stream.customers')
    AND scen_stream.synced('scen_stream.orders')$$);
SELECT duckpipe_test.diff('scen_stream.lines', 'scen_stream.lines_ducklake') AS lines_diff,
       (SELECT count(*) FROM scen_stream.lines_ducklake) AS lines_rows,
       (SELECT count(*) FROM scen_stream.lines_ducklake WHERE tenant = 't9') AS moved_key,
       duckpipe_test.diff('scen_stream.customers', 'scen_stream.customers_ducklake') AS customers_diff,
       (SELECT count(*) FROM scen_stream.customers_ducklake) AS customers_rows,
       (SELECT count(*) FROM scen_stream.orders_ducklake WHERE id = 7000) AS order_7000;
SELECT source_table, state, error_message FROM duckpipe.status() WHERE sync_group = 'scen_stream' ORDER BY source_table;

-- REPLICA IDENTITY FULL: a keyless table with identical rows (an UPDATE or DELETE touches one
-- copy), NULLs in the old row; and a keyed table with full identity.
CREATE TABLE scen_stream.keyless (a int, b text);
ALTER TABLE scen_stream.keyless REPLICA IDENTITY FULL;
CREATE TABLE scen_stream.full_keyed (id int PRIMARY KEY, v text);
ALTER TABLE scen_stream.full_keyed REPLICA IDENTITY FULL;
INSERT INTO scen_stream.keyless VALUES (1, 'dup'), (1, 'dup'), (1, 'dup'), (2, NULL), (2, NULL), (3, 'x');
INSERT INTO scen_stream.full_keyed SELECT g, 'v' || g FROM generate_series(1, 20) g;
SELECT duckpipe.add_table('scen_stream.keyless', sync_group => 'scen_stream');
SELECT duckpipe.add_table('scen_stream.full_keyed', sync_group => 'scen_stream');
CALL duckpipe_test.wait_for($$SELECT scen_stream.synced('scen_stream.keyless') AND scen_stream.synced('scen_stream.full_keyed')$$);
DELETE FROM scen_stream.keyless WHERE ctid = (SELECT min(ctid) FROM scen_stream.keyless WHERE a = 1);
UPDATE scen_stream.keyless SET b = 'changed' WHERE ctid = (SELECT max(ctid) FROM scen_stream.keyless WHERE a = 2);
INSERT INTO scen_stream.keyless VALUES (3, 'x');
UPDATE scen_stream.full_keyed SET v = NULL WHERE id <= 5;
UPDATE scen_stream.full_keyed SET v = 'again' WHERE id <= 2;
UPDATE scen_stream.full_keyed SET id = id + 100 WHERE id > 15;
DELETE FROM scen_stream.full_keyed WHERE id = 10;
CALL duckpipe_test.wait_for($$SELECT scen_stream.synced('scen_stream.keyless') AND scen_stream.synced('scen_stream.full_keyed')$$);
SELECT a, b, count(*) FROM scen_stream.keyless_ducklake GROUP BY a, b ORDER BY a, b;
SELECT duckpipe_test.diff('scen_stream.full_keyed', 'scen_stream.full_keyed_ducklake') AS full_keyed_diff,
       (SELECT count(*) FROM scen_stream.full_keyed_ducklake) AS full_keyed_rows;

-- TRUNCATE empties the lake table; rows written after it arrive.
TRUNCATE scen_stream.customers;
INSERT INTO scen_stream.customers VALUES (1, 'after truncate');
CALL duckpipe_test.wait_for($$SELECT scen_stream.synced('scen_stream.customers')$$);
SELECT * FROM scen_stream.customers_ducklake;
-- TRUNCATE of two tables in one statement, with rows into one of them in the same transaction.
BEGIN;
TRUNCATE scen_stream.customers, scen_stream.keyless;
INSERT INTO scen_stream.keyless VALUES (42, 'after');
COMMIT;
CALL duckpipe_test.wait_for($$SELECT scen_stream.synced('scen_stream.customers') AND scen_stream.synced('scen_stream.keyless')$$);
SELECT (SELECT count(*) FROM scen_stream.customers_ducklake) AS customers_rows, (SELECT array_agg(a) FROM scen_stream.keyless_ducklake) AS keyless;

-- resync_table copies the table again (a new snapshot), and streaming goes on after it.
SELECT generation AS gen_before FROM duckpipe.table_mappings WHERE source_schema = 'scen_stream' AND source_table = 'orders' \gset
SELECT duckpipe.resync_table('scen_stream.orders');
UPDATE scen_stream.orders SET customer = 'during resync' WHERE id < 100;
CALL duckpipe_test.wait_for(format($$SELECT scen_stream.synced('scen_stream.orders') AND (SELECT generation > %s
    FROM duckpipe.table_mappings WHERE source_schema = 'scen_stream' AND source_table = 'orders')$$, :gen_before));
INSERT INTO scen_stream.orders VALUES (8000, 'after resync', 8, NULL);
CALL duckpipe_test.wait_for($$SELECT scen_stream.synced('scen_stream.orders')$$);
SELECT duckpipe_test.diff('scen_stream.orders', 'scen_stream.orders_ducklake') AS diff,
       (SELECT count(*) FROM scen_stream.orders_ducklake) = (SELECT count(*) FROM scen_stream.orders) AS same_count,
       (SELECT count(*) FROM scen_stream.orders_ducklake WHERE customer = 'during resync') AS during_resync;
SELECT state, error_message, snapshot_rows > 0 AS copied FROM duckpipe.status() WHERE source_table = 'scen_stream.orders';

-- A snapshot taken while the table is written: changes committed right after add_table (while the
-- worker copies) are neither lost nor applied twice.
CREATE TABLE scen_stream.busy (id int PRIMARY KEY, n int, pad text);
INSERT INTO scen_stream.busy SELECT g, 0, repeat('p', 50) FROM generate_series(1, 50000) g;
SELECT duckpipe.add_table('scen_stream.busy', sync_group => 'scen_stream');
UPDATE scen_stream.busy SET n = n + 1 WHERE id % 100 = 0;
DELETE FROM scen_stream.busy WHERE id % 1000 = 1;
INSERT INTO scen_stream.busy SELECT g, 1, 'late' FROM generate_series(50001, 50100) g;
UPDATE scen_stream.busy SET n = n + 1 WHERE id % 100 = 0;
UPDATE scen_stream.busy SET n = n + 10, pad = 'moved' WHERE id BETWEEN 25000 AND 25010;
-- Then small transactions (update, insert, delete) committed until the table streams, so some land
-- while the copy runs whatever its speed (their number varies: only the comparison is printed).
CREATE PROCEDURE scen_stream.write_until_streaming() LANGUAGE plpgsql AS $$
DECLARE i int := 0;
BEGIN
    LOOP
        i := i + 1;
        UPDATE scen_stream.busy SET n = n + 1 WHERE id = (i * 7919) % 50000 + 2;
        INSERT INTO scen_stream.busy VALUES (100000 + i, i, 'during copy');
        DELETE FROM scen_stream.busy WHERE id = 100000 + i - 3;
        COMMIT;
        EXIT WHEN i >= 5000 OR (i >= 20 AND EXISTS (SELECT 1 FROM duckpipe.status()
            WHERE source_table = 'scen_stream.busy' AND state = 'STREAMING'));
    END LOOP;
END $$;
CALL scen_stream.write_until_streaming();
CALL duckpipe_test.wait_for($$SELECT scen_stream.synced('scen_stream.busy')$$);
SELECT duckpipe_test.diff('scen_stream.busy', 'scen_stream.busy_ducklake') AS diff,
       (SELECT count(*) FROM scen_stream.busy_ducklake) = (SELECT count(*) FROM scen_stream.busy) AS same_count,
       (SELECT sum(n) FROM scen_stream.busy_ducklake) = (SELECT sum(n) FROM scen_stream.busy) AS same_sum,
       (SELECT count(*) FROM scen_stream.busy_ducklake WHERE id <= 50100) AS copied_rows;

SELECT duckpipe.remove_table(t, drop_target => true) FROM unnest(ARRAY['scen_stream.orders', 'scen_stream.lines',
    'scen_stream.customers', 'scen_stream.keyless', 'scen_stream.full_keyed', 'scen_stream.busy']) t;
SELECT count(*) AS lake_relations_left FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'scen_stream' AND c.relname LIKE '%_ducklake';
-- The group goes with its worker, slot and publication.
SELECT duckpipe.drop_group('scen_stream');
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: scen_stream'$$);
SELECT count(*) AS slots FROM pg_replication_slots WHERE slot_name = 'duckpipe_slot_scen_stream';
\set VERBOSITY terse
DROP SCHEMA scen_stream CASCADE;
