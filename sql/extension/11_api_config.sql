-- The configuration part of the SQL API (duckpipe.get_config/set_config and the per group and per
-- table variants); the keys, their ranges and defaults come from duckpipe._config_keys_json and
-- duckpipe._config_check (src/extension/config_check.cpp). Re-runnable: CREATE OR REPLACE only.

-- Resolution: built-in default <- process setting (GUC) <- global_config <- group config <- table config.

-- A config value as JSON: a number when it is one.
CREATE OR REPLACE FUNCTION duckpipe._config_json(value text) RETURNS jsonb
    LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN value ~ '^-?[0-9]+$' THEN to_jsonb(value::bigint) ELSE to_jsonb(value) END
$$;

-- A GUC's pg_settings value (in its own unit) in the unit the key's name says (_mb, _ms, _bytes).
CREATE OR REPLACE FUNCTION duckpipe._setting_in_key_unit(key text, setting text, unit text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN setting IS NULL THEN NULL
        WHEN setting IN ('on', 'off') THEN CASE setting WHEN 'on' THEN '1' ELSE '0' END -- a switch (auto_compact)
        WHEN unit IS NULL OR unit = '' THEN setting
        WHEN key LIKE '%\_ms' THEN (setting::numeric * CASE unit WHEN 'ms' THEN 1 WHEN 's' THEN 1000
                                                               WHEN 'min' THEN 60000 END)::bigint::text
        WHEN key LIKE '%\_mb' OR key LIKE '%\_bytes' THEN
            (setting::numeric * (CASE WHEN unit ~ '^[0-9]+' THEN substring(unit FROM '^[0-9]+')::numeric ELSE 1 END)
             * CASE substring(unit FROM '[a-zA-Z]+$') WHEN 'B' THEN 1 WHEN 'kB' THEN 1024 WHEN 'MB' THEN 1048576
                                                      WHEN 'GB' THEN 1073741824 END
             / CASE WHEN key LIKE '%\_mb' THEN 1048576 ELSE 1 END)::bigint::text
        ELSE setting END
$$;

CREATE OR REPLACE FUNCTION duckpipe._config_resolved(group_id integer DEFAULT NULL, mapping_id bigint DEFAULT NULL)
RETURNS TABLE(key text, value text, table_scope boolean)
LANGUAGE sql STABLE AS $$
    SELECT k.key,
           coalesce(t.config->>k.key, g.config->>k.key, gc.value, duckpipe._setting_in_key_unit(k.key, s.setting, s.unit),
                    k.default_value),
           k.table_scope
    FROM jsonb_to_recordset(duckpipe._config_keys_json()::jsonb)
         AS k(key text, table_scope boolean, default_value text, setting text)
    LEFT JOIN pg_catalog.pg_settings s ON s.name = k.setting AND s.vartype IN ('integer', 'real', 'bool')
    LEFT JOIN duckpipe.global_config gc ON gc.key = k.key
    LEFT JOIN duckpipe.sync_groups g ON g.id = _config_resolved.group_id
    LEFT JOIN duckpipe.table_mappings t ON t.id = _config_resolved.mapping_id
    ORDER BY k.key;
$$;

CREATE OR REPLACE FUNCTION duckpipe._config_get(scope text, key text, group_id integer, mapping_id bigint)
RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    result text;
    keys text;
BEGIN
    IF key IS NULL THEN
        SELECT jsonb_object_agg(r.key, duckpipe._config_json(r.value))::text INTO result
        FROM duckpipe._config_resolved(group_id, mapping_id) r WHERE scope <> 'table' OR r.table_scope;
        RETURN result;
    END IF;
    SELECT r.value INTO result FROM duckpipe._config_resolved(group_id, mapping_id) r
    WHERE r.key = _config_get.key AND (scope <> 'table' OR r.table_scope);
    IF result IS NULL THEN
        SELECT string_agg(r.key, ', ') INTO keys FROM duckpipe._config_resolved() r
        WHERE scope <> 'table' OR r.table_scope;
        RAISE EXCEPTION 'unknown config key ''%''%', key, CASE WHEN scope = 'table' THEN ' per table' ELSE '' END
            USING ERRCODE = 'invalid_parameter_value', HINT = 'valid keys: ' || keys;
    END IF;
    RETURN result;
END
$$;

-- Sets (value) or resets (value NULL) a key of a jsonb config.
CREATE OR REPLACE FUNCTION duckpipe._config_put(config jsonb, scope text, key text, value text) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    IF value IS NULL THEN
        IF NOT EXISTS (SELECT 1 FROM duckpipe._config_resolved() r
                       WHERE r.key = _config_put.key AND (scope <> 'table' OR r.table_scope)) THEN
            PERFORM duckpipe._config_check(scope, key, ''); -- raises the unknown key's error
        END IF;
        RETURN config - key;
    END IF;
    RETURN config || jsonb_build_object(key, duckpipe._config_json(duckpipe._config_check(scope, key, value)));
END
$$;

CREATE OR REPLACE FUNCTION duckpipe.get_config(key text DEFAULT NULL) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT duckpipe._config_get('global', key, NULL, NULL);
$$;

CREATE OR REPLACE FUNCTION duckpipe.set_config(key text, value text) RETURNS void
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
    g record;
BEGIN
    IF value IS NULL THEN
        PERFORM duckpipe._config_put('{}', 'global', key, NULL);
        DELETE FROM duckpipe.global_config c WHERE c.key = set_config.key;
    ELSE
        INSERT INTO duckpipe.global_config AS c(key, value)
        VALUES (key, duckpipe._config_check('global', key, value))
        ON CONFLICT ON CONSTRAINT global_config_pkey DO UPDATE SET value = EXCLUDED.value, updated_at = now();
    END IF;
    FOR g IN SELECT name FROM duckpipe.sync_groups ORDER BY name LOOP
        PERFORM duckpipe.wake_worker(g.name);
    END LOOP;
    -- A daemon listens here (the metadata triggers do the same for groups and tables).
    PERFORM pg_notify('duckpipe_changed', 'global_config');
END
$$;

CREATE OR REPLACE FUNCTION duckpipe.get_group_config(group_name text, key text DEFAULT NULL) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT duckpipe._config_get('group', key, (duckpipe._group(group_name)).id, NULL);
$$;

CREATE OR REPLACE FUNCTION duckpipe.set_group_config(group_name text, key text, value text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    g duckpipe.sync_groups := duckpipe._group(group_name);
BEGIN
    UPDATE duckpipe.sync_groups SET config = duckpipe._config_put(config, 'group', key, value), updated_at = now()
    WHERE id = g.id;
    PERFORM duckpipe.wake_worker(g.name);
END
$$;

CREATE OR REPLACE FUNCTION duckpipe.get_table_config(source_table text, key text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m duckpipe.table_mappings := duckpipe._find_table(source_table);
BEGIN
    RETURN duckpipe._config_get('table', key, m.group_id, m.id);
END
$$;

CREATE OR REPLACE FUNCTION duckpipe.set_table_config(source_table text, key text, value text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    m duckpipe.table_mappings := duckpipe._find_table(source_table);
BEGIN
    UPDATE duckpipe.table_mappings SET config = duckpipe._config_put(config, 'table', key, value), updated_at = now()
    WHERE id = m.id;
    PERFORM pg_notify('duckpipe_changed', 'table_mappings');
    PERFORM duckpipe.wake_worker((SELECT name FROM duckpipe.sync_groups WHERE id = m.group_id));
END
$$;
