-- One worker per group: start_worker twice leaves exactly one, named pg_duckpipe: <group>.
INSERT INTO duckpipe.sync_groups(name, publication, slot_name)
VALUES ('regress_w', 'regress_w_pub', 'regress_w_slot');
SELECT duckpipe.start_worker('regress_w');
SELECT duckpipe.start_worker('regress_w');
CALL duckpipe_test.wait_for($$SELECT count(*) = 1 FROM pg_stat_activity
    WHERE backend_type = 'pg_duckpipe: regress_w' AND datname = current_database()$$);
SELECT duckpipe.start_worker();
-- Give a second (wrong) worker every chance to appear: the first one has run its pipeline far
-- enough to create the group's replication slot.
CALL duckpipe_test.wait_for($$SELECT running FROM duckpipe.worker_status() WHERE sync_group = 'regress_w'$$);
CALL duckpipe_test.wait_for($$SELECT count(*) = 1 FROM pg_replication_slots WHERE slot_name = 'regress_w_slot'$$);
SELECT count(*) AS workers FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: regress_w';
SELECT sync_group, running, total_queued_bytes, total_queued_changes, is_backpressured, active_flushes
FROM duckpipe.worker_status() WHERE sync_group = 'regress_w';
-- Unknown and disabled groups are refused.
SELECT duckpipe.start_worker('no_such_group');
-- (A group of its own: disabling regress_w would make its running worker leave.)
INSERT INTO duckpipe.sync_groups(name, publication, slot_name, enabled)
VALUES ('regress_w_off', 'regress_w_off_pub', 'regress_w_off_slot', false);
SELECT duckpipe.start_worker('regress_w_off');
DELETE FROM duckpipe.sync_groups WHERE name = 'regress_w_off';
-- stop_worker stops it (at COMMIT), and it stays stopped.
BEGIN;
SELECT duckpipe.stop_worker('regress_w');
ROLLBACK;
SELECT count(*) AS still_one FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: regress_w';
SELECT duckpipe.stop_worker('regress_w');
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity
    WHERE backend_type = 'pg_duckpipe: regress_w'$$);
SELECT sync_group, running FROM duckpipe.worker_status() WHERE sync_group = 'regress_w';
-- wake_worker starts a group's worker at COMMIT only.
BEGIN;
SELECT duckpipe.wake_worker('regress_w');
ROLLBACK;
SELECT sync_group, running FROM duckpipe.worker_status() WHERE sync_group = 'regress_w';
SELECT duckpipe.wake_worker('regress_w');
CALL duckpipe_test.wait_for($$SELECT count(*) = 1 FROM pg_stat_activity
    WHERE backend_type = 'pg_duckpipe: regress_w'$$);
-- A reload takes effect in the worker: duckpipe.enabled = off makes it exit.
ALTER SYSTEM SET duckpipe.enabled = off;
SELECT pg_reload_conf();
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity
    WHERE backend_type = 'pg_duckpipe: regress_w'$$);
-- A session reads reloaded settings between statements: a new one has them for certain.
\c
SELECT duckpipe.start_worker('regress_w');
ALTER SYSTEM RESET duckpipe.enabled;
SELECT pg_reload_conf();
\c
-- start_worker right after stop_worker: the group ends up with one running worker, whether the
-- stopping one saw the stop or not.
SELECT duckpipe.start_worker('regress_w');
CALL duckpipe_test.wait_for($$SELECT count(*) = 1 FROM pg_replication_slots WHERE slot_name = 'regress_w_slot' AND active$$);
SELECT duckpipe.stop_worker('regress_w');
SELECT duckpipe.start_worker('regress_w');
CALL duckpipe_test.wait_for($$SELECT count(*) = 1 FROM pg_replication_slots WHERE slot_name = 'regress_w_slot' AND active$$);
SELECT count(*) AS workers FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: regress_w';
SELECT duckpipe.stop_worker('regress_w');
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity
    WHERE backend_type = 'pg_duckpipe: regress_w'$$);
-- Monitoring shapes.
SELECT * FROM duckpipe.status() LIMIT 0;
SELECT jsonb_typeof(duckpipe.metrics()->'tables') AS tables, jsonb_typeof(duckpipe.metrics()->'groups') AS groups;
SELECT g FROM jsonb_array_elements(duckpipe.metrics()->'groups') g WHERE g->>'name' = 'regress_w';
-- Clean up: the group's slot and publication (the worker made them).
CALL duckpipe_test.wait_for($$SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'regress_w_slot'$$);
SELECT count(*) AS dropped FROM (SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
    WHERE slot_name = 'regress_w_slot') s;
DROP PUBLICATION regress_w_pub;
DELETE FROM duckpipe.sync_groups WHERE name = 'regress_w';
-- start_worker() above started the other groups' workers too (the default group's): stop them.
SELECT duckpipe.stop_worker();
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type LIKE 'pg_duckpipe:%'$$);
