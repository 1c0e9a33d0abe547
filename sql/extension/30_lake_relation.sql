-- The lake table as a PostgreSQL relation: the read-only table access method duckpipe_lake, the
-- function that creates a target's relation, duckpipe.query, and the drop tracking. Re-runnable
-- (every upgrade script runs this file again).

CREATE OR REPLACE FUNCTION duckpipe.lake_am_handler(internal) RETURNS table_am_handler
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'duckpipe_lake_am_handler';

DO $duckpipe_am$
BEGIN
    -- Not DROP and CREATE: relations that use the access method depend on it.
    IF NOT EXISTS (SELECT 1 FROM pg_am WHERE amname = 'duckpipe_lake') THEN
        CREATE ACCESS METHOD duckpipe_lake TYPE TABLE HANDLER duckpipe.lake_am_handler;
    END IF;
END
$duckpipe_am$;
COMMENT ON ACCESS METHOD duckpipe_lake IS 'pg_duckpipe: read-only relations whose rows are a DuckLake table''s current snapshot';

-- Creates target_schema.target_table USING duckpipe_lake with the given columns, a JSON array of
-- {"name", "type" (a type name with its typmod, as format_type writes it), "collation" (optional)} in
-- order (append mode adds duckpipe_op, duckpipe_lsn and duckpipe_commit_time as the lake does), owned
-- by the session user, and grants SELECT on it to source_owner when that role exists here. For a
-- source on another server (add_table reads its columns there): a type unknown here is text, as the
-- lake's values reach the relation as text. Runs in the caller's transaction: rolled back with it.
-- SECURITY DEFINER: a relation USING duckpipe_lake reads the lake with the catalog's rights, so only
-- these functions (not granted to PUBLIC) may create one.
CREATE OR REPLACE FUNCTION duckpipe.create_target_relation_from_columns(columns jsonb, target_schema text,
                                                                        target_table text,
                                                                        sync_mode text DEFAULT 'upsert',
                                                                        source_owner text DEFAULT NULL,
                                                                        source_label text DEFAULT NULL)
RETURNS regclass LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    definition text;
    col jsonb;
    type_name text;
    target regclass;
BEGIN
    IF sync_mode IS NULL OR sync_mode NOT IN ('upsert', 'append') THEN
        RAISE EXCEPTION 'unknown sync_mode %', coalesce(quote_literal(sync_mode), 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'sync_mode is ''upsert'' or ''append''';
    END IF;
    IF jsonb_typeof(columns) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'columns must be a JSON array of {"name", "type"} objects'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR col IN SELECT * FROM jsonb_array_elements(columns) LOOP
        IF col->>'name' IS NULL OR col->>'type' IS NULL THEN
            RAISE EXCEPTION 'column % has no name or no type', col USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- Only a type name reaches the DDL: to_regtype parses it as one (and nothing else).
        type_name := col->>'type';
        IF type_name ~ '[;\\]' OR to_regtype(type_name) IS NULL THEN
            type_name := 'text';
        END IF;
        definition := concat_ws(', ', definition, format('%I %s', col->>'name', type_name)
                                || CASE WHEN col ? 'collation'
                                        THEN ' COLLATE ' || (col->>'collation')::regcollation::text ELSE '' END);
    END LOOP;
    IF sync_mode = 'append' THEN
        definition := concat_ws(', ', definition, 'duckpipe_op text, duckpipe_lsn bigint, duckpipe_commit_time timestamptz');
    END IF;
    IF to_regnamespace(quote_ident(target_schema)) IS NULL THEN
        EXECUTE format('CREATE SCHEMA %I', target_schema);
    END IF;
    EXECUTE format('CREATE TABLE %I.%I (%s) USING duckpipe_lake', target_schema, target_table, coalesce(definition, ''));
    target := format('%I.%I', target_schema, target_table)::regclass;
    EXECUTE format('COMMENT ON TABLE %s IS %L', target,
                   format('pg_duckpipe: the lake copy of %s (read-only)', coalesce(source_label, 'a source table')));
    EXECUTE format('ALTER TABLE %s OWNER TO %I', target, session_user);
    IF source_owner IS NOT NULL AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = source_owner) THEN
        EXECUTE format('GRANT SELECT ON %s TO %I', target, source_owner);
    END IF;
    RETURN target;
END
$$;
REVOKE ALL ON FUNCTION duckpipe.create_target_relation_from_columns(jsonb, text, text, text, text, text) FROM PUBLIC;

-- The same with the columns of `source`, a table of this database (same names, types and
-- collations, in order); SELECT is granted to its owner.
CREATE OR REPLACE FUNCTION duckpipe.create_target_relation(source regclass, target_schema text, target_table text,
                                                           sync_mode text DEFAULT 'upsert')
RETURNS regclass LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT duckpipe.create_target_relation_from_columns(
        coalesce((SELECT jsonb_agg(jsonb_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod))
                                   || CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                                           THEN jsonb_build_object('collation', a.attcollation::regcollation::text)
                                           ELSE '{}'::jsonb END
                                   ORDER BY a.attnum)
                  FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                  WHERE a.attrelid = source AND a.attnum > 0 AND NOT a.attisdropped), '[]'::jsonb),
        target_schema, target_table, sync_mode,
        (SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE oid = source), source::text)
