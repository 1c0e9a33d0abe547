-- Volume and storage through the extension: a large transaction, a steady stream of small
-- transactions while syncing, large (TOASTed) values left untouched by an UPDATE of another
-- column (no REPLICA IDENTITY FULL), and a partitioned table synced through its root.
CREATE SCHEMA scen_volume;
CREATE FUNCTION scen_volume.synced(src text) RETURNS boolean LANGUAGE sql AS $$
    SELECT duckpipe_test.diff(src::regclass, (src || '_ducklake')::regclass) = 0
       AND EXISTS (SELECT 1 FROM duckpipe.status() s WHERE s.source_table = src AND s.state = 'STREAMING')
$$;
SELECT duckpipe.create_group('scen_volume');

-- A large transaction: 200k rows in one INSERT, then one transaction updating and deleting a
-- quarter of them each. Waits compare cheap aggregates; the full comparison runs once at the end.
CREATE TABLE scen_volume.big (id int PRIMARY KEY, grp int, v text);
SELECT duckpipe.add_table('scen_volume.big', sync_group => 'scen_volume');
CALL duckpipe_test.wait_for($$SELECT scen_volume.synced('scen_volume.big')$$);
INSERT INTO scen_volume.big SELECT g, g % 100, md5(g::text) FROM generate_series(1, 200000) g;
CALL duckpipe_test.wait_for($$SELECT (SELECT count(*) FROM scen_volume.big_ducklake) = 200000$$, '120s');
SELECT count(*) AS rows, sum(id) AS sum_id, count(DISTINCT v) AS distinct_v FROM scen_volume.big_ducklake;
BEGIN;
UPDATE scen_volume.big SET v = 'updated', grp = -1 WHERE id % 4 = 0;
DELETE FROM scen_volume.big WHERE id % 4 = 1;
COMMIT;
CALL duckpipe_test.wait_for($$SELECT (SELECT count(*) FROM scen_volume.big_ducklake) = 150000
    AND (SELECT count(*) FROM scen_volume.big_ducklake WHERE grp = -1) = 50000$$, '120s');
SELECT duckpipe_test.diff('scen_volume.big', 'scen_volume.big_ducklake') AS diff,
       (SELECT count(*) FROM scen_volume.big_ducklake) AS rows,
       (SELECT count(*) FROM scen_volume.big_ducklake WHERE v = 'updated') AS updated;
SELECT state, error_message FROM duckpipe.status() WHERE source_table = 'scen_volume.big';
SELECT duckpipe.remove_table('scen_volume.big', drop_target => true);
DROP TABLE scen_volume.big;

-- A steady stream: 3000 rows in 300 transactions of 10 (each also updating and deleting an
-- earlier row), committed back to back while the worker flushes every 200 ms.
CREATE TABLE scen_volume.stream (id int PRIMARY KEY, batch int, touched int DEFAULT 0);
SELECT duckpipe.add_table('scen_volume.stream', sync_group => 'scen_volume');
CALL duckpipe_test.wait_for($$SELECT scen_volume.synced('scen_volume.stream')$$);
CREATE PROCEDURE scen_volume.append_stream() LANGUAGE plpgsql AS $$
BEGIN
    FOR b IN 0..299 LOOP
        INSERT INTO scen_volume.stream (id, batch) SELECT b * 10 + g, b FROM generate_series(1, 10) g;
        UPDATE scen_volume.stream SET touched = touched + 1 WHERE id = b * 5 + 1;
        DELETE FROM scen_volume.stream WHERE id = b * 10 - 3;
        COMMIT;
    END LOOP;
END $$;
CALL scen_volume.append_stream();
CALL duckpipe_test.wait_for($$SELECT scen_volume.synced('scen_volume.stream')$$);
SELECT duckpipe_test.diff('scen_volume.stream', 'scen_volume.stream_ducklake') AS diff,
       (SELECT count(*) FROM scen_volume.stream_ducklake) AS rows,
       (SELECT sum(touched) FROM scen_volume.stream_ducklake) AS touched;
SELECT state, error_message FROM duckpipe.status() WHERE source_table = 'scen_volume.stream';
SELECT duckpipe.remove_table('scen_volume.stream', drop_target => true);
DROP TABLE scen_volume.stream;

-- TOAST unchanged: large values stored out of line are not sent by an UPDATE that does not
-- change them (the default replica identity); the lake keeps them. Covered: updated alone, after
-- the large value changed in an earlier transaction, in the same transaction as that change, right
-- after the row's INSERT (same flush), and a key change.
CREATE TABLE scen_volume.docs (id int PRIMARY KEY, n int, body text, blob bytea, doc jsonb);
ALTER TABLE scen_volume.docs ALTER COLUMN body SET STORAGE EXTERNAL, ALTER COLUMN blob SET STORAGE EXTERNAL,
    ALTER COLUMN doc SET STORAGE EXTERNAL;
