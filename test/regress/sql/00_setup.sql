-- Test helpers (not part of the extension): wait for a condition with a bounded poll instead of a
-- fixed sleep.
CREATE EXTENSION pg_duckpipe;
CREATE SCHEMA duckpipe_test;
-- Polls `condition` (a query returning one boolean) every 50 ms until it is true or `timeout`
-- passes; returns whether it became true. Each poll runs in its own snapshot, so it sees what
-- background workers commit meanwhile.
CREATE PROCEDURE duckpipe_test.wait_for(condition text, timeout interval DEFAULT '60s', INOUT ok boolean DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + timeout;
    result boolean;
BEGIN
    LOOP
        EXECUTE condition INTO result;
        IF result THEN
            ok := true;
            RETURN;
        END IF;
        IF clock_timestamp() > deadline THEN
            RAISE WARNING 'condition not met within %: %', timeout, condition;
            ok := false;
            RETURN;
        END IF;
        COMMIT;
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;
-- Rows of `a` missing from `b` plus rows of `b` missing from `a`, as multisets (a duplicate counts),
-- compared as text rows so that types without an equality operator compare too; row aliases no
-- column name can shadow.
CREATE FUNCTION duckpipe_test.diff(a regclass, b regclass) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT (SELECT count(*) FROM (SELECT "row a"::text FROM %s "row a" EXCEPT ALL SELECT "row b"::text FROM %s "row b") d)
                         + (SELECT count(*) FROM (SELECT "row b"::text FROM %s "row b" EXCEPT ALL SELECT "row a"::text FROM %s "row a") d)',
                   a, b, b, a) INTO n;
    RETURN n;
END $$;
-- Whether a lake relation holds exactly the source's rows, with at least min_rows of them.
CREATE FUNCTION duckpipe_test.same(source regclass, lake regclass, min_rows bigint DEFAULT 1) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s', lake) INTO n;
    RETURN duckpipe_test.diff(source, lake) = 0 AND n >= min_rows;
END $$;
