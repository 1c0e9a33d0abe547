-- The lake table as a PostgreSQL relation (no worker needed): shape, writes refused, GRANT,
-- rollback, DROP. Rows read from a lake filled by a pipeline are tested by the integration suite
-- extension_relation.
CREATE TYPE public.mood AS ENUM ('sad', 'ok');
CREATE TABLE public.orders (
    id bigint PRIMARY KEY,
    amount numeric(12,2),
    note varchar(20) COLLATE "C",
    tags text[],
    at timestamptz,
    doc jsonb,
    raw bytea,
    u uuid,
    m public.mood,
    dropped int
);
ALTER TABLE public.orders DROP COLUMN dropped;
CREATE ROLE lake_owner;
ALTER TABLE public.orders OWNER TO lake_owner;

SELECT duckpipe.create_target_relation('public.orders', 'public', 'orders_ducklake', 'upsert');
\d+ public.orders_ducklake
SELECT a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE c.oid = 'public.orders_ducklake'::regclass;
-- SELECT is granted to the source's owner, nothing else.
SELECT privilege_type FROM information_schema.role_table_grants
WHERE table_name = 'orders_ducklake' AND grantee = 'lake_owner' ORDER BY 1;

-- No lake yet: no rows.
SELECT * FROM public.orders_ducklake;
SELECT count(*) FROM public.orders_ducklake;

-- Append mode adds the changelog columns.
SELECT duckpipe.create_target_relation('public.orders', 'analytics', 'orders_log', 'append');
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'analytics.orders_log'::regclass AND attnum > 4 ORDER BY attnum;
SELECT duckpipe.create_target_relation('public.orders', 'public', 'x', 'merge');

-- Writes are refused, naming the table and what to do instead.
\set VERBOSITY default
INSERT INTO public.orders_ducklake (id) VALUES (1);
INSERT INTO public.orders_ducklake SELECT * FROM public.orders WHERE false;
UPDATE public.orders_ducklake SET amount = 1;
DELETE FROM public.orders_ducklake;
TRUNCATE public.orders_ducklake;
COPY public.orders_ducklake (id) FROM STDIN;
1
\.
SELECT * FROM public.orders_ducklake FOR UPDATE;
CREATE INDEX ON public.orders_ducklake (id);
ALTER TABLE public.orders_ducklake ALTER COLUMN amount TYPE text;
ALTER TABLE public.orders_ducklake RENAME TO renamed;
ALTER TABLE public.orders_ducklake SET SCHEMA analytics;
ALTER SCHEMA analytics RENAME TO renamed_analytics;
VACUUM public.orders_ducklake;
ANALYZE public.orders_ducklake;
\set VERBOSITY terse
-- A schema without lake relations renames as usual.
CREATE SCHEMA plain_schema;
ALTER SCHEMA plain_schema RENAME TO plain_schema2;
DROP SCHEMA plain_schema2;

-- GRANT works as on a table; a role without it cannot read.
CREATE ROLE lake_reader;
SET ROLE lake_reader;
SELECT * FROM public.orders_ducklake;
RESET ROLE;
GRANT SELECT ON public.orders_ducklake TO lake_reader;
SET ROLE lake_reader;
SELECT count(*) FROM public.orders_ducklake;
-- Only pg_duckpipe creates lake relations (they read the lake with the catalog's rights).
RESET ROLE;
CREATE SCHEMA reader_own AUTHORIZATION lake_reader;
SET ROLE lake_reader;
CREATE TABLE reader_own.orders_ducklake (id bigint) USING duckpipe_lake;
SELECT duckpipe.create_target_relation('public.orders', 'reader_own', 'x', 'upsert');
RESET ROLE;
DROP SCHEMA reader_own;

-- Source DDL the lake followed, as the pipeline reports it in the lake's commit: the relation
-- follows without a rewrite (same storage), types from the source (or from the lake type).
\set VERBOSITY default
VACUUM FULL public.orders_ducklake;
\set VERBOSITY terse
SELECT relfilenode AS storage_before FROM pg_class WHERE oid = 'public.orders_ducklake'::regclass \gset
ALTER TABLE public.orders ALTER COLUMN amount TYPE numeric(20,4);
ALTER TABLE public.orders ADD COLUMN qty smallint;
SELECT duckpipe.sync_target_relation('public', 'orders_ducklake', '[
    {"kind": "widen", "name": "amount", "lake_type": "decimal(20,4)"},
    {"kind": "add", "name": "qty", "lake_type": "int16"},
    {"kind": "add", "name": "remote_only", "lake_type": "decimal(9,3)"},
    {"kind": "rename", "name": "note", "new_name": "remark"},
    {"kind": "drop", "name": "u"},
    {"kind": "widen", "name": "id", "lake_type": "int64"}]');
\d public.orders_ducklake
SELECT relfilenode = :storage_before AS same_storage FROM pg_class WHERE oid = 'public.orders_ducklake'::regclass;
SELECT * FROM public.orders_ducklake;
-- Not for every role, and a table that is not a lake relation is left alone.
SELECT has_function_privilege('lake_reader', 'duckpipe.sync_target_relation(text,text,jsonb)', 'EXECUTE');
SELECT duckpipe.sync_target_relation('public', 'orders', '[{"kind": "drop", "name": "m"}]');
SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.orders'::regclass AND attname = 'm';

-- A rolled back creation leaves nothing behind.
BEGIN;
SELECT duckpipe.create_target_relation('public.orders', 'public', 'orders_rolled_back', 'upsert');
ROLLBACK;
SELECT to_regclass('public.orders_rolled_back');

-- DROP TABLE stops syncing (the mapping goes, with a NOTICE), and not when the DROP rolls back.
-- (A daemon-mode group: no background worker picks it up.)
INSERT INTO duckpipe.sync_groups (name, publication, slot_name, mode) VALUES ('regress_lake', 'regress_lake_pub', 'regress_lake_slot', 'daemon');
INSERT INTO duckpipe.table_mappings (group_id, source_oid, source_schema, source_table, target_schema, target_table)
SELECT id, 'public.orders'::regclass, 'public', 'orders', 'public', 'orders_ducklake' FROM duckpipe.sync_groups WHERE name = 'regress_lake';
BEGIN;
DROP TABLE public.orders_ducklake;
ROLLBACK;
SELECT count(*) AS mappings FROM duckpipe.table_mappings WHERE target_table = 'orders_ducklake';
BEGIN;
SAVEPOINT s;
DROP TABLE public.orders_ducklake;
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT count(*) AS mappings FROM duckpipe.table_mappings WHERE target_table = 'orders_ducklake';
DROP TABLE public.orders_ducklake;
SELECT count(*) AS mappings FROM duckpipe.table_mappings WHERE target_table = 'orders_ducklake';
-- A lake relation without a mapping, and a plain table (no NOTICE for it).
DROP TABLE analytics.orders_log;
CREATE TABLE public.plain (a int);
DROP TABLE public.plain;
DELETE FROM duckpipe.sync_groups WHERE name = 'regress_lake';

-- query(): errors name the problem.
SELECT * FROM duckpipe.query('SELECT 1', 1, now());
SELECT * FROM duckpipe.query(NULL);
SELECT * FROM duckpipe.query('SELECT 1');

DROP SCHEMA analytics;
DROP TABLE public.orders;
DROP TYPE public.mood;
DROP ROLE lake_reader;
DROP ROLE lake_owner;