$$;

REVOKE ALL ON FUNCTION duckpipe.create_target_relation(regclass, text, text, text) FROM PUBLIC;

-- add_table's lake table: created (with the lake schema when missing) by a lake commit of its own, with
-- the columns the worker's copy creates, and dropped again if the calling (sub)transaction rolls
-- back (lake_create.cpp). A lake table of that name that exists already is left as it is. conninfo:
-- the source's server (NULL: this database, whose table is read in the caller's transaction).
CREATE OR REPLACE FUNCTION duckpipe._create_lake_table(source oid, target_schema text, target_table text,
                                                       sync_mode text, conninfo text DEFAULT NULL)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'duckpipe_create_lake_table';
REVOKE ALL ON FUNCTION duckpipe._create_lake_table(oid, text, text, text, text) FROM PUBLIC;

-- DuckDB SQL over the lake's tables (as schema.table), one JSON object per row; time travel with
-- snapshot (an id) or as_of (the latest snapshot taken at or before it).
CREATE OR REPLACE FUNCTION duckpipe.query(sql text, snapshot bigint DEFAULT NULL, as_of timestamptz DEFAULT NULL)
RETURNS SETOF jsonb LANGUAGE C CALLED ON NULL INPUT AS 'MODULE_PATHNAME', 'duckpipe_query';
-- It reads every lake table with the catalog's rights, whatever the GRANTs on their relations.
REVOKE ALL ON FUNCTION duckpipe.query(text, bigint, timestamptz) FROM PUBLIC;

-- DROP TABLE of a lake relation: its mapping is deleted in the DROP's transaction (the worker stops
-- syncing it) and its lake table is dropped once that transaction commits (lake_drop.cpp).
CREATE OR REPLACE FUNCTION duckpipe._lake_relation_drops(OUT schema_name text, OUT table_name text)
RETURNS SETOF record LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'duckpipe_lake_relation_drops';
REVOKE ALL ON FUNCTION duckpipe._lake_relation_drops() FROM PUBLIC;

-- SECURITY DEFINER: the event trigger runs for every DROP in the database, by any role, and neither
-- _lake_relation_drops() nor the metadata tables are theirs to use.
CREATE OR REPLACE FUNCTION duckpipe.lake_relation_dropped() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d record;
    m record;
    synced boolean;
BEGIN
    FOR d IN SELECT * FROM duckpipe._lake_relation_drops() LOOP
        synced := false;
        FOR m IN DELETE FROM duckpipe.table_mappings
                 WHERE target_schema = d.schema_name AND target_table = d.table_name
                 RETURNING id, source_schema, source_table LOOP
            DELETE FROM duckpipe.table_progress
            WHERE mapping_id = m.id
              AND (source_system_id, source_database_oid) =
                  ((SELECT system_identifier FROM pg_control_system()),
                   (SELECT oid FROM pg_database WHERE datname = current_database()));
            RAISE NOTICE 'pg_duckpipe stopped syncing %.% into %.% and drops its lake table when this transaction commits',
                quote_ident(m.source_schema), quote_ident(m.source_table),
                quote_ident(d.schema_name), quote_ident(d.table_name);
            synced := true;
        END LOOP;
        IF NOT synced THEN
            RAISE NOTICE 'pg_duckpipe drops the lake table %.% when this transaction commits',
                quote_ident(d.schema_name), quote_ident(d.table_name);
        END IF;
    END LOOP;
END
$$;
DROP EVENT TRIGGER IF EXISTS duckpipe_lake_relation_drop;
CREATE EVENT TRIGGER duckpipe_lake_relation_drop ON sql_drop EXECUTE FUNCTION duckpipe.lake_relation_dropped();

