-- Configuration at every scope: built-in default <- GUC <- global <- group <- table; bad keys and
-- values are refused.
\set SHOW_CONTEXT never
SELECT duckpipe.create_group('tuned', mode => 'daemon');
CREATE TABLE public.conf_src (id integer PRIMARY KEY);
SELECT duckpipe.add_table('public.conf_src', sync_group => 'tuned');

-- Defaults (flush_interval_ms aside: the regress cluster sets duckpipe.flush_interval, the GUC
-- layer, which wins over the built-in default once the GUC is defined).
SELECT duckpipe.get_config()::jsonb - 'flush_interval_ms' AS global_defaults;
SELECT duckpipe.get_config('flush_interval_ms') = coalesce(
    (SELECT setting FROM pg_settings WHERE name = 'duckpipe.flush_interval' AND vartype = 'integer'), '5000')
    AS guc_over_default;
SELECT duckpipe.get_config('duckdb_threads');

-- Global.
SELECT duckpipe.set_config('flush_batch_threshold', '1000');
SELECT duckpipe.set_config('flush_interval_ms', '300');
SELECT duckpipe.set_config('flush_interval_ms', '250');
SELECT key, value FROM duckpipe.global_config ORDER BY key;
SELECT duckpipe.get_config('flush_batch_threshold'), duckpipe.get_config('flush_interval_ms');

-- Group: overrides the global value for its tables only.
SELECT duckpipe.set_group_config('tuned', 'duckdb_threads', '4');
SELECT duckpipe.set_group_config('tuned', 'flush_interval_ms', '1000');
SELECT name, config FROM duckpipe.sync_groups WHERE name = 'tuned';
SELECT duckpipe.get_group_config('tuned', 'duckdb_threads') AS tuned, duckpipe.get_group_config('default', 'duckdb_threads') AS dflt;
SELECT duckpipe.get_group_config('tuned')::jsonb AS tuned_resolved;

-- Table: overrides its group for the keys a table can have.
SELECT duckpipe.set_table_config('public.conf_src', 'flush_interval_ms', '2000');
SELECT source_table, config FROM duckpipe.table_mappings WHERE source_table = 'conf_src';
SELECT duckpipe.get_table_config('public.conf_src', 'flush_interval_ms') AS own,
       duckpipe.get_table_config('conf_src', 'duckdb_threads') AS from_group,
       duckpipe.get_table_config('public.conf_src', 'flush_batch_threshold') AS from_global;
SELECT duckpipe.get_table_config('public.conf_src')::jsonb AS table_resolved;

-- Rejections.
SELECT duckpipe.set_config('no_such_key', '1');
SELECT duckpipe.set_config('duckdb_threads', 'many');
SELECT duckpipe.set_config('duckdb_threads', '0');
SELECT duckpipe.set_config('max_queued_bytes', '1024');
SELECT duckpipe.get_config('no_such_key');
SELECT duckpipe.set_group_config('tuned', 'no_such_key', '1');
SELECT duckpipe.set_group_config('tuned', 'flush_interval_ms', '-5');
SELECT duckpipe.set_group_config('nope', 'duckdb_threads', '2');
SELECT duckpipe.get_group_config('nope');
SELECT duckpipe.get_group_config('tuned', 'no_such_key');
SELECT duckpipe.set_table_config('public.conf_src', 'max_queued_bytes', '10485760');
SELECT duckpipe.set_table_config('public.conf_src', 'flush_interval_ms', '1.5');
SELECT duckpipe.set_table_config('public.never_added', 'flush_interval_ms', '100');
SELECT duckpipe.get_table_config('public.conf_src', 'duckdb_buffer_memory_mb');
-- Nothing changed by the refused calls.
SELECT key, value FROM duckpipe.global_config ORDER BY key;
SELECT config FROM duckpipe.sync_groups WHERE name = 'tuned';

-- A NULL value resets a key to the next scope's value.
SELECT duckpipe.set_table_config('public.conf_src', 'flush_interval_ms', NULL);
SELECT duckpipe.get_table_config('public.conf_src', 'flush_interval_ms');
SELECT duckpipe.set_group_config('tuned', 'flush_interval_ms', NULL);
SELECT duckpipe.get_table_config('public.conf_src', 'flush_interval_ms');
SELECT duckpipe.set_config('flush_interval_ms', NULL);
SELECT duckpipe.set_config('flush_batch_threshold', NULL);
SELECT duckpipe.set_config('no_such_key', NULL);
SELECT count(*) AS global_rows FROM duckpipe.global_config;

SELECT duckpipe.remove_table('public.conf_src');
SELECT duckpipe.drop_group('tuned');
