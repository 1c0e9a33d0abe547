-- Several groups: each has its own worker, slot and publication; disabling one stops its worker
-- and its tables while the other goes on; enabling it again catches up from its slot.
\set SHOW_CONTEXT never
CREATE SCHEMA ops_gr;

SELECT duckpipe.create_group('ops_ga');
SELECT duckpipe.create_group('ops_gb', publication => 'ops_gb_pub', slot_name => 'ops_gb_slot');
CREATE TABLE ops_gr.a (id integer PRIMARY KEY, v text);
CREATE TABLE ops_gr.b (id integer PRIMARY KEY, v text);
CREATE TABLE ops_gr.b2 (k1 integer, k2 text, v numeric, PRIMARY KEY (k1, k2));
INSERT INTO ops_gr.a SELECT g, 'a' || g FROM generate_series(1, 50) g;
INSERT INTO ops_gr.b SELECT g, 'b' || g FROM generate_series(1, 60) g;
INSERT INTO ops_gr.b2 SELECT g % 5, 'k' || g, g FROM generate_series(1, 40) g;
SELECT duckpipe.add_table('ops_gr.a', sync_group => 'ops_ga');
SELECT duckpipe.add_table('ops_gr.b', sync_group => 'ops_gb');
SELECT duckpipe.add_table('ops_gr.b2', sync_group => 'ops_gb');
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('ops_gr.a', 'ops_gr.a_ducklake', 50)
    AND duckpipe_test.same('ops_gr.b', 'ops_gr.b_ducklake', 60) AND duckpipe_test.same('ops_gr.b2', 'ops_gr.b2_ducklake', 40)$$);
-- One worker, one slot and one publication per group.
SELECT backend_type, count(*) FROM pg_stat_activity WHERE backend_type IN ('pg_duckpipe: ops_ga', 'pg_duckpipe: ops_gb')
GROUP BY 1 ORDER BY 1;
SELECT slot_name, active FROM pg_replication_slots WHERE slot_name IN ('duckpipe_slot_ops_ga', 'ops_gb_slot') ORDER BY 1;
SELECT pubname, schemaname, tablename FROM pg_publication_tables WHERE pubname IN ('duckpipe_pub_ops_ga', 'ops_gb_pub')
ORDER BY 1, 3;
SELECT sync_group, running, tables FROM duckpipe.worker_status() WHERE sync_group LIKE 'ops_g_' ORDER BY 1;
SELECT name, publication, slot_name, enabled, mode, table_count FROM duckpipe.groups() WHERE name LIKE 'ops_g_' ORDER BY 1;

-- Disabling ops_ga stops its worker; its table waits while ops_gb keeps streaming.
SELECT duckpipe.disable_group('ops_ga');
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: ops_ga'$$);
INSERT INTO ops_gr.a SELECT g, 'a' || g FROM generate_series(51, 70) g;
UPDATE ops_gr.a SET v = 'changed' WHERE id <= 10;
INSERT INTO ops_gr.b SELECT g, 'b' || g FROM generate_series(61, 90) g;
DELETE FROM ops_gr.b2 WHERE k1 = 0;
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('ops_gr.b', 'ops_gr.b_ducklake', 90)
    AND duckpipe_test.same('ops_gr.b2', 'ops_gr.b2_ducklake', 32)$$);
SELECT count(*) AS a_rows, count(*) FILTER (WHERE v = 'changed') AS a_changed FROM ops_gr.a_ducklake;
SELECT sync_group, source_table, enabled FROM duckpipe.status() WHERE sync_group LIKE 'ops_g_' ORDER BY 1, 2;
SELECT sync_group, running FROM duckpipe.worker_status() WHERE sync_group LIKE 'ops_g_' ORDER BY 1;
SELECT count(*) AS ops_gb_workers FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: ops_gb';
-- A disabled group's worker is not started by hand either.
SELECT duckpipe.start_worker('ops_ga');
-- Enabled again: its worker resumes from the slot, with nothing lost or repeated.
SELECT duckpipe.enable_group('ops_ga');
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('ops_gr.a', 'ops_gr.a_ducklake', 70)$$);
SELECT count(*) AS a_rows, count(DISTINCT id) AS a_ids, count(*) FILTER (WHERE v = 'changed') AS a_changed
FROM ops_gr.a_ducklake;
SELECT backend_type, count(*) FROM pg_stat_activity WHERE backend_type IN ('pg_duckpipe: ops_ga', 'pg_duckpipe: ops_gb')
GROUP BY 1 ORDER BY 1;

-- Moving a table between groups copies it again there.
SELECT duckpipe.move_table('ops_gr.b2', 'ops_ga');
INSERT INTO ops_gr.b2 VALUES (9, 'moved', 9);
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('ops_gr.b2', 'ops_gr.b2_ducklake', 33)
    AND (SELECT state = 'STREAMING' FROM duckpipe.status() WHERE source_table = 'ops_gr.b2')$$);
SELECT sync_group, source_table FROM duckpipe.status() WHERE sync_group LIKE 'ops_g_' ORDER BY 1, 2;
SELECT pubname, tablename FROM pg_publication_tables WHERE pubname IN ('duckpipe_pub_ops_ga', 'ops_gb_pub') ORDER BY 1, 2;

-- Clean up: tables, groups (with their slots and publications).
SELECT duckpipe.remove_table('ops_gr.a', drop_target => true);
SELECT duckpipe.remove_table('ops_gr.b2', drop_target => true);
SELECT duckpipe.remove_table('ops_gr.b', drop_target => true);
SELECT duckpipe.drop_group('ops_ga');
SELECT duckpipe.drop_group('ops_gb');
SELECT count(*) AS slots FROM pg_replication_slots WHERE slot_name IN ('duckpipe_slot_ops_ga', 'ops_gb_slot');
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type LIKE 'pg_duckpipe: ops_g_'$$);
DROP SCHEMA ops_gr CASCADE;
