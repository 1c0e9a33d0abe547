-- The backend's query engine (the embedded DuckDB every lake read of a backend runs in). Re-runnable.

-- This backend's engine: whether its DuckDB is open, how many times it was created and the catalog
-- loaded, views (re)created, reads served, the snapshot the views show, its memory limit (MB),
-- threads and spill directory.
CREATE OR REPLACE FUNCTION duckpipe.query_engine_status(OUT running boolean, OUT instances_created bigint,
                                                        OUT catalog_loads bigint, OUT views_created bigint,
                                                        OUT reads bigint, OUT snapshot_id bigint,
                                                        OUT memory_mb integer, OUT threads integer,
                                                        OUT temp_directory text)
    RETURNS record LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'duckpipe_query_engine_status';
COMMENT ON FUNCTION duckpipe.query_engine_status() IS 'pg_duckpipe: this backend''s lake query engine';
REVOKE ALL ON FUNCTION duckpipe.query_engine_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION duckpipe.query_engine_status() TO pg_monitor;
