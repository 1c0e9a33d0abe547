-- Compaction of a synced table's lake files: duckpipe.compact_table merges the small ones on demand,
-- and the worker's background compaction (auto_compact, compact_min_files, compact_interval_ms)
-- merges them while the table streams. The lake keeps equal to the source throughout.
CREATE SCHEMA scen_compact;
SELECT duckpipe.create_group('scen_compact');
SELECT duckpipe.set_group_config('scen_compact', 'auto_compact', '0');
-- Data files of the lake table in the latest snapshot.
CREATE FUNCTION scen_compact.files() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM ducklake.ducklake_data_file f
    JOIN ducklake.ducklake_table t ON t.table_id = f.table_id AND t.end_snapshot IS NULL
    JOIN ducklake.ducklake_schema s ON s.schema_id = t.schema_id AND s.end_snapshot IS NULL
    WHERE f.end_snapshot IS NULL AND s.schema_name = 'scen_compact' AND t.table_name = 't_ducklake'
$$;

CREATE TABLE scen_compact.t (id int PRIMARY KEY, v text);
INSERT INTO scen_compact.t SELECT g, 'v' || g FROM generate_series(1, 100) g;
SELECT duckpipe.add_table('scen_compact.t', sync_group => 'scen_compact');
CALL duckpipe_test.wait_for($$SELECT state = 'STREAMING' FROM duckpipe.status() WHERE source_table = 'scen_compact.t'$$);
-- One flush (one file) per transaction: each waits for the previous one to reach the lake.
INSERT INTO scen_compact.t VALUES (101, 'a');
CALL duckpipe_test.wait_for($$SELECT count(*) = 101 FROM scen_compact.t_ducklake$$);
INSERT INTO scen_compact.t VALUES (102, 'b');
CALL duckpipe_test.wait_for($$SELECT count(*) = 102 FROM scen_compact.t_ducklake$$);
UPDATE scen_compact.t SET v = 'updated' WHERE id <= 10;
CALL duckpipe_test.wait_for($$SELECT count(*) = 10 FROM scen_compact.t_ducklake WHERE v = 'updated'$$);
DELETE FROM scen_compact.t WHERE id BETWEEN 50 AND 59;
CALL duckpipe_test.wait_for($$SELECT count(*) = 92 FROM scen_compact.t_ducklake$$);
INSERT INTO scen_compact.t VALUES (103, 'c');
CALL duckpipe_test.wait_for($$SELECT count(*) = 93 FROM scen_compact.t_ducklake$$);
-- With auto_compact off, every flush left its file.
SELECT scen_compact.files() >= 5 AS many_files;
SELECT scen_compact.files() AS files_before \gset

-- On demand: every small file merged into one, deleted rows dropped; nothing to do the second time.
SELECT files_before = :files_before AS counted, files_after, rows_written, snapshot_id IS NOT NULL AS committed
FROM duckpipe.compact_table('scen_compact.t');
SELECT scen_compact.files() AS files_after;
SELECT duckpipe_test.diff('scen_compact.t', 'scen_compact.t_ducklake') AS diff;
SELECT files_before, files_after, rows_written, snapshot_id FROM duckpipe.compact_table('scen_compact.t', 'scen_compact');
-- Errors name the thing.
SELECT * FROM duckpipe.compact_table('scen_compact.nope');
SELECT * FROM duckpipe.compact_table('scen_compact.t', target_file_size_mb => 0);

-- In the background: small files are merged as they accumulate.
SELECT duckpipe.set_group_config('scen_compact', 'compact_min_files', '3');
SELECT duckpipe.set_group_config('scen_compact', 'compact_interval_ms', '1000');
SELECT duckpipe.set_group_config('scen_compact', 'auto_compact', '1');
SELECT duckpipe.get_table_config('scen_compact.t', 'auto_compact') AS auto_compact,
       duckpipe.get_table_config('scen_compact.t', 'compact_min_files') AS min_files,
       duckpipe.get_config('compact_target_file_size_mb') AS target_mb;
INSERT INTO scen_compact.t VALUES (104, 'd');
CALL duckpipe_test.wait_for($$SELECT count(*) = 94 FROM scen_compact.t_ducklake$$);
UPDATE scen_compact.t SET v = 'again' WHERE id % 2 = 0;
CALL duckpipe_test.wait_for($$SELECT count(*) = 47 FROM scen_compact.t_ducklake WHERE v = 'again'$$);
INSERT INTO scen_compact.t VALUES (105, 'e');
CALL duckpipe_test.wait_for($$SELECT count(*) = 95 FROM scen_compact.t_ducklake$$);
CALL duckpipe_test.wait_for($$SELECT scen_compact.files() = 1$$);
SELECT scen_compact.files() AS files_in_background;
SELECT duckpipe_test.diff('scen_compact.t', 'scen_compact.t_ducklake') AS diff;
-- status() and metrics() show the background compactions (the worker writes them with its other
-- runtime figures every 2 s); compact_table's on-demand ones are not counted.
CALL duckpipe_test.wait_for($$SELECT compaction_count >= 1 AND data_files = 1 FROM duckpipe.status() WHERE source_table = 'scen_compact.t'$$);
SELECT compaction_count >= 1 AS compacted, compaction_files_merged >= compaction_count AS merged,
       last_compaction_at IS NOT NULL AS has_time, data_files
FROM duckpipe.status() WHERE source_table = 'scen_compact.t';
SELECT (t->>'compaction_count')::bigint >= 1 AS compacted, t->>'data_files' AS data_files,
       t ? 'compaction_files_merged' AND t ? 'last_compaction_at' AS has_keys
FROM jsonb_array_elements(duckpipe.metrics()->'tables') t WHERE t->>'source_table' = 'scen_compact.t';

-- Management function: not for PUBLIC.
CREATE ROLE scen_compact_user;
SET ROLE scen_compact_user;
SELECT * FROM duckpipe.compact_table('scen_compact.t');
RESET ROLE;
DROP ROLE scen_compact_user;

SELECT duckpipe.remove_table('scen_compact.t', true);
SELECT duckpipe.drop_group('scen_compact');
DROP SCHEMA scen_compact CASCADE;
