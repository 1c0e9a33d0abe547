-- WAL written during the initial copy: rows inserted, updated and deleted while a large table is
-- being copied all arrive exactly once (the copy's snapshot decides, per transaction, which
-- changes it holds and which are applied after it).
\set SHOW_CONTEXT never
CREATE SCHEMA ops_sw;
CREATE TABLE ops_sw.big (id integer PRIMARY KEY, v text, n bigint);
INSERT INTO ops_sw.big SELECT g, md5(g::text) || repeat('.', g % 50), g * 3 FROM generate_series(1, 300000) g;
-- The same digest of the source and of the lake (DuckDB SQL over the lake, no row by row transfer).
CREATE FUNCTION ops_sw.source_digest() RETURNS text LANGUAGE sql AS $$
    SELECT count(*) || '/' || md5(string_agg(id || ':' || coalesce(v, '<null>') || ':' || n, ',' ORDER BY id))
    FROM ops_sw.big
$$;
-- NULL while the lake table does not exist yet.
CREATE FUNCTION ops_sw.lake_digest() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT r->>'d' FROM duckpipe.query($q$
        SELECT count(*) || '/' || md5(string_agg(id || ':' || coalesce(v, '<null>') || ':' || n, ',' ORDER BY id)) AS d
        FROM ops_sw.big_ducklake $q$) r);
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;
-- Writes small transactions until the table streams (1500 at most): how many of them were committed while its
-- state was SNAPSHOT.
CREATE PROCEDURE ops_sw.write_during_copy(INOUT during_snapshot integer DEFAULT 0, INOUT written integer DEFAULT 0)
LANGUAGE plpgsql AS $$
DECLARE
    st text;
    deadline timestamptz := clock_timestamp() + interval '120s';
BEGIN
    LOOP
        SELECT state INTO st FROM duckpipe.status() WHERE source_table = 'ops_sw.big';
        EXIT WHEN (st = 'STREAMING' AND written >= 20) OR written >= 1500 OR clock_timestamp() > deadline;
        written := written + 1;
        INSERT INTO ops_sw.big VALUES (300000 + written, 'new ' || written, -written);
        UPDATE ops_sw.big SET v = v || '+', n = n + 1 WHERE id = (written * 7919) % 300000 + 1;
        DELETE FROM ops_sw.big WHERE id = (written * 104729) % 300000 + 1;
        IF written % 3 = 0 THEN
            UPDATE ops_sw.big SET id = -written WHERE id = 300000 + written - 1;
        END IF;
        IF st = 'SNAPSHOT' THEN
            during_snapshot := during_snapshot + 1;
        END IF;
        COMMIT;
    END LOOP;
END
$$;

SELECT duckpipe.create_group('ops_sw');
SELECT duckpipe.add_table('ops_sw.big', sync_group => 'ops_sw');
CALL duckpipe_test.wait_for($$SELECT state <> 'PENDING' FROM duckpipe.status() WHERE source_table = 'ops_sw.big'$$);
CREATE TEMPORARY TABLE wrote (during_snapshot integer, written integer);
DO $$
DECLARE
    d integer := 0;
    w integer := 0;
BEGIN
    CALL ops_sw.write_during_copy(d, w);
    INSERT INTO wrote VALUES (d, w);
END
$$;
SELECT during_snapshot > 0 AS wrote_during_snapshot, written >= 20 AS wrote_enough FROM wrote;
CALL duckpipe_test.wait_for($$SELECT ops_sw.lake_digest() IS NOT DISTINCT FROM ops_sw.source_digest()$$, '120s');
SELECT l.rows, l.moved_keys = s.moved_keys AND l.new_rows = s.new_rows AND l.moved_keys > 0 AND l.new_rows > 0 AS same_writes
FROM (SELECT count(*) AS rows, count(*) FILTER (WHERE id < 0) AS moved_keys, count(*) FILTER (WHERE v LIKE 'new %') AS new_rows
      FROM ops_sw.big_ducklake) l,
     (SELECT count(*) FILTER (WHERE id < 0) AS moved_keys, count(*) FILTER (WHERE v LIKE 'new %') AS new_rows
      FROM ops_sw.big) s;
SELECT (SELECT count(*) FROM ops_sw.big) = (SELECT count(*) FROM ops_sw.big_ducklake) AS same_count;
-- Exact comparison through the lake relation, both ways, on the rows the writes touched.
SELECT count(*) AS differences FROM (
    (SELECT * FROM ops_sw.big WHERE id < 0 OR id > 300000 OR v LIKE '%+'
     EXCEPT ALL SELECT * FROM ops_sw.big_ducklake WHERE id < 0 OR id > 300000 OR v LIKE '%+')
    UNION ALL
    (SELECT * FROM ops_sw.big_ducklake WHERE id < 0 OR id > 300000 OR v LIKE '%+'
     EXCEPT ALL SELECT * FROM ops_sw.big WHERE id < 0 OR id > 300000 OR v LIKE '%+')) d;
SELECT state, snapshot_rows > 0 AS copied, error_message FROM duckpipe.status() WHERE source_table = 'ops_sw.big';

SELECT duckpipe.remove_table('ops_sw.big', drop_target => true);
SELECT duckpipe.drop_group('ops_sw');
SELECT count(*) AS slots FROM pg_replication_slots WHERE slot_name LIKE '%ops_sw%';
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: ops_sw'$$);
DROP SCHEMA ops_sw CASCADE;
