-- Operations through the SQL API with live data: add_table starts exactly one worker, monitoring
-- (status, worker_status, metrics) follows the stream, add_table wakes a worker whose poll interval
-- is an hour, and removing the last table then dropping the group releases the slot.
\set SHOW_CONTEXT never
CREATE SCHEMA ops_lc;

-- Auto start: a group whose worker is stopped gets exactly one when tables are added.
SELECT duckpipe.create_group('ops_lc');
SELECT duckpipe.stop_worker('ops_lc');
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: ops_lc'$$);
CREATE TABLE ops_lc.orders (id integer PRIMARY KEY, amount numeric(10,2), note text);
INSERT INTO ops_lc.orders SELECT g, g * 1.5, 'n' || g FROM generate_series(1, 100) g;
CREATE TABLE ops_lc.items (id integer PRIMARY KEY, name text);
INSERT INTO ops_lc.items SELECT g, 'item ' || g FROM generate_series(1, 20) g;
SELECT duckpipe.add_table('ops_lc.orders', sync_group => 'ops_lc');
CALL duckpipe_test.wait_for($$SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: ops_lc'$$);
SELECT pid AS first_pid FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: ops_lc' \gset
SELECT duckpipe.add_table('ops_lc.items', sync_group => 'ops_lc');
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('ops_lc.orders', 'ops_lc.orders_ducklake', 100)
                               AND duckpipe_test.same('ops_lc.items', 'ops_lc.items_ducklake', 20)$$);
-- Still the one worker (the second add_table woke it), with its slot and publication.
SELECT count(*) AS workers, bool_and(pid = :first_pid) AS same_worker
FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: ops_lc';
SELECT slot_name, plugin, slot_type, database = current_database() AS here FROM pg_replication_slots
WHERE slot_name = 'duckpipe_slot_ops_lc';
SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = 'duckpipe_pub_ops_lc' ORDER BY 2;

-- Monitoring with live data: the copy's figures, then the stream moves rows_synced, applied_lsn and
-- last_sync.
CALL duckpipe_test.wait_for($$SELECT bool_and(state = 'STREAMING') FROM duckpipe.status() WHERE sync_group = 'ops_lc'$$);
SELECT sync_group, source_table, target_table, state, enabled, rows_synced, error_message, consecutive_failures,
       retry_at, snapshot_rows, snapshot_duration_ms >= 0 AS timed, source_label
FROM duckpipe.status() WHERE sync_group = 'ops_lc' ORDER BY source_table;
CREATE TEMPORARY TABLE before AS
SELECT rows_synced, coalesce(applied_lsn, '0/0') AS applied_lsn, coalesce(last_sync, '-infinity') AS last_sync
FROM duckpipe.status() WHERE source_table = 'ops_lc.orders';
INSERT INTO ops_lc.orders SELECT g, g * 1.5, 'n' || g FROM generate_series(101, 110) g;
INSERT INTO before (applied_lsn) SELECT pg_current_wal_insert_lsn();
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('ops_lc.orders', 'ops_lc.orders_ducklake', 110)$$);
CALL duckpipe_test.wait_for($$SELECT s.applied_lsn > b.applied_lsn AND s.rows_synced > b.rows_synced
    FROM duckpipe.status() s, before b WHERE s.source_table = 'ops_lc.orders' AND b.rows_synced IS NOT NULL$$);
SELECT s.rows_synced - b.rows_synced AS rows_added, s.applied_lsn > b.applied_lsn AS lsn_moved,
       s.applied_lsn <= (SELECT applied_lsn FROM before WHERE rows_synced IS NULL) AS lsn_not_ahead,
       s.last_sync > b.last_sync AS sync_moved, s.flush_lag_bytes >= 0 AS lag_known, s.queued_changes
FROM duckpipe.status() s, before b WHERE s.source_table = 'ops_lc.orders' AND b.rows_synced IS NOT NULL;
-- Updates and deletes arrive too.
UPDATE ops_lc.orders SET note = 'updated' WHERE id % 10 = 0;
DELETE FROM ops_lc.orders WHERE id > 105;
DELETE FROM ops_lc.items WHERE id <= 5;
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('ops_lc.orders', 'ops_lc.orders_ducklake', 105)
                               AND duckpipe_test.same('ops_lc.items', 'ops_lc.items_ducklake', 15)$$);
SELECT count(*) AS updated FROM ops_lc.orders_ducklake WHERE note = 'updated';
CALL duckpipe_test.wait_for($$SELECT total_queued_changes = 0 AND active_flushes = 0
    FROM duckpipe.worker_status() WHERE sync_group = 'ops_lc'$$);
SELECT sync_group, pid = :first_pid AS same_pid, running, total_queued_bytes, total_queued_changes,
       is_backpressured, active_flushes, tables
