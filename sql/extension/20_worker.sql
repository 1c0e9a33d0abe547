-- Background workers: start/stop/wake (acting at COMMIT) and the monitoring functions that merge
-- the persisted figures (metadata) with the live ones (shared memory). Re-runnable.

-- Internal: queue an action on the group's worker for the end of the transaction ('start': start
-- it, or wake it if it runs; 'stop'; 'wake'). A rolled-back transaction does nothing.
CREATE OR REPLACE FUNCTION duckpipe._at_commit(sync_group text, action text) RETURNS void
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'duckpipe_at_commit';

-- Internal: the workers of this database and their tables, as shared memory shows them now.
-- (Dropped first: an upgrade from a version whose result had fewer columns.)
DROP FUNCTION IF EXISTS duckpipe._live_workers();
CREATE FUNCTION duckpipe._live_workers(
    OUT sync_group text, OUT pid integer, OUT total_queued_bytes bigint, OUT total_queued_changes bigint,
    OUT is_backpressured boolean, OUT active_flushes integer, OUT tables integer, OUT is_catching_up boolean)
    RETURNS SETOF record LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'duckpipe_live_workers';
-- (Dropped first: an upgrade from a version whose result had fewer columns.)
DROP FUNCTION IF EXISTS duckpipe._live_tables();
CREATE FUNCTION duckpipe._live_tables(
    OUT sync_group text, OUT mapping_id bigint, OUT queued_changes bigint, OUT buffered_rows bigint,
    OUT flush_count bigint, OUT flush_duration_ms bigint, OUT flushing boolean, OUT duckdb_memory_bytes bigint)
    RETURNS SETOF record LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'duckpipe_live_tables';

-- Internal: each table with its group (the one place this file joins them).
CREATE OR REPLACE FUNCTION duckpipe._group_tables(OUT g duckpipe.sync_groups, OUT m duckpipe.table_mappings)
    RETURNS SETOF record LANGUAGE sql STABLE AS $$
    SELECT g, m FROM duckpipe.table_mappings m JOIN duckpipe.sync_groups g ON g.id = m.group_id
$$;

-- Internal: whether a group's worker should run (groups of mode daemon are the daemon's).
CREATE OR REPLACE FUNCTION duckpipe._runs_in_bgworker(g duckpipe.sync_groups) RETURNS boolean
    LANGUAGE sql STABLE AS $$
    SELECT g.enabled AND g.mode = 'bgworker'
$$;

CREATE OR REPLACE FUNCTION duckpipe._require_group(name text) RETURNS duckpipe.sync_groups
    LANGUAGE plpgsql STABLE AS $$
DECLARE
    g duckpipe.sync_groups;
BEGIN
    SELECT * INTO g FROM duckpipe.sync_groups WHERE sync_groups.name = _require_group.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'sync group "%" does not exist', name USING ERRCODE = 'undefined_object',
            HINT = 'SELECT name FROM duckpipe.sync_groups lists the groups; duckpipe.create_group() makes one';
    END IF;
    RETURN g;
END
$$;

