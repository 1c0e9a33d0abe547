-- The backend's query engine: one DuckDB per backend for every lake read (the relation's scans and
-- duckpipe.query), reused across statements and following the lake's snapshots; its settings;
-- statement_timeout interrupting DuckDB; a larger-than-memory query spilling; a dropped lake
-- table's view gone. (Cancel, repeatable reads within a statement and the temp directory are tested
-- by the integration suite extension_query.)
CREATE SCHEMA qe;
SELECT name, setting, unit, context, vartype FROM pg_settings
WHERE name IN ('duckpipe.query_memory_mb', 'duckpipe.query_threads') ORDER BY name;
-- Nothing read yet in this session: no DuckDB.
SELECT running, instances_created, catalog_loads FROM duckpipe.query_engine_status();

SELECT duckpipe.create_group('qe');
CREATE TABLE qe.items (id int PRIMARY KEY, v text);
INSERT INTO qe.items SELECT g, 'v' || g FROM generate_series(1, 1000) g;
SELECT duckpipe.add_table('qe.items', sync_group => 'qe');
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('qe.items', 'qe.items_ducklake', 1000)$$);
-- Several statements, through the relation and through duckpipe.query: one DuckDB.
SELECT count(*), sum(id) FROM qe.items_ducklake;
SELECT q->>'n' AS n FROM duckpipe.query('SELECT count(*) AS n FROM qe.items_ducklake') q;
SELECT count(*) FROM qe.items_ducklake a JOIN qe.items_ducklake b USING (id);
SELECT running, instances_created, catalog_loads >= 1 AS loaded, snapshot_id IS NOT NULL AS attached, memory_mb,
       threads, temp_directory LIKE '%/pg_duckpipe/tmp/duckpipe-query-backend_' || pg_backend_pid() || '-%' AS own_temp_directory
FROM duckpipe.query_engine_status();
-- New rows reach the lake in a new snapshot: the next statement sees them, with the same DuckDB.
INSERT INTO qe.items SELECT g, 'v' || g FROM generate_series(1001, 1100) g;
CALL duckpipe_test.wait_for($$SELECT count(*) = 1100 FROM qe.items_ducklake$$);
SELECT count(*) FROM qe.items_ducklake;
SELECT instances_created, snapshot_id = (SELECT max(snapshot_id) FROM ducklake.ducklake_snapshot) AS latest
FROM duckpipe.query_engine_status();

-- statement_timeout interrupts DuckDB (10^12 rows to count), and the session goes on.
SET statement_timeout = '500ms';
SELECT * FROM duckpipe.query('SELECT count(*) FROM qe.items_ducklake a, qe.items_ducklake b, qe.items_ducklake c,
                              qe.items_ducklake d');
RESET statement_timeout;
SELECT count(*) FROM qe.items_ducklake;

-- A sort larger than duckpipe.query_memory_mb spills: the right answer at 64 MB, from a new DuckDB.
SET duckpipe.query_memory_mb = '64MB';
SELECT (SELECT (q->>'n') || ',' || (q->>'h') FROM duckpipe.query(
            'SELECT count(*) AS n, sum(r * (i % 7)) AS h FROM (SELECT i, row_number() OVER (ORDER BY s) AS r
             FROM (SELECT i, md5(CAST(i AS VARCHAR)) || repeat(''x'', 40) AS s FROM range(1000000) t(i)))') q)
     = (SELECT count(*) || ',' || sum(r * (i % 7)) FROM (SELECT i, row_number() OVER (
            ORDER BY md5(i::text) || repeat('x', 40) COLLATE "C") AS r FROM generate_series(0, 999999) i) t)
       AS same_as_postgres;
SELECT instances_created, memory_mb FROM duckpipe.query_engine_status();
RESET duckpipe.query_memory_mb;
-- Bad values are refused; only superusers may change them.
SET duckpipe.query_threads = 0;
CREATE ROLE qe_user;
SET ROLE qe_user;
SET duckpipe.query_memory_mb = 100000;
RESET ROLE;
DROP ROLE qe_user;

-- DROP TABLE of the relation drops the lake table: its view is gone at the next statement.
DROP TABLE qe.items_ducklake;
-- (The first line of DuckDB's error only: its "did you mean" guess depends on the other views.)
DO $$
BEGIN
    PERFORM * FROM duckpipe.query('SELECT count(*) FROM qe.items_ducklake');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%', split_part(SQLERRM, E'\n', 1);
END
$$;
-- Three DuckDBs in all: the first, the one of the 64 MB limit, and the one after its RESET.
SELECT instances_created FROM duckpipe.query_engine_status();

SELECT duckpipe.drop_group('qe');
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: qe'$$);
\set VERBOSITY terse
DROP SCHEMA qe CASCADE;
