-- Transparent query routing (duckpipe.query_routing): the lag it compares with
-- duckpipe.query_routing_max_lag, per group. Re-runnable.

-- running: the group's worker runs; lag_ms: NULL until the running worker has caught up once.
CREATE OR REPLACE FUNCTION duckpipe._group_lag(sync_group text, OUT running boolean, OUT lag_ms bigint)
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'duckpipe_group_lag';

-- Per group of this database: how far its lake copies are behind their sources, as routing sees it
-- (the time since the lake last held every change committed before; 0 when caught up).
DROP FUNCTION IF EXISTS duckpipe.routing_lag();
CREATE FUNCTION duckpipe.routing_lag()
    RETURNS TABLE(sync_group text, worker_running boolean, lag_ms bigint)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT g.name, l.running, l.lag_ms
    FROM duckpipe.sync_groups g, LATERAL duckpipe._group_lag(g.name) l
    ORDER BY 1
$$;
REVOKE ALL ON FUNCTION duckpipe._group_lag(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION duckpipe.routing_lag() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION duckpipe.routing_lag() TO pg_monitor;
