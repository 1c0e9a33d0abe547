-- Tables: add/remove/move/resync with the metadata they write, and every error a wrong call gets.
\set SHOW_CONTEXT never
-- A group no process runs (mode daemon, no daemon here): its tables stay as the API left them.
SELECT duckpipe.create_group('held', mode => 'daemon');
CREATE TABLE public.orders (id integer PRIMARY KEY, amount numeric);
CREATE TABLE public.items (id integer PRIMARY KEY, name text);
CREATE TABLE public.events (at timestamptz, payload text);
CREATE TABLE public.full_rows (a integer, b text);
ALTER TABLE public.full_rows REPLICA IDENTITY FULL;
CREATE TABLE public.keyless (a integer);

-- Happy paths: the default target is <schema>.<table>_ducklake in the source's schema.
SELECT duckpipe.add_table('public.orders', sync_group => 'held');
SELECT duckpipe.add_table('items', 'lake.items_copy', 'held', false);
SELECT duckpipe.add_table('public.events', sync_group => 'held', sync_mode => 'append');
SELECT relreplident FROM pg_class WHERE oid = 'public.events'::regclass;
SELECT duckpipe.add_table('public.full_rows', 'full_rows_lake', 'held');
SELECT g.name AS sync_group, m.source_oid = to_regclass(m.source_schema || '.' || m.source_table) AS oid_ok,
       m.source_schema, m.source_table, m.target_schema, m.target_table, m.state, m.sync_mode, m.copy_data,
       m.generation, m.config
FROM duckpipe.table_mappings m JOIN duckpipe.sync_groups g ON g.id = m.group_id ORDER BY m.id;
SELECT nspname FROM pg_namespace WHERE nspname = 'lake';
SELECT * FROM duckpipe.tables();
SELECT name, table_count FROM duckpipe.groups() ORDER BY name;

-- Errors: the table.
SELECT duckpipe.add_table('public.missing', sync_group => 'held');
SELECT duckpipe.add_table('missing_too', sync_group => 'held');
CREATE VIEW public.orders_view AS SELECT * FROM public.orders;
SELECT duckpipe.add_table('public.orders_view', sync_group => 'held');
CREATE MATERIALIZED VIEW public.orders_mv AS SELECT * FROM public.orders;
SELECT duckpipe.add_table('public.orders_mv', sync_group => 'held');
CREATE FOREIGN DATA WRAPPER duckpipe_test_fdw;
CREATE SERVER duckpipe_test_server FOREIGN DATA WRAPPER duckpipe_test_fdw;
CREATE FOREIGN TABLE public.far_away (a integer) SERVER duckpipe_test_server;
SELECT duckpipe.add_table('public.far_away', sync_group => 'held');
CREATE SEQUENCE public.a_sequence;
SELECT duckpipe.add_table('public.a_sequence', sync_group => 'held');
CREATE UNLOGGED TABLE public.scratch (id integer PRIMARY KEY);
SELECT duckpipe.add_table('public.scratch', sync_group => 'held');
CREATE TEMPORARY TABLE session_only (id integer PRIMARY KEY);
SELECT duckpipe.add_table('session_only', sync_group => 'held');
SELECT duckpipe.add_table('public.keyless', sync_group => 'held');
SELECT duckpipe.add_table('public.orders', sync_group => 'held');
SELECT duckpipe.add_table('public.orders', sync_group => 'default');
-- Errors: the arguments.
SELECT duckpipe.add_table('public.keyless', sync_group => 'nope');
SELECT duckpipe.add_table('public.keyless', sync_group => 'held', sync_mode => 'merge');
SELECT duckpipe.add_table('public.keyless', 'public.orders_ducklake', 'held', fan_in => true);
SELECT duckpipe.add_table('public.keyless', 'public.orders_ducklake', 'held', sync_mode => 'append');
SELECT count(*) AS mappings FROM duckpipe.table_mappings;