FROM duckpipe.worker_status() WHERE sync_group = 'ops_lc';
-- metrics(): one document, its shape and the figures of this group.
SELECT k AS metrics_keys FROM jsonb_object_keys(duckpipe.metrics()) k ORDER BY 1;
SELECT k AS table_keys FROM jsonb_object_keys(duckpipe.metrics()->'tables'->0) k ORDER BY 1;
SELECT k AS group_keys FROM jsonb_object_keys(duckpipe.metrics()->'groups'->0) k ORDER BY 1;
CALL duckpipe_test.wait_for($$SELECT bool_and((t->>'flush_count')::int > 0)
    FROM jsonb_array_elements(duckpipe.metrics()->'tables') t WHERE t->>'group' = 'ops_lc'$$);
SELECT t->>'source_table' AS source_table, t->>'state' AS state, (t->>'rows_synced')::bigint = s.rows_synced AS rows_agree,
       (t->>'snapshot_rows')::bigint AS snapshot_rows, (t->>'consecutive_failures')::int AS failures,
       (t->>'queued_changes')::bigint AS queued, (t->>'applied_lsn')::pg_lsn = s.applied_lsn AS lsn_agrees,
       (t->>'flush_duration_ms')::bigint >= 0 AS flush_timed
FROM jsonb_array_elements(duckpipe.metrics()->'tables') t
JOIN duckpipe.status() s ON s.source_table = t->>'source_table'
WHERE t->>'group' = 'ops_lc' ORDER BY 1;
SELECT g->>'name' AS name, g->'total_queued_changes' AS queued, g->'is_backpressured' AS backpressured
FROM jsonb_array_elements(duckpipe.metrics()->'groups') g WHERE g->>'name' = 'ops_lc';
SELECT name, table_count, last_sync IS NOT NULL AS synced FROM duckpipe.groups() WHERE name = 'ops_lc';
SELECT source_table, rows_synced > 0 AS counted FROM duckpipe.tables() WHERE sync_group = 'ops_lc' ORDER BY 1;

-- Wakeup: with a poll interval of an hour, a table added to the running worker still arrives at once.
ALTER SYSTEM SET duckpipe.poll_interval = '1h';
SELECT pg_reload_conf();
\c
SHOW duckpipe.poll_interval;
-- The worker has seen the reload once it is back at its wait after a change: a write that arrives shows it.
INSERT INTO ops_lc.items VALUES (1000, 'after reload');
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('ops_lc.items', 'ops_lc.items_ducklake', 16)$$);
CREATE TABLE ops_lc.late (id bigint PRIMARY KEY, v text);
INSERT INTO ops_lc.late SELECT g, repeat('x', g % 7) FROM generate_series(1, 30) g;
SELECT duckpipe.add_table('ops_lc.late', sync_group => 'ops_lc');
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('ops_lc.late', 'ops_lc.late_ducklake', 30)$$, '30s');
SELECT count(*) AS workers, bool_and(pid = :first_pid) AS same_worker
FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: ops_lc';
-- And a resync too.
UPDATE ops_lc.late SET v = 'resynced' WHERE id <= 3;
SELECT duckpipe.resync_table('ops_lc.late');
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('ops_lc.late', 'ops_lc.late_ducklake', 30)
    AND (SELECT state = 'STREAMING' FROM duckpipe.status() WHERE source_table = 'ops_lc.late')$$, '30s');
SELECT count(*) FILTER (WHERE v = 'resynced') AS resynced, count(*) AS total FROM ops_lc.late_ducklake;
ALTER SYSTEM SET duckpipe.poll_interval = '200ms';
SELECT pg_reload_conf();

-- Removing tables: the last one warns that the slot still holds WAL; drop_group releases it.
SELECT duckpipe.remove_table('ops_lc.orders', drop_target => true);
SELECT duckpipe.remove_table('ops_lc.items', drop_target => true);
SELECT to_regclass('ops_lc.orders_ducklake') AS orders_target, to_regclass('ops_lc.items_ducklake') AS items_target;
SELECT duckpipe.remove_table('ops_lc.late', drop_target => false);
SELECT count(*) AS late_target_kept FROM ops_lc.late_ducklake;
SELECT count(*) AS slot_still_there FROM pg_replication_slots WHERE slot_name = 'duckpipe_slot_ops_lc';
SELECT count(*) AS published FROM pg_publication_tables WHERE pubname = 'duckpipe_pub_ops_lc';
SELECT duckpipe.drop_group('ops_lc');
SELECT count(*) AS slots FROM pg_replication_slots WHERE slot_name = 'duckpipe_slot_ops_lc';
SELECT count(*) AS publications FROM pg_publication WHERE pubname = 'duckpipe_pub_ops_lc';
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: ops_lc'$$);
SELECT count(*) AS groups FROM duckpipe.sync_groups WHERE name = 'ops_lc';
DROP TABLE ops_lc.late_ducklake;
DROP SCHEMA ops_lc CASCADE;
