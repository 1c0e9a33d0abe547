-- Who may do what. Runs after every other file of sql/extension, and names functions rather than
-- listing signatures, so the functions each part of the extension adds are covered (a name not
-- defined yet is skipped).
-- Management functions: superusers only (and roles a superuser grants them to).
-- Monitoring functions: also pg_monitor. The metadata tables and the internal functions (`_*`): no
-- one but their owner; monitoring reads them through SECURITY DEFINER functions, which never show a
-- conninfo's password.
GRANT USAGE ON SCHEMA duckpipe TO PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA duckpipe FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA duckpipe FROM PUBLIC;

DO $duckpipe_grants$
DECLARE
    management text[] := ARRAY['create_group', 'drop_group', 'enable_group', 'disable_group', 'add_table',
                               'remove_table', 'move_table', 'resync_table', 'start_worker', 'stop_worker',
                               'set_config', 'set_group_config', 'set_table_config', 'query', 'wake_worker',
                               'create_target_relation', 'create_target_relation_from_columns', 'sync_target_relation', 'notify_change',
                               'compact_table'];
    monitoring text[] := ARRAY['groups', 'tables', 'status', 'worker_status', 'metrics', 'get_config',
                               'get_group_config', 'get_table_config'];
    f record;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure AS sig, p.proname = ANY (monitoring) AS monitor
        FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'duckpipe'::regnamespace
          AND (p.proname = ANY (management) OR p.proname = ANY (monitoring) OR p.proname LIKE '\_%')
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.sig);
        IF f.monitor THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO pg_monitor', f.sig);
        END IF;
    END LOOP;
END
$duckpipe_grants$;
