-- Time travel: duckpipe.as_of_snapshot, duckpipe.as_of_time, duckpipe.as_of() and duckpipe.query
-- read an earlier state of the lake exactly (compared row for row with a copy of the source taken
-- then); duckpipe.snapshot_at maps a source LSN or time to the snapshot holding that state.
CREATE SCHEMA tt;
-- The error a statement raises, without what varies between runs (the catalog's conninfo and
-- its snapshot ids), and its hint.
CREATE FUNCTION tt.error_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    msg text;
    hint text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN others THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
    RETURN regexp_replace(msg, ' in the DuckLake catalog .*$', '') || ' | ' || hint;
END
$$;
CREATE FUNCTION tt.synced(src text) RETURNS boolean LANGUAGE sql AS $$
    SELECT duckpipe_test.diff(src::regclass, (src || '_ducklake')::regclass) = 0
       AND EXISTS (SELECT 1 FROM duckpipe.status() s WHERE s.source_table = src AND s.state = 'STREAMING')
$$;
SELECT duckpipe.create_group('tt');
CREATE TABLE tt.orders (id int PRIMARY KEY, customer text, amount numeric(10,2));
INSERT INTO tt.orders SELECT g, 'c' || (g % 3), g * 1.5 FROM generate_series(1, 20) g;
SELECT duckpipe.add_table('tt.orders', sync_group => 'tt');
CALL duckpipe_test.wait_for($$SELECT tt.synced('tt.orders')$$);

-- State 1: the copy and a streamed transaction. Its LSN, snapshot and a time once the lake has it.
INSERT INTO tt.orders VALUES (21, 'late', 99), (22, NULL, NULL);
SELECT pg_current_wal_insert_lsn() AS lsn1 \gset
CALL duckpipe_test.wait_for($$SELECT tt.synced('tt.orders')$$);
CREATE TABLE tt.state1 AS SELECT * FROM tt.orders;
SELECT max(snapshot_id) AS snap1, clock_timestamp() AS time1 FROM duckpipe.snapshots() \gset

-- A table synced after state 1: it did not exist in the lake then.
CREATE TABLE tt.later (id int PRIMARY KEY);
INSERT INTO tt.later VALUES (1), (2);
SELECT duckpipe.add_table('tt.later', sync_group => 'tt');
CALL duckpipe_test.wait_for($$SELECT tt.synced('tt.later')$$);

-- State 2: updates, deletes, inserts.
UPDATE tt.orders SET amount = amount + 100, customer = 'upd' WHERE id % 2 = 0;
DELETE FROM tt.orders WHERE id % 5 = 0;
INSERT INTO tt.orders VALUES (30, 'new', 1);
CALL duckpipe_test.wait_for($$SELECT tt.synced('tt.orders')$$);
SELECT duckpipe_test.diff('tt.state1', 'tt.orders') > 0 AS states_differ;

-- The pipeline's commits say what they hold (commit_extra_info, free text in the DuckLake spec).
SELECT DISTINCT p ->> 'kind' AS kind, p ->> 'group' AS sync_group, p ->> 'target' AS target,
       (p ->> 'source_lsn')::pg_lsn IS NOT NULL AS has_lsn
FROM (SELECT duckpipe._commit_provenance(commit_extra_info) AS p FROM duckpipe.snapshots()) c
WHERE p ->> 'table' LIKE 'tt.%' ORDER BY 1, 3;

-- duckpipe.as_of_snapshot: exactly state 1; RESET: the latest.
SET duckpipe.as_of_snapshot = :snap1;
SELECT duckpipe_test.diff('tt.state1', 'tt.orders_ducklake') AS diff, (SELECT count(*) FROM tt.orders_ducklake) AS lake_rows;
-- A relation whose lake table did not exist at that snapshot reads as empty.
SELECT count(*) AS later_rows FROM tt.later_ducklake;
-- duckpipe.query honours the setting when its own arguments are NULL, and its arguments win.
SELECT count(*) AS query_rows FROM duckpipe.query('SELECT * FROM tt.orders_ducklake');
SELECT count(*) = (SELECT count(*) FROM tt.orders) AS query_own_snapshot
FROM duckpipe.query('SELECT * FROM tt.orders_ducklake', snapshot => (SELECT max(snapshot_id) FROM duckpipe.snapshots()));
RESET duckpipe.as_of_snapshot;
SELECT duckpipe_test.diff('tt.orders', 'tt.orders_ducklake') AS diff_latest, (SELECT count(*) FROM tt.later_ducklake) AS later_rows;