-- Source DDL that the lake followed, followed by the lake relation: called by the pipeline (over
-- libpq, on the lake catalog's connection) inside the transaction that commits the lake's schema
-- change, so the relation and the lake change together. `changes` is an array of
-- {"kind": "add"|"drop"|"rename"|"widen", "name", "new_name", "lake_type"} in order. Columns get the
-- source column's type when the source is in this database, else the PostgreSQL type the lake type
-- maps back to. Never a rewrite (the relation holds no rows): widening changes the catalog only.
CREATE OR REPLACE FUNCTION duckpipe._set_column_type(relation regclass, column_name name, type regtype, typmod integer)
RETURNS void LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'duckpipe_set_column_type';
REVOKE ALL ON FUNCTION duckpipe._set_column_type(regclass, name, regtype, integer) FROM PUBLIC;

-- The PostgreSQL type of a lake relation's column: the source column's when the source is in this
-- database and has it, else the type the lake type maps back to.
CREATE OR REPLACE FUNCTION duckpipe._relation_column_type(source regclass, column_name text, lake_type text,
                                                          OUT type_oid oid, OUT type_mod integer)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    SELECT a.atttypid, a.atttypmod INTO type_oid, type_mod FROM pg_attribute a
    WHERE a.attrelid = source AND a.attname = column_name AND a.attnum > 0 AND NOT a.attisdropped;
    IF type_oid IS NOT NULL THEN
        RETURN;
    END IF;
    type_mod := -1;
    type_oid := CASE
        WHEN lake_type = 'boolean' THEN 'boolean'::regtype
        WHEN lake_type IN ('int8', 'int16', 'uint8') THEN 'smallint'::regtype
        WHEN lake_type IN ('int32', 'uint16') THEN 'integer'::regtype
        WHEN lake_type IN ('int64', 'uint32') THEN 'bigint'::regtype
        WHEN lake_type = 'float32' THEN 'real'::regtype
        WHEN lake_type = 'float64' THEN 'double precision'::regtype
        WHEN lake_type = 'blob' THEN 'bytea'::regtype
        WHEN lake_type IN ('date', 'time', 'timestamp', 'timestamptz', 'uuid') THEN lake_type::regtype
        WHEN lake_type = 'json' THEN 'jsonb'::regtype
        WHEN lake_type LIKE 'decimal(%' THEN 'numeric'::regtype
        ELSE 'text'::regtype END;
    IF lake_type LIKE 'decimal(%' THEN
        type_mod := ((split_part(substr(lake_type, 9), ',', 1)::integer << 16)
                     | rtrim(split_part(lake_type, ',', 2), ')')::integer) + 4;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION duckpipe._relation_column_type(regclass, text, text) FROM PUBLIC;

-- `changes` may also hold {"kind": "columns", "columns": [{"name", "lake_type"}, ...]}: the lake
-- table was created again (resync) with these columns; the relation drops the others, adds the
-- missing ones, and takes the source's type where it differs (built-in types, in the catalog only).
CREATE OR REPLACE FUNCTION duckpipe.sync_target_relation(target_schema text, target_table text, changes jsonb)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    target regclass;
    source regclass;
    ch jsonb;
    col jsonb;
    att record;
    t record;
BEGIN
    SELECT c.oid INTO target FROM pg_class c JOIN pg_am a ON a.oid = c.relam
    WHERE c.oid = to_regclass(format('%I.%I', target_schema, target_table)) AND a.amname = 'duckpipe_lake';
    IF target IS NULL THEN
        RETURN; -- no relation for this lake table (a daemon group, or dropped)
    END IF;
    SELECT to_regclass(format('%I.%I', m.source_schema, m.source_table)) INTO source
    FROM duckpipe.table_mappings m WHERE m.target_schema = $1 AND m.target_table = $2 LIMIT 1;
    FOR ch IN SELECT * FROM jsonb_array_elements(changes) LOOP
        IF ch->>'kind' = 'add' THEN
            t := duckpipe._relation_column_type(source, ch->>'name', ch->>'lake_type');
            EXECUTE format('ALTER TABLE %s ADD COLUMN IF NOT EXISTS %I %s', target, ch->>'name',
                           format_type(t.type_oid, t.type_mod));
        ELSIF ch->>'kind' = 'widen' THEN
            t := duckpipe._relation_column_type(source, ch->>'name', ch->>'lake_type');
            PERFORM duckpipe._set_column_type(target, ch->>'name', t.type_oid, t.type_mod);
        ELSIF ch->>'kind' = 'drop' THEN
            EXECUTE format('ALTER TABLE %s DROP COLUMN IF EXISTS %I', target, ch->>'name');
        ELSIF ch->>'kind' = 'rename' THEN
            IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = target AND attname = ch->>'name' AND NOT attisdropped) THEN
                EXECUTE format('ALTER TABLE %s RENAME COLUMN %I TO %I', target, ch->>'name', ch->>'new_name');
            END IF;
        ELSIF ch->>'kind' = 'columns' THEN
            FOR att IN SELECT a.attname, a.atttypid, a.atttypmod FROM pg_attribute a
                       WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped
                         AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(ch->'columns') c
                                         WHERE c->>'name' = a.attname) LOOP
                EXECUTE format('ALTER TABLE %s DROP COLUMN %I', target, att.attname);
            END LOOP;
            FOR col IN SELECT * FROM jsonb_array_elements(ch->'columns') LOOP
                t := duckpipe._relation_column_type(source, col->>'name', col->>'lake_type');
                SELECT a.atttypid, a.atttypmod INTO att FROM pg_attribute a
                WHERE a.attrelid = target AND a.attname = col->>'name' AND NOT a.attisdropped;
                IF NOT FOUND THEN
                    EXECUTE format('ALTER TABLE %s ADD COLUMN %I %s', target, col->>'name',
                                   format_type(t.type_oid, t.type_mod));
                ELSIF (att.atttypid, att.atttypmod) <> (t.type_oid, t.type_mod)
                      AND att.atttypid < 16384 AND t.type_oid < 16384 THEN
                    PERFORM duckpipe._set_column_type(target, col->>'name', t.type_oid, t.type_mod);
                END IF;
            END LOOP;
        END IF;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION duckpipe.sync_target_relation(text, text, jsonb) FROM PUBLIC;