-- A rolled-back add_table leaves nothing: no mapping, no target, the source as it was.
BEGIN;
SELECT duckpipe.add_table('public.keyless', 'rolled.keyless_lake', 'held', sync_mode => 'append');
SELECT count(*) AS mappings_inside FROM duckpipe.table_mappings WHERE source_table = 'keyless';
ROLLBACK;
SELECT count(*) AS mappings_after FROM duckpipe.table_mappings WHERE source_table = 'keyless';
SELECT relreplident FROM pg_class WHERE oid = 'public.keyless'::regclass;
SELECT to_regnamespace('rolled') IS NULL AS no_schema, to_regclass('rolled.keyless_lake') IS NULL AS no_target;

-- The default group (a background worker's): only what add_table writes is asserted here.
SELECT duckpipe.add_table('public.keyless', sync_group => 'default', sync_mode => 'append');
SELECT g.name, g.mode, m.source_table, m.target_schema, m.target_table, m.sync_mode
FROM duckpipe.table_mappings m JOIN duckpipe.sync_groups g ON g.id = m.group_id WHERE m.source_table = 'keyless';
SELECT relreplident FROM pg_class WHERE oid = 'public.keyless'::regclass;
SELECT duckpipe.remove_table('public.keyless');

-- A source reached through a conninfo (this database again, over libpq): checked there.
SELECT duckpipe.create_group('remote', mode => 'daemon', conninfo => format('host=%s port=%s dbname=%s user=%s',
    current_setting('unix_socket_directories'), current_setting('port'), current_database(), current_user));
SELECT duckpipe.add_table('public.nowhere', sync_group => 'remote');
SELECT duckpipe.add_table('public.orders_view', sync_group => 'remote');
CREATE TABLE public.keyless_remote (a integer);
SELECT duckpipe.add_table('public.keyless_remote', sync_group => 'remote');
CREATE TYPE public.remote_mood AS ENUM ('ok', 'meh');
CREATE DOMAIN public.remote_code AS varchar(8);
CREATE TABLE public.remote_only (id integer PRIMARY KEY, amount numeric(12,2), label varchar(20),
    at timestamp(3) with time zone, tags text[], mood public.remote_mood, code public.remote_code);
-- Rolled back: neither the mapping nor the relation is left.
BEGIN;
SELECT duckpipe.add_table('public.remote_only', 'remote_only_lake', 'remote');
ROLLBACK;
SELECT to_regclass('public.remote_only_lake') IS NULL AS no_relation,
       (SELECT count(*) FROM duckpipe.table_mappings WHERE source_table = 'remote_only') AS mappings;
SELECT duckpipe.add_table('public.remote_only', 'remote_only_lake', 'remote');
-- Its relation exists when add_table returns, with the columns read from the source's catalog (types
-- of that database's own, an enum here, are text; a domain is its base type).
SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
WHERE a.attrelid = 'public.remote_only_lake'::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum;
SELECT am.amname, has_table_privilege(pg_get_userbyid(s.relowner), t.oid, 'SELECT') AS owner_reads,
       obj_description(t.oid, 'pg_class')
FROM pg_class t JOIN pg_am am ON am.oid = t.relam, pg_class s
WHERE t.oid = 'public.remote_only_lake'::regclass AND s.oid = 'public.remote_only'::regclass;
SELECT g.name, m.source_schema, m.source_table, m.target_table, m.source_oid = 'public.remote_only'::regclass AS same_oid
FROM duckpipe.table_mappings m JOIN duckpipe.sync_groups g ON g.id = m.group_id WHERE g.name = 'remote';

-- resync_table: a new generation from PENDING, counters and the lake's progress record cleared.
UPDATE duckpipe.table_mappings SET state = 'STREAMING', rows_synced = 42, failure_count = 2,
    error_message = 'old', applied_lsn = '0/10', snapshot_rows = 40
WHERE source_table = 'items';
INSERT INTO duckpipe.table_progress(source_system_id, source_database_oid, mapping_id, generation, applied_lsn)
SELECT (SELECT system_identifier FROM pg_control_system()), (SELECT oid FROM pg_database WHERE datname = current_database()),
       id, generation, '0/10' FROM duckpipe.table_mappings WHERE source_table = 'items';
SELECT duckpipe.resync_table('public.items');
SELECT state, generation, rows_synced, failure_count, error_message, applied_lsn, snapshot_rows
FROM duckpipe.table_mappings WHERE source_table = 'items';
SELECT count(*) AS progress_rows FROM duckpipe.table_progress p JOIN duckpipe.table_mappings m ON m.id = p.mapping_id
WHERE m.source_table = 'items';
-- An unqualified name, and a group that does not have the table.
SELECT duckpipe.resync_table('orders');
SELECT duckpipe.resync_table('orders', 'remote');
SELECT duckpipe.resync_table('remote_only', 'remote');
SELECT duckpipe.resync_table('public.orders', 'nope');
SELECT duckpipe.resync_table('public.never_added');

-- move_table: into another group of the same source, copied again there.
SELECT duckpipe.create_group('other_held', mode => 'daemon');
SELECT duckpipe.move_table('public.full_rows', 'other_held');
SELECT g.name, m.state, m.generation FROM duckpipe.table_mappings m JOIN duckpipe.sync_groups g ON g.id = m.group_id
WHERE m.source_table = 'full_rows';
SELECT duckpipe.move_table('public.full_rows', 'nope');
SELECT duckpipe.move_table('public.never_added', 'held');
SELECT duckpipe.move_table('public.items', 'remote');

-- drop_group refuses a group with tables, naming them.
SELECT duckpipe.drop_group('held');

-- remove_table: the mapping goes; drop_target => true drops the lake relation too. The last table
-- of a group says that the group's slot still holds WAL.
DO $$ BEGIN
    IF to_regclass('public.orders_ducklake') IS NULL THEN
        CREATE TABLE public.orders_ducklake (id integer, amount numeric);
    END IF;
END $$;
SELECT duckpipe.remove_table('public.orders', true, 'held');
SELECT to_regclass('public.orders_ducklake') IS NULL AS target_dropped;
SELECT duckpipe.remove_table('public.full_rows');
SELECT duckpipe.remove_table('public.orders');
SELECT duckpipe.remove_table('public.orders');
SELECT source_schema, source_table FROM duckpipe.table_mappings ORDER BY id;
-- Ambiguous unqualified names.
CREATE SCHEMA s1;
CREATE SCHEMA s2;
CREATE TABLE s1.dup (id integer PRIMARY KEY);
CREATE TABLE s2.dup (id integer PRIMARY KEY);
SELECT duckpipe.add_table('s1.dup', sync_group => 'held');
SELECT duckpipe.add_table('s2.dup', sync_group => 'held');
SELECT duckpipe.remove_table('dup');
SELECT duckpipe.remove_table('s2.dup');
-- A dropped source table can still be removed by name.
DROP TABLE s1.dup;
SELECT duckpipe.remove_table('s1.dup');
SELECT duckpipe.remove_table('public.items');
SELECT duckpipe.remove_table('public.events');
SELECT duckpipe.remove_table('public.remote_only');
SELECT duckpipe.drop_group('held');
SELECT duckpipe.drop_group('other_held');
SELECT duckpipe.drop_group('remote');
SELECT count(*) AS mappings_left FROM duckpipe.table_mappings;
SELECT name FROM duckpipe.groups();
-- Clean up for the tests after this one (they share the database).
SET client_min_messages = warning;
DROP TABLE IF EXISTS public.orders, public.items, public.events, public.full_rows, public.keyless,
    public.keyless_remote, public.remote_only, public.remote_only_lake, public.orders_ducklake, public.items_ducklake,
    public.events_ducklake, public.full_rows_ducklake, public.keyless_ducklake CASCADE;
DROP SCHEMA s1, s2 CASCADE;
DROP TYPE public.remote_mood;
DROP DOMAIN public.remote_code;
RESET client_min_messages;