-- duckpipe.as_of_time, in another TimeZone than the one the time was written in.
SET TimeZone = 'America/New_York';
SET duckpipe.as_of_time = :'time1';
SELECT duckpipe_test.diff('tt.state1', 'tt.orders_ducklake') AS diff;
SELECT count(*) AS query_rows FROM duckpipe.query('SELECT * FROM tt.orders_ducklake');
RESET duckpipe.as_of_time;
-- duckpipe.query's own as_of reaches the catalog whatever the session's DateStyle and TimeZone (it
-- went as the session printed it: 'SQL, DMY' was misread there).
SET DateStyle = 'SQL, DMY';
SELECT count(*) AS query_as_of_rows FROM duckpipe.query('SELECT * FROM tt.orders_ducklake', as_of => :'time1');
RESET DateStyle;
RESET TimeZone;
SELECT duckpipe_test.diff('tt.orders', 'tt.orders_ducklake') AS diff_latest;

-- duckpipe.as_of(): this transaction only.
BEGIN;
SELECT duckpipe.as_of(snapshot => :snap1);
SELECT duckpipe_test.diff('tt.state1', 'tt.orders_ducklake') AS diff;
COMMIT;
SELECT duckpipe_test.diff('tt.orders', 'tt.orders_ducklake') AS diff_latest;
SHOW duckpipe.as_of_snapshot;
BEGIN;
SELECT duckpipe.as_of(as_of => :'time1');
SELECT duckpipe_test.diff('tt.state1', 'tt.orders_ducklake') AS diff;
ROLLBACK;
SELECT duckpipe_test.diff('tt.orders', 'tt.orders_ducklake') AS diff_latest;
-- It replaces a session setting of the other kind for the transaction.
SET duckpipe.as_of_time = '2000-01-01 00:00+00';
BEGIN;
SELECT duckpipe.as_of(snapshot => :snap1);
SELECT duckpipe_test.diff('tt.state1', 'tt.orders_ducklake') AS diff;
COMMIT;
RESET duckpipe.as_of_time;

-- duckpipe.snapshot_at(lsn): the snapshot holding everything committed before lsn1 is state 1
-- (once the group has confirmed past it).
SELECT format('SELECT duckpipe.snapshot_at(%L::pg_lsn) IS NOT NULL', :'lsn1') AS cond \gset
CALL duckpipe_test.wait_for(:'cond');
SELECT duckpipe.snapshot_at(:'lsn1'::pg_lsn) AS at_lsn1 \gset
SELECT :at_lsn1 <= :snap1 AS not_after_snap1;
SET duckpipe.as_of_snapshot = :at_lsn1;
SELECT duckpipe_test.diff('tt.state1', 'tt.orders_ducklake') AS diff, (SELECT count(*) FROM tt.later_ducklake) AS later_rows;
RESET duckpipe.as_of_snapshot;
-- snapshot_at(time): the same state (once the group has confirmed a position written after time1).
SELECT format('SELECT duckpipe.snapshot_at(%L::timestamptz) IS NOT NULL', :'time1') AS cond \gset
CALL duckpipe_test.wait_for(:'cond');
SELECT duckpipe.snapshot_at(:'time1'::timestamptz) AS at_time1 \gset
SET duckpipe.as_of_snapshot = :at_time1;
SELECT duckpipe_test.diff('tt.state1', 'tt.orders_ducklake') AS diff;
RESET duckpipe.as_of_snapshot;
-- The latest state: the current WAL position, once the lake has caught up with it.
SELECT pg_current_wal_insert_lsn() AS lsn2 \gset
SELECT format('SELECT duckpipe.snapshot_at(%L::pg_lsn) IS NOT NULL', :'lsn2') AS cond \gset
CALL duckpipe_test.wait_for(:'cond');
SELECT duckpipe.snapshot_at(:'lsn2'::pg_lsn) AS at_now \gset
SET duckpipe.as_of_snapshot = :at_now;
SELECT duckpipe_test.diff('tt.orders', 'tt.orders_ducklake') AS diff, duckpipe_test.diff('tt.later', 'tt.later_ducklake') AS later_diff;
RESET duckpipe.as_of_snapshot;
-- Where the lake has not got yet: NULL.
SELECT duckpipe.snapshot_at(pg_current_wal_insert_lsn() + 10000000000) IS NULL AS beyond_lsn,
       duckpipe.snapshot_at(now() + interval '1 day') IS NULL AS future_time,
       duckpipe.snapshot_at(NULL::pg_lsn) IS NULL AS null_lsn;

