-- Append mode (sync_mode => 'append') through the extension: every change becomes a row of the
-- lake relation with the changelog columns duckpipe_op, duckpipe_lsn (commit LSN) and
-- duckpipe_commit_time; the snapshot's rows, inserts, updates, deletes and TRUNCATE; a keyless
-- table; replaying the changelog gives back the source.
CREATE SCHEMA scen_append;
SELECT duckpipe.create_group('scen_append');
SELECT now() AS started \gset

CREATE TABLE scen_append.orders (id int PRIMARY KEY, v text, amount numeric(10,2));
INSERT INTO scen_append.orders VALUES (1, 'snap one', 1), (2, 'snap two', 2), (3, 'snap three', 3);
SELECT duckpipe.add_table('scen_append.orders', sync_group => 'scen_append', sync_mode => 'append');
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'scen_append.orders_ducklake'::regclass AND attnum > 0 ORDER BY attnum;
CALL duckpipe_test.wait_for($$SELECT (SELECT count(*) = 3 FROM scen_append.orders_ducklake)
    AND (SELECT state = 'STREAMING' FROM duckpipe.status() WHERE source_table = 'scen_append.orders')$$);
-- The copy's rows: op I, the copy's LSN, no commit time (they are not one commit).
SELECT duckpipe_op, id, v, amount, duckpipe_commit_time IS NULL AS no_commit_time FROM scen_append.orders_ducklake ORDER BY id;
SELECT count(DISTINCT duckpipe_lsn) AS copy_lsns FROM scen_append.orders_ducklake;
SELECT max(duckpipe_lsn) AS snapshot_lsn FROM scen_append.orders_ducklake \gset

-- One change per transaction, so the commit LSNs order them.
INSERT INTO scen_append.orders VALUES (4, 'four', 4);
UPDATE scen_append.orders SET v = 'one updated', amount = 10 WHERE id = 1;
DELETE FROM scen_append.orders WHERE id = 2;
UPDATE scen_append.orders SET amount = 30 WHERE id = 3;
-- Several changes in one transaction share its LSN.
BEGIN;
INSERT INTO scen_append.orders VALUES (5, 'five', 5), (6, 'six', NULL);
UPDATE scen_append.orders SET amount = 44 WHERE id = 4;
COMMIT;
CALL duckpipe_test.wait_for($$SELECT count(*) = 10 FROM scen_append.orders_ducklake$$);
-- The changelog after the snapshot's rows, in commit order.
SELECT dense_rank() OVER (ORDER BY duckpipe_lsn) AS txn, duckpipe_op, id, v, amount
FROM scen_append.orders_ducklake WHERE duckpipe_lsn > :snapshot_lsn
ORDER BY duckpipe_lsn, duckpipe_op, id;
-- LSNs and commit times are those of the source's commits: no later than now, no earlier than the test.
SELECT count(*) FILTER (WHERE duckpipe_lsn IS NULL OR duckpipe_lsn <= :snapshot_lsn) AS bad_lsn,
       count(*) FILTER (WHERE duckpipe_commit_time IS NULL OR duckpipe_commit_time < :'started' OR duckpipe_commit_time > now()) AS bad_time,
       max(duckpipe_lsn) <= pg_current_wal_lsn() - '0/0'::pg_lsn AS lsn_in_past
FROM scen_append.orders_ducklake WHERE duckpipe_lsn > :snapshot_lsn;
-- Replaying the changelog (last change of each key, one change per key and transaction here)
-- gives back the source's rows.
SELECT count(*) AS replay_diff FROM (
    (SELECT id, v, amount FROM scen_append.orders
     EXCEPT ALL
     SELECT id, v, amount FROM (SELECT DISTINCT ON (id) * FROM scen_append.orders_ducklake ORDER BY id, duckpipe_lsn DESC) last
     WHERE duckpipe_op <> 'D')
    UNION ALL
    (SELECT id, v, amount FROM (SELECT DISTINCT ON (id) * FROM scen_append.orders_ducklake ORDER BY id, duckpipe_lsn DESC) last
     WHERE duckpipe_op <> 'D'
     EXCEPT ALL
     SELECT id, v, amount FROM scen_append.orders)) d;

