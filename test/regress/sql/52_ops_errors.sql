-- Error recovery with backoff: a table whose rows the lake cannot hold goes ERRORED (message,
-- consecutive failures, retry time), the other tables of its group go on, and once the cause is
-- gone it recovers by itself (a fresh copy), with nothing lost or duplicated. First with the bad
-- row already there at the initial copy, then with a bad row arriving while it streams.
-- (A timestamp after 294247-01-10 AD: PostgreSQL holds it, DuckDB does not.)
\set SHOW_CONTEXT never
CREATE SCHEMA ops_er;
SELECT duckpipe.create_group('ops_er');
CREATE TABLE ops_er.good (id integer PRIMARY KEY, v text);
CREATE TABLE ops_er.bad (id integer PRIMARY KEY, at timestamp, v text);
INSERT INTO ops_er.good SELECT g, 'g' || g FROM generate_series(1, 40) g;
INSERT INTO ops_er.bad SELECT g, '2024-01-01'::timestamp + g * interval '1 hour', 'b' || g FROM generate_series(1, 40) g;
UPDATE ops_er.bad SET at = '294250-01-01 00:00:00' WHERE id = 7;

-- Snapshot error: the copy fails, is retried with a growing delay, and the good table streams.
SELECT duckpipe.add_table('ops_er.good', sync_group => 'ops_er');
SELECT duckpipe.add_table('ops_er.bad', sync_group => 'ops_er');
CALL duckpipe_test.wait_for($$SELECT consecutive_failures >= 2 FROM duckpipe.status() WHERE source_table = 'ops_er.bad'$$);
SELECT state, split_part(error_message, ': DuckDB', 1) AS error_message, consecutive_failures >= 2 AS failed_again, retry_at IS NOT NULL AS retry_planned,
       retry_at - now() <= interval '300s' AS within_max_backoff
FROM duckpipe.status() WHERE source_table = 'ops_er.bad';
INSERT INTO ops_er.good SELECT g, 'g' || g FROM generate_series(41, 60) g;
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('ops_er.good', 'ops_er.good_ducklake', 60)$$);
SELECT source_table, state, error_message, consecutive_failures FROM duckpipe.status()
WHERE source_table = 'ops_er.good';
SELECT count(*) AS bad_lake_rows FROM ops_er.bad_ducklake;
-- Each failure waits twice as long as the one before (1 s, 2 s, 4 s ... up to 300 s).
CREATE TEMPORARY TABLE retries AS
SELECT consecutive_failures AS failures, retry_at FROM duckpipe.status() WHERE source_table = 'ops_er.bad';
CALL duckpipe_test.wait_for($$SELECT s.consecutive_failures > r.failures
    FROM duckpipe.status() s, retries r WHERE s.source_table = 'ops_er.bad'$$);
SELECT s.retry_at > r.retry_at AS later_retry FROM duckpipe.status() s, retries r WHERE s.source_table = 'ops_er.bad';
-- The cause removed: the next retry copies it, and it streams.
UPDATE ops_er.bad SET at = '2024-06-01 12:00:00' WHERE id = 7;
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('ops_er.bad', 'ops_er.bad_ducklake', 40)
    AND (SELECT state = 'STREAMING' FROM duckpipe.status() WHERE source_table = 'ops_er.bad')$$);
SELECT source_table, state, error_message, consecutive_failures, retry_at FROM duckpipe.status()
WHERE sync_group = 'ops_er' ORDER BY 1;
UPDATE ops_er.bad SET v = 'streamed' WHERE id <= 5;
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('ops_er.bad', 'ops_er.bad_ducklake', 40)$$);

-- Error while streaming: the table stops (the rest of its transaction too), the good one goes on.
BEGIN;
INSERT INTO ops_er.bad VALUES (41, 'infinity', 'fine'), (42, '294260-05-05 10:00:00', 'too late');
UPDATE ops_er.good SET v = 'same transaction' WHERE id = 1;
COMMIT;
CALL duckpipe_test.wait_for($$SELECT state = 'ERRORED' FROM duckpipe.status() WHERE source_table = 'ops_er.bad'$$);
SELECT state, split_part(error_message, ': DuckDB', 1) AS error_message, consecutive_failures >= 1 AS failed, retry_at IS NOT NULL AS retry_planned
FROM duckpipe.status() WHERE source_table = 'ops_er.bad';
INSERT INTO ops_er.good VALUES (100, 'after the error');
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('ops_er.good', 'ops_er.good_ducklake', 61)$$);
SELECT count(*) AS good_rows, count(*) FILTER (WHERE v = 'same transaction') AS same_txn FROM ops_er.good_ducklake;
SELECT count(*) FILTER (WHERE id > 40) AS bad_new_rows FROM ops_er.bad_ducklake;
-- Fixed at the source: it recovers by itself, with every row once.
UPDATE ops_er.bad SET at = '2024-12-31 23:59:59' WHERE id = 42;
DELETE FROM ops_er.bad WHERE id = 3;
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('ops_er.bad', 'ops_er.bad_ducklake', 41)
    AND (SELECT state = 'STREAMING' FROM duckpipe.status() WHERE source_table = 'ops_er.bad')$$);
SELECT count(*) AS bad_rows, count(DISTINCT id) AS bad_ids, count(*) FILTER (WHERE v = 'streamed') AS streamed,
       count(*) FILTER (WHERE at = 'infinity') AS infinite
FROM ops_er.bad_ducklake;
SELECT source_table, state, error_message, consecutive_failures, retry_at FROM duckpipe.status()
WHERE sync_group = 'ops_er' ORDER BY 1;
SELECT count(*) AS workers FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: ops_er';

SELECT duckpipe.remove_table('ops_er.good', drop_target => true);
SELECT duckpipe.remove_table('ops_er.bad', drop_target => true);
SELECT duckpipe.drop_group('ops_er');
SELECT count(*) AS slots FROM pg_replication_slots WHERE slot_name = 'duckpipe_slot_ops_er';
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: ops_er'$$);
DROP SCHEMA ops_er CASCADE;
