-- Rows inlined into the lake catalog (DuckLake data inlining, as DuckDB's own writer inlines small
-- inserts, written here by hand as it writes them): the lake relation reads them together with the
-- Parquet rows, in whole-query DuckDB execution and on the row path, with time travel; an inlined
-- row deleted by end_snapshot is gone from then on.
CREATE SCHEMA inl;
SELECT duckpipe.create_group('inl');
CREATE TABLE inl.t (id int PRIMARY KEY, name text);
INSERT INTO inl.t VALUES (1, 'one'), (2, 'two');
SELECT duckpipe.add_table('inl.t', sync_group => 'inl');
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.diff('inl.t', 'inl.t_ducklake') = 0
    AND EXISTS (SELECT 1 FROM duckpipe.status() s WHERE s.source_table = 'inl.t' AND s.state = 'STREAMING')$$);

SELECT t.table_id AS tid FROM ducklake.ducklake_table t JOIN ducklake.ducklake_schema s USING (schema_id)
WHERE s.schema_name = 'inl' AND t.table_name = 't_ducklake' AND t.end_snapshot IS NULL AND s.end_snapshot IS NULL \gset
BEGIN;
LOCK ducklake.ducklake_snapshot IN EXCLUSIVE MODE;
SELECT snapshot_id AS head, schema_version + 1 AS sv, snapshot_id + 1 AS s1, snapshot_id + 2 AS s2
FROM ducklake.ducklake_snapshot ORDER BY snapshot_id DESC LIMIT 1 \gset
SELECT format('ducklake.ducklake_inlined_data_%s_%s', :tid, :sv) AS itab,
       format('ducklake_inlined_data_%s_%s', :tid, :sv) AS iname \gset
SELECT next_row_id AS rid FROM ducklake.ducklake_table_stats WHERE table_id = :tid \gset
INSERT INTO ducklake.ducklake_snapshot SELECT :s1, now(), schema_version + 1, next_catalog_id, next_file_id + 1
FROM ducklake.ducklake_snapshot WHERE snapshot_id = :head;
INSERT INTO ducklake.ducklake_snapshot_changes VALUES (:s1, 'inlined_insert:' || :tid, NULL, NULL, NULL);
INSERT INTO ducklake.ducklake_inlined_data_tables VALUES (:tid, :'iname', :sv);
CREATE TABLE :itab (row_id bigint, begin_snapshot bigint, end_snapshot bigint, id integer, name bytea);
INSERT INTO :itab VALUES (:rid, :s1, NULL, 3, convert_to('three ü', 'UTF8')), (:rid + 1, :s1, NULL, 4, NULL);
UPDATE ducklake.ducklake_table_stats SET record_count = record_count + 2, next_row_id = next_row_id + 2
WHERE table_id = :tid;
INSERT INTO ducklake.ducklake_snapshot SELECT :s2, now(), schema_version, next_catalog_id, next_file_id + 1
FROM ducklake.ducklake_snapshot WHERE snapshot_id = :s1;
INSERT INTO ducklake.ducklake_snapshot_changes VALUES (:s2, 'inlined_delete:' || :tid, NULL, NULL, NULL);
UPDATE :itab SET end_snapshot = :s2 WHERE id = 4;
COMMIT;

-- Latest: the file rows and the live inlined row.
SELECT * FROM inl.t_ducklake ORDER BY id;
SELECT count(*), string_agg(name, ',' ORDER BY id) FROM inl.t_ducklake WHERE id > 1;
SET duckpipe.duckdb_execution = off;
SET duckpipe.lake_scan_pushdown = off;
SELECT * FROM inl.t_ducklake ORDER BY id;
RESET duckpipe.lake_scan_pushdown;
SELECT * FROM inl.t_ducklake WHERE id >= 3;
RESET duckpipe.duckdb_execution;
-- Before the inlined delete both inlined rows; before the inlined insert none.
SET duckpipe.as_of_snapshot = :s1;
SELECT * FROM inl.t_ducklake ORDER BY id;
SET duckpipe.as_of_snapshot = :head;
SELECT * FROM inl.t_ducklake ORDER BY id;
RESET duckpipe.as_of_snapshot;
SELECT * FROM duckpipe.query('SELECT id, name FROM inl.t_ducklake ORDER BY id');

SELECT duckpipe.remove_table('inl.t', drop_target => true);
SELECT duckpipe.drop_group('inl');
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: inl'$$);
\set VERBOSITY terse
DROP SCHEMA inl CASCADE;
