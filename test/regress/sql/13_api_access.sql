-- Access control: management is for superusers, monitoring for pg_monitor too, and the metadata
-- tables are readable by neither (monitoring reads them through SECURITY DEFINER functions).
\set SHOW_CONTEXT never
CREATE ROLE duckpipe_someone;
CREATE ROLE duckpipe_watcher IN ROLE pg_monitor;
CREATE TABLE public.guarded (id integer PRIMARY KEY);
GRANT SELECT ON public.guarded TO duckpipe_someone;

-- Every management function that exists is closed to PUBLIC, every monitoring function open to pg_monitor.
SELECT bool_and(NOT has_function_privilege('duckpipe_someone', p.oid, 'EXECUTE')) AS management_closed,
       count(*) >= 11 AS enough
FROM pg_proc p WHERE p.pronamespace = 'duckpipe'::regnamespace
  AND p.proname IN ('create_group', 'drop_group', 'enable_group', 'disable_group', 'add_table', 'remove_table',
                    'move_table', 'resync_table', 'start_worker', 'stop_worker', 'set_config', 'set_group_config',
                    'set_table_config', 'query', 'wake_worker', 'create_target_relation',
                    'sync_target_relation');
SELECT bool_and(has_function_privilege('duckpipe_watcher', p.oid, 'EXECUTE')) AS monitoring_for_pg_monitor,
       bool_and(NOT has_function_privilege('duckpipe_someone', p.oid, 'EXECUTE')) AS not_for_public,
       count(*) >= 5 AS enough
FROM pg_proc p WHERE p.pronamespace = 'duckpipe'::regnamespace
  AND p.proname IN ('groups', 'tables', 'status', 'worker_status', 'metrics', 'get_config', 'get_group_config',
                    'get_table_config');
SELECT bool_and(NOT has_function_privilege('duckpipe_watcher', p.oid, 'EXECUTE')) AS internals_closed
FROM pg_proc p WHERE p.pronamespace = 'duckpipe'::regnamespace AND p.proname LIKE '\_%';
SELECT c.relname, has_table_privilege('duckpipe_someone', c.oid, 'SELECT') AS someone,
       has_table_privilege('duckpipe_watcher', c.oid, 'SELECT') AS watcher
FROM pg_class c WHERE c.relnamespace = 'duckpipe'::regnamespace AND c.relkind IN ('r', 'v', 'p') ORDER BY 1;

-- As a role without privileges.
SET ROLE duckpipe_someone;
SELECT duckpipe.add_table('public.guarded');
SELECT duckpipe.create_group('mine');
SELECT duckpipe.set_config('duckdb_threads', '2');
SELECT * FROM duckpipe.sync_groups;
SELECT * FROM duckpipe.global_config;
SELECT name FROM duckpipe.groups();
SELECT duckpipe.get_config('duckdb_threads');
SELECT duckpipe.start_worker();
SELECT duckpipe.stop_worker('default');
SELECT duckpipe.wake_worker('default');
SELECT * FROM duckpipe.status();
SELECT duckpipe.metrics();
RESET ROLE;

-- As a pg_monitor member: reads, does not manage.
SELECT duckpipe.create_group('watched', mode => 'daemon', conninfo => format('host=%s port=%s dbname=%s user=%s password=hunter2',
    current_setting('unix_socket_directories'), current_setting('port'), current_database(), current_user));
SET ROLE duckpipe_watcher;
SELECT name, mode, conninfo LIKE '%hunter2%' AS password_shown FROM duckpipe.groups() ORDER BY name;
SELECT count(*) >= 0 AS tables_readable FROM duckpipe.tables();
SELECT duckpipe.get_config('duckdb_threads'), duckpipe.get_group_config('watched', 'duckdb_threads');
-- The monitoring functions of the workers (live figures from shared memory, the rest from the metadata).
SELECT sync_group, running, total_queued_changes FROM duckpipe.worker_status() ORDER BY 1;
SELECT count(*) >= 0 AS status_readable FROM duckpipe.status();
SELECT jsonb_typeof(duckpipe.metrics()->'tables') AS tables, jsonb_array_length(duckpipe.metrics()->'groups') >= 2 AS groups;
SELECT duckpipe.start_worker();
SELECT duckpipe.stop_worker('default');
SELECT duckpipe.drop_group('watched');
SELECT duckpipe.add_table('public.guarded');
SELECT conninfo FROM duckpipe.sync_groups;
RESET ROLE;

SELECT duckpipe.drop_group('watched');
DROP TABLE public.guarded;
DROP ROLE duckpipe_someone;
DROP ROLE duckpipe_watcher;
