-- Source DDL through the extension: ADD/DROP/RENAME COLUMN and widening type changes while
-- syncing; the lake relation follows (same columns and types as the source) and its rows equal the
-- source's. Then the source table renamed (and moved to another schema) while syncing.
CREATE SCHEMA scen_ddl;
-- Column names and types of a relation, in order.
CREATE FUNCTION scen_ddl.shape(r regclass) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
    FROM pg_attribute WHERE attrelid = r AND attnum > 0 AND NOT attisdropped
$$;
-- Same columns and rows, and the table streams.
CREATE FUNCTION scen_ddl.synced(src regclass, lake regclass, status_name text) RETURNS boolean LANGUAGE sql AS $$
    SELECT scen_ddl.shape(src) = scen_ddl.shape(lake) AND duckpipe_test.diff(src, lake) = 0
       AND EXISTS (SELECT 1 FROM duckpipe.status() s WHERE s.source_table = status_name AND s.state = 'STREAMING')
$$;
SELECT duckpipe.create_group('scen_ddl');

CREATE TABLE scen_ddl.items (id int PRIMARY KEY, qty int, name varchar(10), price numeric(10,2), note text);
INSERT INTO scen_ddl.items SELECT g, g, 'n' || g, g * 1.5, 'note ' || g FROM generate_series(1, 100) g;
SELECT duckpipe.add_table('scen_ddl.items', sync_group => 'scen_ddl');
CALL duckpipe_test.wait_for($$SELECT scen_ddl.synced('scen_ddl.items', 'scen_ddl.items_ducklake', 'scen_ddl.items')$$);
SELECT scen_ddl.shape('scen_ddl.items_ducklake');

-- ADD COLUMN, without and with a constant default (the existing rows get it), then rows using them.
ALTER TABLE scen_ddl.items ADD COLUMN color text;
ALTER TABLE scen_ddl.items ADD COLUMN active boolean NOT NULL DEFAULT true;
INSERT INTO scen_ddl.items VALUES (101, 101, 'new', 1, 'added', 'red', false);
UPDATE scen_ddl.items SET color = 'blue' WHERE id <= 10;
CALL duckpipe_test.wait_for($$SELECT scen_ddl.synced('scen_ddl.items', 'scen_ddl.items_ducklake', 'scen_ddl.items')$$);
SELECT scen_ddl.shape('scen_ddl.items_ducklake');
SELECT active, color, count(*) FROM scen_ddl.items_ducklake GROUP BY 1, 2 ORDER BY 1, 2;

-- DROP COLUMN and RENAME COLUMN, with rows in the same transaction as the DDL.
BEGIN;
ALTER TABLE scen_ddl.items DROP COLUMN note;
INSERT INTO scen_ddl.items (id, qty, name, price, color) VALUES (102, 102, 'after drop', 2, 'green');
ALTER TABLE scen_ddl.items RENAME COLUMN color TO colour;
UPDATE scen_ddl.items SET colour = 'renamed' WHERE id = 1;
COMMIT;
CALL duckpipe_test.wait_for($$SELECT scen_ddl.synced('scen_ddl.items', 'scen_ddl.items_ducklake', 'scen_ddl.items')$$);
SELECT scen_ddl.shape('scen_ddl.items_ducklake');
SELECT id, name, colour, active FROM scen_ddl.items_ducklake WHERE id IN (1, 2, 101, 102) ORDER BY id;

-- Widening: int4 to int8, varchar(10) to text, numeric(10,2) to numeric(14,2); values that only
-- fit the wider types arrive.
ALTER TABLE scen_ddl.items ALTER COLUMN qty TYPE bigint;
ALTER TABLE scen_ddl.items ALTER COLUMN name TYPE text;
ALTER TABLE scen_ddl.items ALTER COLUMN price TYPE numeric(14,2);
INSERT INTO scen_ddl.items (id, qty, name, price) VALUES (103, 9000000000, 'a name longer than ten', 123456789012.34);
UPDATE scen_ddl.items SET qty = qty * 100000000 WHERE id = 2;
CALL duckpipe_test.wait_for($$SELECT scen_ddl.synced('scen_ddl.items', 'scen_ddl.items_ducklake', 'scen_ddl.items')$$);
SELECT scen_ddl.shape('scen_ddl.items_ducklake');
SELECT id, qty, name, price FROM scen_ddl.items_ducklake WHERE id IN (2, 103) ORDER BY id;
SELECT duckpipe_test.diff('scen_ddl.items', 'scen_ddl.items_ducklake') AS diff, (SELECT count(*) FROM scen_ddl.items_ducklake) AS rows;
SELECT state, error_message FROM duckpipe.status() WHERE source_table = 'scen_ddl.items';

-- The source renamed while syncing: changes keep arriving in the same lake table (the mapping
-- follows the table, not its name); then moved to another schema.
ALTER TABLE scen_ddl.items RENAME TO goods;
INSERT INTO scen_ddl.goods (id, qty, name, price) VALUES (200, 1, 'after rename', 1);
DELETE FROM scen_ddl.goods WHERE id = 3;
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.diff('scen_ddl.goods', 'scen_ddl.items_ducklake') = 0$$);
SELECT duckpipe_test.diff('scen_ddl.goods', 'scen_ddl.items_ducklake') AS diff, (SELECT count(*) FROM scen_ddl.items_ducklake) AS rows;
CREATE SCHEMA scen_ddl_moved;
ALTER TABLE scen_ddl.goods SET SCHEMA scen_ddl_moved;
UPDATE scen_ddl_moved.goods SET name = 'moved' WHERE id = 200;
ALTER TABLE scen_ddl_moved.goods ADD COLUMN after_move int DEFAULT 7;
INSERT INTO scen_ddl_moved.goods (id, qty, name, price, after_move) VALUES (201, 2, 'in moved schema', 2, 8);
CALL duckpipe_test.wait_for($$SELECT scen_ddl.shape('scen_ddl_moved.goods') = scen_ddl.shape('scen_ddl.items_ducklake')
    AND duckpipe_test.diff('scen_ddl_moved.goods', 'scen_ddl.items_ducklake') = 0$$);
SELECT id, name, after_move FROM scen_ddl.items_ducklake WHERE id >= 200 ORDER BY id;
-- The metadata follows the new name (the worker looks the table up by OID); the API finds the
-- table by it.
CALL duckpipe_test.wait_for($$SELECT source_schema = 'scen_ddl_moved' FROM duckpipe.table_mappings
    WHERE group_id = (SELECT id FROM duckpipe.sync_groups WHERE name = 'scen_ddl')$$);
SELECT source_table, target_table, state, error_message FROM duckpipe.status() WHERE sync_group = 'scen_ddl';
SELECT duckpipe.remove_table('scen_ddl_moved.goods', drop_target => true);
SELECT to_regclass('scen_ddl.items_ducklake') IS NULL AS target_dropped;

SELECT duckpipe.drop_group('scen_ddl');
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: scen_ddl'$$);
\set VERBOSITY terse
DROP SCHEMA scen_ddl_moved CASCADE;
DROP SCHEMA scen_ddl CASCADE;