-- Tables of other groups count too: while group tt_paused is disabled, its confirmed position stays
-- behind and holds the answer back, however far group tt has got.
SELECT duckpipe.create_group('tt_paused');
CREATE TABLE tt.other (id int PRIMARY KEY, v text);
SELECT duckpipe.add_table('tt.other', sync_group => 'tt_paused');
CALL duckpipe_test.wait_for($$SELECT tt.synced('tt.other')$$);
SELECT duckpipe.disable_group('tt_paused');
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: tt_paused'$$);
INSERT INTO tt.other VALUES (1, 'while paused');
SELECT pg_current_wal_insert_lsn() AS lsn3 \gset
INSERT INTO tt.orders VALUES (40, 'after', 4);
SELECT format('SELECT tt.synced(%L) AND (SELECT confirmed_lsn >= %L::pg_lsn FROM duckpipe.sync_groups WHERE name = %L)',
              'tt.orders', :'lsn3', 'tt') AS cond \gset
CALL duckpipe_test.wait_for(:'cond');
SELECT duckpipe.snapshot_at(:'lsn3'::pg_lsn) IS NULL AS held_back_by_paused_group;
SELECT duckpipe.enable_group('tt_paused');
SELECT format('SELECT duckpipe.snapshot_at(%L::pg_lsn) IS NOT NULL', :'lsn3') AS cond \gset
CALL duckpipe_test.wait_for(:'cond');
SELECT duckpipe.snapshot_at(:'lsn3'::pg_lsn) AS at_lsn3 \gset
-- The paused group's row is there; so is order 40, committed after lsn3 but flushed before it (the
-- lake never had a snapshot with that row and without order 40).
SET duckpipe.as_of_snapshot = :at_lsn3;
SELECT duckpipe_test.diff('tt.other', 'tt.other_ducklake') AS other_diff,
       (SELECT count(*) FROM tt.orders_ducklake WHERE id = 40) AS later_order;
RESET duckpipe.as_of_snapshot;

-- Errors: a snapshot that does not exist, a time before the first snapshot, both set, bad values.
SET duckpipe.as_of_snapshot = 999999999;
SELECT tt.error_of('SELECT count(*) FROM tt.orders_ducklake');
SELECT tt.error_of($$SELECT count(*) FROM duckpipe.query('SELECT 1')$$);
RESET duckpipe.as_of_snapshot;
SELECT tt.error_of($$SELECT count(*) FROM duckpipe.query('SELECT 1', snapshot => 999999999)$$);
SELECT tt.error_of($$SELECT count(*) FROM duckpipe.query('SELECT 1', as_of => '2000-01-01 00:00+00')$$);
SET duckpipe.as_of_time = '2000-01-01 00:00+00';
SELECT tt.error_of('SELECT count(*) FROM tt.orders_ducklake');
SET duckpipe.as_of_snapshot = :snap1;
SELECT tt.error_of('SELECT count(*) FROM tt.orders_ducklake');
RESET duckpipe.as_of_time;
RESET duckpipe.as_of_snapshot;
SET duckpipe.as_of_snapshot = 'five';
SET duckpipe.as_of_time = 'not a time';
SELECT duckpipe.as_of(snapshot => 1, as_of => now());
SELECT duckpipe.as_of(snapshot => -3);
SHOW duckpipe.as_of_snapshot;
SHOW duckpipe.as_of_time;
SELECT count(*) = (SELECT count(*) FROM tt.orders) AS latest FROM tt.orders_ducklake;

-- Both set: reads error, but listing snapshots, a query at its own snapshot and dropping lake
-- relations (which always act on the latest) still work.
SET duckpipe.as_of_snapshot = :snap1;
SET duckpipe.as_of_time = '2000-01-01 00:00+00';
SELECT count(*) > 0 AS listed FROM duckpipe.snapshots();
SELECT count(*) AS own_snapshot_rows FROM duckpipe.query('SELECT * FROM tt.orders_ducklake', snapshot => :snap1);
SELECT duckpipe.remove_table(t, drop_target => true) FROM unnest(ARRAY['tt.orders', 'tt.later', 'tt.other']) t;
RESET duckpipe.as_of_snapshot;
RESET duckpipe.as_of_time;
SELECT count(*) AS lake_relations_left FROM pg_class WHERE relnamespace = 'tt'::regnamespace AND relname LIKE '%ducklake';
SELECT duckpipe.drop_group(g) FROM unnest(ARRAY['tt', 'tt_paused']) g;
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type IN ('pg_duckpipe: tt', 'pg_duckpipe: tt_paused')$$);
\set VERBOSITY terse
DROP SCHEMA tt CASCADE;