-- Starts the worker of the group (NULL: of every enabled bgworker group of this database) at
-- COMMIT; a group whose worker runs keeps that one (it is woken).
CREATE OR REPLACE FUNCTION duckpipe.start_worker(sync_group text DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    g duckpipe.sync_groups;
BEGIN
    IF NOT current_setting('duckpipe.enabled')::boolean THEN
        RAISE EXCEPTION 'pg_duckpipe workers are switched off (duckpipe.enabled = off)'
            USING HINT = 'ALTER SYSTEM SET duckpipe.enabled = on; SELECT pg_reload_conf();';
    END IF;
    IF sync_group IS NULL THEN
        FOR g IN SELECT * FROM duckpipe.sync_groups s WHERE duckpipe._runs_in_bgworker(s) ORDER BY s.name LOOP
            PERFORM duckpipe._at_commit(g.name, 'start');
        END LOOP;
        RETURN;
    END IF;
    g := duckpipe._require_group(sync_group);
    IF g.mode <> 'bgworker' THEN
        RAISE EXCEPTION 'sync group "%" is run by the duckpipe daemon (mode daemon), not by a background worker',
            sync_group USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF NOT g.enabled THEN
        RAISE EXCEPTION 'sync group "%" is disabled', sync_group USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = format('SELECT duckpipe.enable_group(%L);', sync_group);
    END IF;
    PERFORM duckpipe._at_commit(sync_group, 'start');
END
$$;

-- Stops the worker of the group (NULL: every worker of this database) at COMMIT. It finishes what
-- ends at a transaction boundary and is not restarted until start_worker() or an API change.
CREATE OR REPLACE FUNCTION duckpipe.stop_worker(sync_group text DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    w record;
BEGIN
    IF sync_group IS NULL THEN
        FOR w IN SELECT l.sync_group FROM duckpipe._live_workers() l LOOP
            PERFORM duckpipe._at_commit(w.sync_group, 'stop');
        END LOOP;
        RETURN;
    END IF;
    PERFORM duckpipe._require_group(sync_group);
    PERFORM duckpipe._at_commit(sync_group, 'stop');
END
$$;

-- Called by the management functions after a change to a group or its tables: at COMMIT the
-- group's worker reconciles at once (started if it should run and does not; stopped if the group
-- was disabled, dropped or handed to the daemon).
CREATE OR REPLACE FUNCTION duckpipe.wake_worker(sync_group text) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    g duckpipe.sync_groups;
BEGIN
    SELECT * INTO g FROM duckpipe.sync_groups s WHERE s.name = sync_group;
    IF NOT FOUND OR NOT duckpipe._runs_in_bgworker(g) THEN
        PERFORM duckpipe._at_commit(sync_group, 'stop');
    ELSIF current_setting('duckpipe.enabled')::boolean THEN
        PERFORM duckpipe._at_commit(sync_group, 'start');
    END IF;
END
$$;

-- A group's mode, enabled flag or name changed by a plain UPDATE of duckpipe.sync_groups (not only
-- through enable_group/disable_group): at COMMIT its worker starts (mode bgworker, enabled) or leaves
-- (mode daemon, disabled), as after an API call. SECURITY DEFINER: whoever may UPDATE the table may
-- have this happen, without the right to call the internals.
CREATE OR REPLACE FUNCTION duckpipe._sync_group_changed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF OLD.name IS DISTINCT FROM NEW.name THEN
        PERFORM duckpipe.wake_worker(OLD.name); -- no such group any more: its worker stops
    END IF;
    PERFORM duckpipe.wake_worker(NEW.name);
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS duckpipe_sync_group_changed ON duckpipe.sync_groups;
CREATE TRIGGER duckpipe_sync_group_changed AFTER UPDATE ON duckpipe.sync_groups FOR EACH ROW
    WHEN (OLD.mode IS DISTINCT FROM NEW.mode OR OLD.enabled IS DISTINCT FROM NEW.enabled
          OR OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION duckpipe._sync_group_changed();

-- The monitoring functions below are SECURITY DEFINER (granted to pg_monitor in 90_grants.sql): they
-- read the metadata tables and the internal functions, which stay closed to their callers (the
-- internals return a group's conninfo with its password), and show no conninfo.

-- Per table: persisted figures, and the live queue length when the group's worker runs. Background
-- compaction: compactions and data files they replaced (since the table was added), the last one's
-- time, and the lake table's live data files when last counted (NULL: auto_compact off).
DROP FUNCTION IF EXISTS duckpipe.status();
CREATE FUNCTION duckpipe.status()
    RETURNS TABLE(sync_group text, source_table text, target_table text, state text, enabled boolean,
                  rows_synced bigint, queued_changes bigint, last_sync timestamptz, error_message text,
                  consecutive_failures integer, retry_at timestamptz, applied_lsn pg_lsn,
                  snapshot_duration_ms bigint, snapshot_rows bigint, source_label text,
                  flush_lag_bytes bigint, source_lag_bytes bigint, compaction_count bigint,
                  compaction_files_merged bigint, last_compaction_at timestamptz, data_files bigint)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT (t.g).name,
           format('%s.%s', (t.m).source_schema, (t.m).source_table),
           format('%s.%s', (t.m).target_schema, (t.m).target_table),
           (t.m).state,
           (t.g).enabled AND (t.m).state <> 'DISABLED',
           (t.m).rows_synced,
           coalesce(l.queued_changes, (t.m).queued_changes),
           (t.m).last_sync_at,
           (t.m).error_message,
           (t.m).failure_count,
           (t.m).retry_at,
           (t.m).applied_lsn,
           (t.m).snapshot_duration_ms,
           (t.m).snapshot_rows,
           CASE WHEN (t.g).conninfo IS NULL THEN 'local'
                ELSE coalesce('remote ' || substring((t.g).conninfo FROM 'host=([^ ]+)'), 'remote') END,
           CASE WHEN (t.g).conninfo IS NULL AND (t.m).applied_lsn IS NOT NULL
                THEN pg_wal_lsn_diff(pg_current_wal_lsn(), (t.m).applied_lsn)::bigint END,
           CASE WHEN (t.g).conninfo IS NULL AND (t.g).confirmed_lsn IS NOT NULL
                THEN pg_wal_lsn_diff(pg_current_wal_lsn(), (t.g).confirmed_lsn)::bigint END,
           (t.m).compaction_count,
           (t.m).compaction_files_merged,
           (t.m).last_compaction_at,
           (t.m).data_files
    FROM duckpipe._group_tables() t
    LEFT JOIN duckpipe._live_tables() l ON l.sync_group = (t.g).name AND l.mapping_id = (t.m).id
    ORDER BY 1, 2
$$;

-- Per group of this database: its worker (if any) and the live figures of its pipeline.
-- is_catching_up: the group's stream trails the server's WAL by background_flush_backlog_mb or more.
DROP FUNCTION IF EXISTS duckpipe.worker_status();
CREATE FUNCTION duckpipe.worker_status()
    RETURNS TABLE(sync_group text, pid integer, running boolean, total_queued_bytes bigint,
                  total_queued_changes bigint, is_backpressured boolean, active_flushes integer, tables integer,
                  is_catching_up boolean)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT g.name, w.pid, w.pid IS NOT NULL, coalesce(w.total_queued_bytes, 0),
           coalesce(w.total_queued_changes, 0), coalesce(w.is_backpressured, false),
           coalesce(w.active_flushes, 0), coalesce(w.tables, 0), coalesce(w.is_catching_up, false)
    FROM duckpipe.sync_groups g
    LEFT JOIN duckpipe._live_workers() w ON w.sync_group = g.name
    ORDER BY g.name
$$;

-- One JSON document: every table and group with persisted and live figures.
CREATE OR REPLACE FUNCTION duckpipe.metrics() RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'tables', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                'group', (t.g).name,
                'source_table', format('%s.%s', (t.m).source_schema, (t.m).source_table),
                'state', (t.m).state,
                'rows_synced', (t.m).rows_synced,
                'queued_changes', coalesce(l.queued_changes, (t.m).queued_changes),
                -- This server's worker knows it; a table of a daemon group: the daemon's process does.
                'duckdb_memory_bytes', CASE WHEN l.mapping_id IS NOT NULL THEN l.duckdb_memory_bytes
                                            WHEN (t.g).mode = 'bgworker' THEN 0 END,
                'consecutive_failures', (t.m).failure_count,
                'flush_count', coalesce(l.flush_count, 0),
                'flush_duration_ms', l.flush_duration_ms,
                'snapshot_duration_ms', (t.m).snapshot_duration_ms,
                'snapshot_rows', (t.m).snapshot_rows,
                -- Background compaction (written with queued_changes by the process running the group).
                'compaction_count', (t.m).compaction_count,
                'compaction_files_merged', (t.m).compaction_files_merged,
                'last_compaction_at', (t.m).last_compaction_at,
                'data_files', (t.m).data_files,
                'applied_lsn', (t.m).applied_lsn::text)
                ORDER BY (t.g).name, (t.m).source_schema, (t.m).source_table)
            FROM duckpipe._group_tables() t
            LEFT JOIN duckpipe._live_tables() l ON l.sync_group = (t.g).name AND l.mapping_id = (t.m).id),
            '[]'::jsonb),
        'groups', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                'name', w.sync_group,
                'total_queued_changes', w.total_queued_changes,
                'is_backpressured', w.is_backpressured,
                'is_catching_up', w.is_catching_up) ORDER BY w.sync_group)
            FROM duckpipe.worker_status() w), '[]'::jsonb))
$$;
