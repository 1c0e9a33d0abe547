-- The module's basics. Every file in sql/extension is re-run by each upgrade script: keep it
-- re-runnable (CREATE OR REPLACE).
CREATE OR REPLACE FUNCTION duckpipe.version() RETURNS text
    LANGUAGE C STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'duckpipe_version';
