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
