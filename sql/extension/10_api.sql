-- The management SQL API (the original pg_duckpipe's names, arguments, defaults and result columns).
-- plpgsql on purpose: it runs in the caller's transaction, so a rolled-back call leaves nothing behind.
-- A group's source on another server is reached through duckpipe._source_exec (libpq). The group's
-- running pipeline creates its publication and replication slot, adds and drops tables in the
-- publication, copies and streams; these functions write the metadata and wake it.
-- Re-runnable (every upgrade script runs this file again): CREATE OR REPLACE only.

-- Replication slot names are shared by every database of a server, so two databases' `default`
-- groups cannot both have duckpipe_slot_default: a group's default slot name is
-- duckpipe_slot_<group> unless another database of its source server has a slot by that name, then
-- duckpipe_slot_<group>_<database oid> (the group name cut to 38 characters: slot names have 63 at
-- most). Two databases that both choose before either slot exists are told apart by the group's
-- pipeline: it takes the second name when it finds the first one taken (SyncGroup::ClaimSlotName).
CREATE OR REPLACE FUNCTION duckpipe._default_slot_name(group_name text, conninfo text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    RETURN duckpipe._on_source(conninfo, $sql$
        SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots s
                                 WHERE s.slot_name = 'duckpipe_slot_' || $1
                                   AND s.database IS DISTINCT FROM current_database())
                    THEN 'duckpipe_slot_' || left($1, 38) || '_'
                         || (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
                    ELSE 'duckpipe_slot_' || $1 END
        $sql$, group_name);
END
$$;


-- Internal helpers (not executable by PUBLIC, see 90_grants.sql) -------------------------------------

CREATE OR REPLACE FUNCTION duckpipe._source_exec(conninfo text, sql text, arg text) RETURNS text
    LANGUAGE C AS 'MODULE_PATHNAME', 'duckpipe_source_exec';
CREATE OR REPLACE FUNCTION duckpipe._redact_conninfo(conninfo text) RETURNS text
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'duckpipe_redact_conninfo';
CREATE OR REPLACE FUNCTION duckpipe._config_keys_json() RETURNS text
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'duckpipe_config_keys';
CREATE OR REPLACE FUNCTION duckpipe._config_check(scope text, key text, value text) RETURNS text
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'duckpipe_config_check';

-- Runs sql on a group's source: in this transaction when the source is this database (conninfo NULL),
-- else over libpq. Returns the first column of the first row.
CREATE OR REPLACE FUNCTION duckpipe._on_source(conninfo text, sql text, arg text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    IF conninfo IS NULL THEN
        EXECUTE sql INTO result USING arg;
        RETURN result;
    END IF;
    RETURN duckpipe._source_exec(conninfo, sql, arg);
END
$$;

-- The same for a statement that returns nothing (DDL).
CREATE OR REPLACE FUNCTION duckpipe._run_on_source(conninfo text, sql text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF conninfo IS NULL THEN
        EXECUTE sql;
    ELSE
        PERFORM duckpipe._source_exec(conninfo, sql, NULL);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION duckpipe._group(group_name text) RETURNS duckpipe.sync_groups
LANGUAGE plpgsql AS $$
DECLARE
    g duckpipe.sync_groups;
BEGIN
    SELECT * INTO g FROM duckpipe.sync_groups WHERE name = group_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'sync group ''%'' does not exist', group_name
            USING ERRCODE = 'undefined_object',
                  HINT = format('create it with SELECT duckpipe.create_group(%L); duckpipe.groups() lists the groups',
                                group_name);
    END IF;
    RETURN g;
END
$$;

-- What a group's replication needs from its source server: wal_level = logical, and a free
-- replication slot unless the group's slot exists already.
CREATE OR REPLACE FUNCTION duckpipe._check_source_server(g duckpipe.sync_groups) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    probe jsonb;
    server text := CASE WHEN g.conninfo IS NULL THEN 'this server'
                        ELSE 'the source server of group ' || quote_literal(g.name) END;
BEGIN
    probe := duckpipe._on_source(g.conninfo, $sql$
        SELECT jsonb_build_object(
            'wal_level', current_setting('wal_level'),
            'max_slots', current_setting('max_replication_slots')::integer,
            'used_slots', (SELECT count(*) FROM pg_catalog.pg_replication_slots),
            -- Another database's slot of that name is not the group's: its pipeline makes another.
            'slot_exists', EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots
                                   WHERE slot_name = $1 AND database IS NOT DISTINCT FROM current_database()))::text
        $sql$, g.slot_name)::jsonb;
    IF probe->>'wal_level' <> 'logical' THEN
        RAISE EXCEPTION '% runs with wal_level = %, logical decoding needs wal_level = logical',
                        server, probe->>'wal_level'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'set wal_level = logical (ALTER SYSTEM SET wal_level = logical) and restart that server';
    END IF;
    IF NOT (probe->>'slot_exists')::boolean AND (probe->>'used_slots')::integer >= (probe->>'max_slots')::integer THEN
        RAISE EXCEPTION 'no free replication slot for group ''%'' on %: all % (max_replication_slots) are in use',
                        g.name, server, probe->>'max_slots'
            USING ERRCODE = 'configuration_limit_exceeded',
                  HINT = 'raise max_replication_slots (needs a restart) or drop unused slots: '
                         'SELECT slot_name, active FROM pg_replication_slots';
    END IF;
END
$$;

-- The mapping a user names: "schema.table" or "table" (any schema, when that is unambiguous), by the
-- name it was added with or, for a table of this database, by what the name resolves to now.
CREATE OR REPLACE FUNCTION duckpipe._find_table(source_table text, sync_group text DEFAULT NULL)
RETURNS duckpipe.table_mappings
LANGUAGE plpgsql AS $$
DECLARE
    parts text[] := parse_ident(source_table);
    want_schema text;
    want_table text;
    local_oid oid;
    matches duckpipe.table_mappings[];
BEGIN
    IF cardinality(parts) = 2 THEN
        want_schema := parts[1];
        want_table := parts[2];
    ELSIF cardinality(parts) = 1 THEN
        want_table := parts[1];
    ELSE
        RAISE EXCEPTION 'invalid table name ''%''', source_table
            USING ERRCODE = 'invalid_name', HINT = 'write schema.table';
    END IF;
    IF sync_group IS NOT NULL THEN
        PERFORM duckpipe._group(sync_group);
    END IF;
    local_oid := to_regclass(source_table);
    SELECT array_agg(m ORDER BY m.id) INTO matches
    FROM duckpipe.table_mappings m JOIN duckpipe.sync_groups g ON g.id = m.group_id
    WHERE (sync_group IS NULL OR g.name = sync_group)
      AND (((want_schema IS NULL OR m.source_schema = want_schema) AND m.source_table = want_table)
           OR (g.conninfo IS NULL AND m.source_oid = local_oid));
    IF matches IS NULL THEN
        RAISE EXCEPTION 'table ''%'' is not synced%', source_table,
                        CASE WHEN sync_group IS NULL THEN '' ELSE ' in group ' || quote_literal(sync_group) END
            USING ERRCODE = 'undefined_object', HINT = 'duckpipe.tables() lists the synced tables';
    END IF;
    IF cardinality(matches) > 1 THEN
        RAISE EXCEPTION 'ambiguous: ''%'' names % synced tables (%)', source_table, cardinality(matches),
                        (SELECT string_agg(format('%I.%I in group %s', x.source_schema, x.source_table, g.name), ', '
                                                   ORDER BY x.id)
                         FROM unnest(matches) x JOIN duckpipe.sync_groups g ON g.id = x.group_id)
            USING ERRCODE = 'ambiguous_parameter', HINT = 'qualify it with its schema, or pass sync_group';
    END IF;
    RETURN matches[1];
END
$$;

-- Forgets what the lake recorded for mappings of this database (ProgressStore::ForgetLocal).
CREATE OR REPLACE FUNCTION duckpipe._forget_progress(mapping_id bigint) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM duckpipe.table_progress
    WHERE (source_system_id, source_database_oid) =
          ((SELECT system_identifier FROM pg_catalog.pg_control_system()),
           (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()))
      AND table_progress.mapping_id = _forget_progress.mapping_id;
$$;

-- The `default` group exists after CREATE EXTENSION (once: an upgrade does not bring back a default
-- group the user dropped). Adopted daemon metadata keeps its own default group (mode 'daemon').
DO $duckpipe_default_group$
BEGIN
    IF to_regprocedure('duckpipe.add_table(text,text,text,boolean,boolean,text)') IS NULL THEN
        INSERT INTO duckpipe.sync_groups(name, publication, slot_name, mode)
        VALUES ('default', 'duckpipe_pub_default', duckpipe._default_slot_name('default'), 'bgworker')
        ON CONFLICT DO NOTHING;
    END IF;
END
$duckpipe_default_group$;

-- Groups --------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION duckpipe.create_group(name text, publication text DEFAULT NULL,
                                                 slot_name text DEFAULT NULL, conninfo text DEFAULT NULL,
                                                 mode text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    g duckpipe.sync_groups;
    clash text;
BEGIN
    IF name IS NULL OR name !~ '^[a-z_][a-z0-9_]{0,39}$' THEN
        RAISE EXCEPTION 'invalid sync group name ''%''', name
            USING ERRCODE = 'invalid_name',
                  HINT = 'use lowercase letters, digits and underscores (at most 40), starting with a letter';
    END IF;
    mode := coalesce(mode, 'bgworker');
    IF mode NOT IN ('bgworker', 'daemon') THEN
        RAISE EXCEPTION 'invalid mode ''%'' for sync group ''%''', mode, name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'mode is ''bgworker'' (a background worker of this server syncs it) or ''daemon'' '
                         '(the duckpipe daemon does)';
    END IF;
    g.name := name;
    g.publication := coalesce(publication, 'duckpipe_pub_' || name);
    g.slot_name := coalesce(slot_name, duckpipe._default_slot_name(name, conninfo));
    g.conninfo := conninfo;
    g.mode := mode;
    SELECT CASE WHEN s.name = g.name THEN format('a sync group named %L already exists', g.name)
                WHEN s.publication = g.publication THEN format('group %L already uses publication %L', s.name, g.publication)
                ELSE format('group %L already uses replication slot %L', s.name, g.slot_name) END
    INTO clash
    FROM duckpipe.sync_groups s
    WHERE s.name = g.name OR s.publication = g.publication OR s.slot_name = g.slot_name
    ORDER BY s.name = g.name DESC LIMIT 1;
    IF clash IS NOT NULL THEN
        RAISE EXCEPTION '%', clash
            USING ERRCODE = 'duplicate_object', HINT = 'choose another name, publication or slot_name';
    END IF;
    -- Fails early on what the group's worker would fail on (and checks a remote conninfo connects).
    PERFORM duckpipe._check_source_server(g);
    INSERT INTO duckpipe.sync_groups(name, publication, slot_name, conninfo, mode)
    VALUES (g.name, g.publication, g.slot_name, g.conninfo, g.mode);
    PERFORM duckpipe.wake_worker(g.name);
    RETURN g.name;
END
$$;

CREATE OR REPLACE FUNCTION duckpipe.drop_group(name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    g duckpipe.sync_groups := duckpipe._group(name);
    synced text;
    n integer;
    slot_state text;
BEGIN
    SELECT count(*), string_agg(format('%I.%I', source_schema, source_table), ', ' ORDER BY id)
    INTO n, synced FROM duckpipe.table_mappings WHERE group_id = g.id;
    IF n > 0 THEN
        RAISE EXCEPTION 'sync group ''%'' still has % table(s): %', g.name, n, synced
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = 'remove them first with duckpipe.remove_table(...), or move them to another group with '
                         'duckpipe.move_table(...)';
    END IF;
    DELETE FROM duckpipe.sync_groups WHERE id = g.id;
    IF duckpipe._on_source(g.conninfo, 'SELECT count(*)::text FROM pg_catalog.pg_publication WHERE pubname = $1',
                           g.publication) <> '0' THEN
        PERFORM duckpipe._run_on_source(g.conninfo, format('DROP PUBLICATION %I', g.publication));
    END IF;
    -- The slot is not transactional: dropped last, once nothing else can fail. A pipeline streaming
    -- from it is cut off (it sees the group gone when this transaction commits).
    FOR i IN 1..100 LOOP
        slot_state := duckpipe._on_source(g.conninfo, $sql$
            SELECT coalesce((SELECT coalesce(active_pid::text, 'idle') FROM pg_catalog.pg_replication_slots
                             WHERE slot_name = $1 AND database = current_database()), 'gone')
            $sql$, g.slot_name);
        EXIT WHEN slot_state = 'gone';
        IF slot_state = 'idle' THEN
            BEGIN
                PERFORM duckpipe._on_source(g.conninfo, 'SELECT 1 FROM pg_catalog.pg_drop_replication_slot($1)',
                                            g.slot_name);
                slot_state := 'gone';
                EXIT;
            EXCEPTION WHEN object_in_use THEN
                NULL; -- taken meanwhile: cut it off again
            END;
        ELSE
            PERFORM duckpipe._on_source(g.conninfo, 'SELECT pg_catalog.pg_terminate_backend($1::integer)::text',
                                        slot_state);
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    IF slot_state <> 'gone' THEN
        RAISE WARNING 'sync group ''%'' dropped, but its replication slot ''%'' is still in use and keeps holding WAL',
                      g.name, g.slot_name
            USING HINT = format('drop it once nothing streams from it: SELECT pg_drop_replication_slot(%L)',
                                g.slot_name);
    END IF;
    PERFORM duckpipe.wake_worker(g.name);
    RAISE NOTICE 'sync group ''%'' dropped with its publication ''%'' and replication slot ''%''',
                 g.name, g.publication, g.slot_name;
END
$$;

CREATE OR REPLACE FUNCTION duckpipe._set_group_enabled(group_name text, on_off boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    g duckpipe.sync_groups := duckpipe._group(group_name);
BEGIN
    UPDATE duckpipe.sync_groups SET enabled = on_off, updated_at = now() WHERE id = g.id;
    PERFORM duckpipe.wake_worker(g.name);
    RAISE NOTICE 'sync group ''%'' %', g.name, CASE WHEN on_off THEN 'enabled' ELSE 'disabled' END;
END
$$;

CREATE OR REPLACE FUNCTION duckpipe.enable_group(name text) RETURNS void
    LANGUAGE sql AS $$ SELECT duckpipe._set_group_enabled(name, true) $$;
CREATE OR REPLACE FUNCTION duckpipe.disable_group(name text) RETURNS void
    LANGUAGE sql AS $$ SELECT duckpipe._set_group_enabled(name, false) $$;

-- Tables --------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION duckpipe.add_table(source_table text, target_table text DEFAULT NULL,
                                              sync_group text DEFAULT 'default', copy_data boolean DEFAULT true,
                                              fan_in boolean DEFAULT false, sync_mode text DEFAULT 'upsert')
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    g duckpipe.sync_groups;
    src jsonb;
    on_source text;
    qualified text;
    target_parts text[];
    t_schema text;
    t_table text;
    existing record;
    remote jsonb;
BEGIN
    IF coalesce(fan_in, false) THEN
        RAISE EXCEPTION 'fan_in => true is not supported yet: a lake table has exactly one source table'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'sync each source table into its own target table (the default target name)';
    END IF;
    sync_mode := coalesce(sync_mode, 'upsert');
    IF sync_mode NOT IN ('upsert', 'append') THEN
        RAISE EXCEPTION 'sync_mode must be ''upsert'' or ''append'', got ''%''', sync_mode
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'upsert: the lake table mirrors the source by key; append: every change is a row (a changelog)';
    END IF;
    g := duckpipe._group(coalesce(sync_group, 'default'));
    on_source := CASE WHEN g.conninfo IS NULL THEN '' ELSE ' on the source of group ' || quote_literal(g.name) END;

    -- The source table, as the daemon checks it (MetadataStore::ResolveSource).
    src := duckpipe._on_source(g.conninfo, $sql$
        SELECT jsonb_build_object(
            'oid', c.oid, 'schema', n.nspname, 'table', c.relname, 'relkind', c.relkind::text,
            'persistence', c.relpersistence::text, 'replident', c.relreplident::text,
            'has_key', EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                               WHERE i.indrelid = c.oid AND (i.indisprimary OR i.indisreplident)))::text
        FROM (SELECT pg_catalog.to_regclass($1) AS rel) r
        LEFT JOIN pg_catalog.pg_class c ON c.oid = r.rel
        LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        $sql$, source_table)::jsonb;
    IF src->>'oid' IS NULL THEN
        RAISE EXCEPTION 'source table ''%'' does not exist%', source_table, on_source
            USING ERRCODE = 'undefined_table', HINT = 'name an existing table as schema.table';
    END IF;
    qualified := CASE WHEN src->>'persistence' = 't' THEN source_table
                      ELSE format('%I.%I', src->>'schema', src->>'table') END;
    IF src->>'relkind' NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '''%'' is %: only tables can be synced', qualified,
                        CASE src->>'relkind' WHEN 'v' THEN 'a view' WHEN 'm' THEN 'a materialized view'
                                             WHEN 'f' THEN 'a foreign table'
                                             ELSE format('not a table (relkind %s)', src->>'relkind') END || on_source
            USING ERRCODE = 'wrong_object_type',
                  HINT = CASE src->>'relkind'
                         WHEN 'v' THEN 'a view has no changes of its own: sync the tables it reads from'
                         WHEN 'm' THEN 'its refreshes are not replicated: sync the tables it is computed from'
                         WHEN 'f' THEN 'its rows live on another server: sync the table there'
                         ELSE 'name an ordinary or partitioned table' END;
    END IF;
    IF src->>'persistence' = 'u' THEN
        RAISE EXCEPTION '''%'' is an unlogged table%: its changes are not written to the WAL, so logical replication '
                        'cannot see them', qualified, on_source
            USING ERRCODE = 'feature_not_supported', HINT = format('make it logged first: ALTER TABLE %s SET LOGGED', qualified);
    END IF;
    IF src->>'persistence' = 't' THEN
        RAISE EXCEPTION '''%'' is a temporary table%: it lives only in its session and is never replicated',
                        qualified, on_source
            USING ERRCODE = 'feature_not_supported', HINT = 'sync a permanent table';
    END IF;

    -- Already synced, in any group reading the same source.
    SELECT m.target_schema, m.target_table, sg.name AS group_name INTO existing
    FROM duckpipe.table_mappings m JOIN duckpipe.sync_groups sg ON sg.id = m.group_id
    WHERE m.source_oid = (src->>'oid')::oid AND sg.conninfo IS NOT DISTINCT FROM g.conninfo;
    IF FOUND THEN
        RAISE EXCEPTION 'table % is already synced (to %.% in group ''%'')', qualified,
                        quote_ident(existing.target_schema), quote_ident(existing.target_table), existing.group_name
            USING ERRCODE = 'duplicate_object',
                  HINT = format('copy it again with SELECT duckpipe.resync_table(%L), or remove it first with '
                                'SELECT duckpipe.remove_table(%L)', qualified, qualified);
    END IF;

    -- No key: upsert matches rows by their full value (REPLICA IDENTITY FULL, the user's choice);
    -- append gets REPLICA IDENTITY FULL below, once every check passed.
    IF NOT (src->>'has_key')::boolean AND src->>'replident' <> 'f' AND sync_mode = 'upsert' THEN
        RAISE EXCEPTION 'table % has no primary key or replica identity index, and REPLICA IDENTITY is not FULL',
                        qualified
            USING ERRCODE = 'invalid_table_definition',
                  HINT = format('add a primary key (or REPLICA IDENTITY USING INDEX on a unique index); or run '
                                'ALTER TABLE %s REPLICA IDENTITY FULL (rows are then matched by their full value); '
                                'or add it with sync_mode => ''append'' for a changelog', qualified);
    END IF;

    IF target_table IS NULL THEN
        t_schema := src->>'schema';
        t_table := (src->>'table') || '_ducklake';
    ELSE
        target_parts := parse_ident(target_table);
        IF cardinality(target_parts) = 1 THEN
            t_schema := src->>'schema';
            t_table := target_parts[1];
        ELSIF cardinality(target_parts) = 2 THEN
            t_schema := target_parts[1];
            t_table := target_parts[2];
        ELSE
            RAISE EXCEPTION 'invalid target table name ''%''', target_table
                USING ERRCODE = 'invalid_name', HINT = 'write schema.table';
        END IF;
    END IF;
    SELECT format('%I.%I', m.source_schema, m.source_table) AS source, sg.name AS group_name INTO existing
    FROM duckpipe.table_mappings m JOIN duckpipe.sync_groups sg ON sg.id = m.group_id
    WHERE m.target_schema = t_schema AND m.target_table = t_table;
    IF FOUND THEN
        RAISE EXCEPTION 'target %.% is already the lake copy of % (group ''%'')', quote_ident(t_schema),
                        quote_ident(t_table), existing.source, existing.group_name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'pass another target_table (several sources into one target, fan_in, is not supported yet)';
    END IF;

    -- The group's worker creates the slot: fail now rather than in its log.
    PERFORM duckpipe._check_source_server(g);

    IF NOT (src->>'has_key')::boolean AND src->>'replident' <> 'f' THEN
        -- A changelog of a keyless table: published without a replica identity, the source would
        -- refuse its UPDATEs and DELETEs; FULL gives them and the whole old row (every partition's).
        PERFORM duckpipe._run_on_source(g.conninfo, format($sql$
            DO $do$ DECLARE r record; BEGIN
                FOR r IN SELECT %1$s::oid AS relid UNION
                         SELECT t.relid FROM pg_catalog.pg_partition_tree(%1$s::oid) t
                         JOIN pg_catalog.pg_class c ON c.oid = t.relid WHERE c.relkind IN ('r', 'p') LOOP
                    EXECUTE format('ALTER TABLE %%s REPLICA IDENTITY FULL', r.relid::regclass);
                END LOOP;
            END $do$
            $sql$, src->>'oid'));
        RAISE NOTICE 'table % has no key: set REPLICA IDENTITY FULL so its changelog gets every UPDATE and DELETE',
                     qualified;
    END IF;
    INSERT INTO duckpipe.table_mappings(group_id, source_oid, source_schema, source_table, target_schema,
                                        target_table, copy_data, sync_mode)
    VALUES (g.id, (src->>'oid')::oid, src->>'schema', src->>'table', t_schema, t_table, coalesce(copy_data, true),
            sync_mode);
    IF to_regnamespace(quote_ident(t_schema)) IS NULL THEN
        EXECUTE format('CREATE SCHEMA %I', t_schema);
    END IF;
    -- The target exists, as a relation and in the lake, when add_table returns. A remote source's table has no
    -- regclass here: its columns are read from its server's catalog (a type of its own there, an enum
    -- or a composite, is text here; a domain is its base type).
    IF g.conninfo IS NULL THEN
        PERFORM duckpipe.create_target_relation((src->>'oid')::oid::regclass, t_schema, t_table, sync_mode);
    ELSE
        remote := duckpipe._on_source(g.conninfo, $sql$
            SELECT jsonb_build_object(
                'owner', pg_catalog.pg_get_userbyid(c.relowner),
                'columns', coalesce((
                    SELECT jsonb_agg(jsonb_build_object('name', a.attname, 'type',
                               CASE WHEN t.oid < 16384 THEN pg_catalog.format_type(a.atttypid, a.atttypmod)
                                    WHEN t.typtype = 'd' AND t.typbasetype < 16384
                                    THEN pg_catalog.format_type(t.typbasetype, t.typtypmod)
                                    ELSE 'text' END) ORDER BY a.attnum)
                    FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
                    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]'::jsonb))::text
            FROM pg_catalog.pg_class c WHERE c.oid = $1::oid
            $sql$, src->>'oid')::jsonb;
        PERFORM duckpipe.create_target_relation_from_columns(remote->'columns', t_schema, t_table, sync_mode,
                                                             remote->>'owner',
                                                             format('%s on the source of group %s', qualified, g.name));
    END IF;
    -- And in the lake (rolled back with this transaction too), after the relation: only a lake
    -- commit is left to fail.
    PERFORM duckpipe._create_lake_table((src->>'oid')::oid, t_schema, t_table, sync_mode, g.conninfo);
    PERFORM duckpipe.wake_worker(g.name);
END
$$;

CREATE OR REPLACE FUNCTION duckpipe.remove_table(source_table text, drop_target boolean DEFAULT false,
                                                 sync_group text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    m duckpipe.table_mappings := duckpipe._find_table(source_table, sync_group);
    g duckpipe.sync_groups;
BEGIN
    SELECT * INTO g FROM duckpipe.sync_groups WHERE id = m.group_id;
    PERFORM duckpipe._forget_progress(m.id);
    DELETE FROM duckpipe.table_mappings WHERE id = m.id;
    -- The publication is the pipeline's to edit; a local one is edited here too, so the table leaves
    -- it even when no pipeline runs (and comes back if this transaction rolls back).
    IF g.conninfo IS NULL AND EXISTS (
            SELECT 1 FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_publication p ON p.oid = pr.prpubid
            WHERE p.pubname = g.publication AND pr.prrelid = m.source_oid) THEN
        EXECUTE format('ALTER PUBLICATION %I DROP TABLE %s', g.publication, m.source_oid::regclass);
    END IF;
    IF coalesce(drop_target, false) THEN
        EXECUTE format('DROP TABLE IF EXISTS %I.%I', m.target_schema, m.target_table);
    END IF;
    PERFORM duckpipe.wake_worker(g.name);
    IF NOT EXISTS (SELECT 1 FROM duckpipe.table_mappings WHERE group_id = g.id) THEN
        RAISE WARNING 'sync group ''%'' has no tables left: its replication slot ''%'' still holds WAL', g.name,
                      g.slot_name
            USING HINT = format('drop the group to release it: SELECT duckpipe.drop_group(%L)', g.name);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION duckpipe._resync(m duckpipe.table_mappings) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM duckpipe._forget_progress(m.id);
    UPDATE duckpipe.table_mappings SET generation = generation + 1, state = 'PENDING', snapshot_lsn = NULL,
        applied_lsn = NULL, rows_synced = 0, error_message = NULL, error_at = NULL, retry_at = NULL,
        failure_count = 0, resync_reason = NULL, snapshot_duration_ms = NULL, snapshot_rows = NULL,
        updated_at = now()
    WHERE id = m.id;
END
$$;

CREATE OR REPLACE FUNCTION duckpipe.move_table(source_table text, new_group text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    m duckpipe.table_mappings := duckpipe._find_table(source_table);
    old_g duckpipe.sync_groups;
    new_g duckpipe.sync_groups := duckpipe._group(new_group);
BEGIN
    SELECT * INTO old_g FROM duckpipe.sync_groups WHERE id = m.group_id;
    IF old_g.id = new_g.id THEN
        RAISE NOTICE 'table %.% is in group ''%'' already', quote_ident(m.source_schema), quote_ident(m.source_table),
                     new_g.name;
        RETURN;
    END IF;
    IF old_g.conninfo IS DISTINCT FROM new_g.conninfo THEN
        RAISE EXCEPTION 'cannot move %.% from group ''%'' to group ''%'': they read different source servers',
                        quote_ident(m.source_schema), quote_ident(m.source_table), old_g.name, new_g.name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'remove it and add it to the other group''s source table instead';
    END IF;
    UPDATE duckpipe.table_mappings SET group_id = new_g.id, updated_at = now() WHERE id = m.id;
    IF old_g.conninfo IS NULL AND EXISTS (
            SELECT 1 FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_publication p ON p.oid = pr.prpubid
            WHERE p.pubname = old_g.publication AND pr.prrelid = m.source_oid) THEN
        EXECUTE format('ALTER PUBLICATION %I DROP TABLE %s', old_g.publication, m.source_oid::regclass);
    END IF;
    -- The new group's slot is at another position than the old one's: a fresh copy is the only
    -- start that neither loses nor repeats a change.
    PERFORM duckpipe._resync(m);
    PERFORM duckpipe.wake_worker(old_g.name);
    PERFORM duckpipe.wake_worker(new_g.name);
    RAISE NOTICE 'table %.% moved from group ''%'' to group ''%''; it is copied again there',
                 quote_ident(m.source_schema), quote_ident(m.source_table), old_g.name, new_g.name;
END
$$;

CREATE OR REPLACE FUNCTION duckpipe.resync_table(source_table text, sync_group text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    m duckpipe.table_mappings := duckpipe._find_table(source_table, sync_group);
BEGIN
    PERFORM duckpipe._resync(m);
    PERFORM duckpipe.wake_worker((SELECT name FROM duckpipe.sync_groups WHERE id = m.group_id));
    RAISE NOTICE 'table %.% marked for resync', quote_ident(m.source_schema), quote_ident(m.source_table);
END
$$;

-- Listings (SECURITY DEFINER: the metadata tables are not readable by their callers) ----------------

CREATE OR REPLACE FUNCTION duckpipe.groups()
RETURNS TABLE(name text, publication text, slot_name text, enabled boolean, mode text, table_count integer,
              last_sync timestamptz, conninfo text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT g.name, g.publication, g.slot_name, g.enabled, g.mode,
           (SELECT count(*) FROM duckpipe.table_mappings m WHERE m.group_id = g.id)::integer,
           (SELECT max(m.last_sync_at) FROM duckpipe.table_mappings m WHERE m.group_id = g.id),
           duckpipe._redact_conninfo(g.conninfo)
    FROM duckpipe.sync_groups g ORDER BY g.name;
$$;

CREATE OR REPLACE FUNCTION duckpipe.tables()
RETURNS TABLE(source_table text, target_table text, sync_group text, enabled boolean, rows_synced bigint,
              last_sync timestamptz, source_label text, source_count integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('%I.%I', m.source_schema, m.source_table), format('%I.%I', m.target_schema, m.target_table),
           g.name, g.enabled, m.rows_synced, m.last_sync_at,
           g.name || '/' || format('%I.%I', m.source_schema, m.source_table),
           (count(*) OVER (PARTITION BY m.target_schema, m.target_table))::integer
    FROM duckpipe.table_mappings m JOIN duckpipe.sync_groups g ON g.id = m.group_id
    ORDER BY g.name, m.source_schema, m.source_table;
$$;