CREATE FUNCTION scen_volume.big_text(seed int) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(md5((seed * 100000 + i)::text), '') FROM generate_series(1, 400) i $$;
INSERT INTO scen_volume.docs SELECT g, 0, scen_volume.big_text(g), decode(scen_volume.big_text(-g), 'hex'),
    jsonb_build_object('seed', g, 'text', scen_volume.big_text(g + 1000)) FROM generate_series(1, 10) g;
SELECT duckpipe.add_table('scen_volume.docs', sync_group => 'scen_volume');
CALL duckpipe_test.wait_for($$SELECT scen_volume.synced('scen_volume.docs')$$);
SELECT relreplident FROM pg_class WHERE oid = 'scen_volume.docs'::regclass;
UPDATE scen_volume.docs SET n = n + 1;
UPDATE scen_volume.docs SET body = scen_volume.big_text(200) WHERE id = 2;
UPDATE scen_volume.docs SET n = n + 1 WHERE id = 2;
BEGIN;
UPDATE scen_volume.docs SET body = scen_volume.big_text(300), doc = '{"small": true}' WHERE id = 3;
UPDATE scen_volume.docs SET n = n + 1 WHERE id = 3;
UPDATE scen_volume.docs SET n = n + 1 WHERE id = 3;
COMMIT;
INSERT INTO scen_volume.docs VALUES (11, 0, scen_volume.big_text(11), decode(scen_volume.big_text(-11), 'hex'), '{}');
UPDATE scen_volume.docs SET n = 5 WHERE id = 11;
UPDATE scen_volume.docs SET id = 12 WHERE id = 11;
UPDATE scen_volume.docs SET n = 6 WHERE id = 4;
DELETE FROM scen_volume.docs WHERE id = 5;
CALL duckpipe_test.wait_for($$SELECT scen_volume.synced('scen_volume.docs')$$);
SELECT duckpipe_test.diff('scen_volume.docs', 'scen_volume.docs_ducklake') AS diff;
SELECT l.id, l.n, md5(l.body) = md5(s.body) AS body_ok, md5(l.blob) = md5(s.blob) AS blob_ok, l.doc = s.doc AS doc_ok,
       length(l.body) AS body_len
FROM scen_volume.docs_ducklake l FULL JOIN scen_volume.docs s USING (id) ORDER BY id;
SELECT state, error_message FROM duckpipe.status() WHERE source_table = 'scen_volume.docs';
SELECT duckpipe.remove_table('scen_volume.docs', drop_target => true);
DROP TABLE scen_volume.docs;

-- A partitioned table synced through its root: rows of every partition, a row moved between
-- partitions by an UPDATE of the partition key, a partition created while syncing, a default one.
CREATE TABLE scen_volume.events (id int, at date, kind text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE scen_volume.events_2024 PARTITION OF scen_volume.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE scen_volume.events_2025 PARTITION OF scen_volume.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE scen_volume.events_other PARTITION OF scen_volume.events DEFAULT;
INSERT INTO scen_volume.events SELECT g, DATE '2024-06-01' + g * 3, 'k' || (g % 4) FROM generate_series(1, 300) g;
SELECT duckpipe.add_table('scen_volume.events', sync_group => 'scen_volume');
CALL duckpipe_test.wait_for($$SELECT scen_volume.synced('scen_volume.events')$$);
SELECT count(*) AS rows FROM scen_volume.events_ducklake;
UPDATE scen_volume.events SET at = at + 365 WHERE id % 10 = 0;
UPDATE scen_volume.events SET kind = 'changed' WHERE id % 10 = 1;
DELETE FROM scen_volume.events WHERE id % 10 = 2;
CREATE TABLE scen_volume.events_2030 PARTITION OF scen_volume.events FOR VALUES FROM ('2030-01-01') TO ('2031-01-01');
INSERT INTO scen_volume.events VALUES (1000, '2030-03-01', 'new partition'), (1001, '2040-01-01', 'default');
CALL duckpipe_test.wait_for($$SELECT scen_volume.synced('scen_volume.events')$$);
SELECT duckpipe_test.diff('scen_volume.events', 'scen_volume.events_ducklake') AS diff,
       (SELECT count(*) FROM scen_volume.events_ducklake) AS rows,
       (SELECT count(*) FROM scen_volume.events_ducklake WHERE kind = 'changed') AS changed;
SELECT * FROM scen_volume.events_ducklake WHERE id >= 1000 ORDER BY id;
SELECT count(*) AS moved FROM scen_volume.events_ducklake l JOIN scen_volume.events_2025 p USING (id, at) WHERE l.id % 10 = 0;
SELECT source_table, state, error_message FROM duckpipe.status() WHERE sync_group = 'scen_volume' ORDER BY source_table;
SELECT duckpipe.remove_table('scen_volume.events', drop_target => true);

SELECT duckpipe.drop_group('scen_volume');
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: scen_volume'$$);
\set VERBOSITY terse
DROP SCHEMA scen_volume CASCADE;
