-- Every duckpipe.* setting is in pg_settings, reloadable (sighup; where the lake lives and how to
-- connect: superuser, settable per database), with its unit and a description.
SELECT name, setting, unit, context, vartype, short_desc <> '' AS described
FROM pg_settings WHERE name LIKE 'duckpipe.%' ORDER BY name;
-- Units are accepted as PostgreSQL spells them, bad values are refused, and a reload applies them.
ALTER SYSTEM SET duckpipe.flush_interval = '3s';
ALTER SYSTEM SET duckpipe.duckdb_flush_memory_mb = '1GB';
ALTER SYSTEM SET duckpipe.poll_interval = '10ms';
ALTER SYSTEM SET duckpipe.duckdb_threads = 0;
SELECT name, setting, error FROM pg_file_settings WHERE name LIKE 'duckpipe.%' AND sourcefile LIKE '%auto.conf'
ORDER BY name;
SELECT pg_reload_conf();
-- A new session reads the reloaded values.
\c
SELECT current_setting('duckpipe.flush_interval') AS flush_interval,
       current_setting('duckpipe.duckdb_flush_memory_mb') AS flush_memory;
-- Back to the suite's value (postgresql.auto.conf holds it: RESET would remove it).
ALTER SYSTEM SET duckpipe.flush_interval = '200ms';
ALTER SYSTEM RESET duckpipe.duckdb_flush_memory_mb;
SELECT pg_reload_conf();
\c
SELECT current_setting('duckpipe.flush_interval') AS flush_interval;
-- Only a reload changes them; a setting of the reserved prefix that does not exist is refused.
SET duckpipe.flush_interval = '1s';
SET duckpipe.no_such_setting = 1;