-- TRUNCATE is a row of its own (op T, NULL values); rows after it keep coming.
TRUNCATE scen_append.orders;
INSERT INTO scen_append.orders VALUES (7, 'after truncate', 7);
CALL duckpipe_test.wait_for($$SELECT count(*) = 12 FROM scen_append.orders_ducklake$$);
SELECT duckpipe_op, id, v, amount FROM scen_append.orders_ducklake
WHERE duckpipe_lsn >= (SELECT max(duckpipe_lsn) FROM scen_append.orders_ducklake WHERE duckpipe_op = 'T')
ORDER BY duckpipe_lsn, duckpipe_op;
SELECT duckpipe_op, count(*) FROM scen_append.orders_ducklake GROUP BY 1 ORDER BY 1;

-- A keyless table in append mode (add_table sets REPLICA IDENTITY FULL): duplicates stay apart.
CREATE TABLE scen_append.readings (sensor text, value float8);
SELECT duckpipe.add_table('scen_append.readings', sync_group => 'scen_append', sync_mode => 'append');
SELECT relreplident FROM pg_class WHERE oid = 'scen_append.readings'::regclass;
CALL duckpipe_test.wait_for($$SELECT state = 'STREAMING' FROM duckpipe.status() WHERE source_table = 'scen_append.readings'$$);
INSERT INTO scen_append.readings VALUES ('a', 1.5), ('a', 1.5), ('b', NULL);
UPDATE scen_append.readings SET value = 2.5 WHERE sensor = 'b';
DELETE FROM scen_append.readings WHERE sensor = 'a';
CALL duckpipe_test.wait_for($$SELECT count(*) = 6 FROM scen_append.readings_ducklake$$);
SELECT duckpipe_op, sensor, value, count(*) FROM scen_append.readings_ducklake GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
-- A column added to the source: the changelog relation gets it too, earlier changes have NULL.
ALTER TABLE scen_append.readings ADD COLUMN unit text;
INSERT INTO scen_append.readings VALUES ('c', 3.5, 'kPa');
CALL duckpipe_test.wait_for($$SELECT count(*) = 7 FROM scen_append.readings_ducklake$$);
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'scen_append.readings_ducklake'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
SELECT duckpipe_op, sensor, value, unit, count(*) FROM scen_append.readings_ducklake GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4;

-- A steady stream of small transactions: one changelog row per change, none lost or doubled.
CREATE PROCEDURE scen_append.stream() LANGUAGE plpgsql AS $$
BEGIN
    FOR b IN 1..200 LOOP
        INSERT INTO scen_append.orders VALUES (1000 + b, 'stream', b);
        UPDATE scen_append.orders SET amount = -b WHERE id = 1000 + b;
        COMMIT;
    END LOOP;
END $$;
CALL scen_append.stream();
CALL duckpipe_test.wait_for($$SELECT count(*) = 412 FROM scen_append.orders_ducklake$$);
SELECT duckpipe_op, count(*), count(DISTINCT id), count(DISTINCT duckpipe_lsn), sum(amount)
FROM scen_append.orders_ducklake WHERE id > 1000 GROUP BY 1 ORDER BY 1;
SELECT source_table, state, error_message FROM duckpipe.status() WHERE sync_group = 'scen_append' ORDER BY source_table;

SELECT duckpipe.remove_table(t, drop_target => true) FROM unnest(ARRAY['scen_append.orders', 'scen_append.readings']) t;
SELECT duckpipe.drop_group('scen_append');
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: scen_append'$$);
\set VERBOSITY terse
DROP SCHEMA scen_append CASCADE;
