-- Compaction of a synced table's lake files on demand. The worker also compacts in the background
-- (settings auto_compact, compact_min_files, compact_target_file_size_mb, compact_interval_ms); this
-- merges every small file of the table now, in this backend. A flush of the table that deletes rows
-- and commits after it started is retried by the worker a moment later (the compaction won).

CREATE OR REPLACE FUNCTION duckpipe._compact_lake_table(target_schema text, target_table text,
                                                       target_file_size_mb bigint, memory_mb bigint)
RETURNS TABLE(files_before bigint, files_after bigint, rows_written bigint, snapshot_id bigint)
LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'duckpipe_compact_lake_table';

-- Files below target_file_size_mb (default: the table's compact_target_file_size_mb) are merged into
-- files below it, with their deleted rows dropped. snapshot_id is NULL when there was nothing to merge.
CREATE OR REPLACE FUNCTION duckpipe.compact_table(source_table text, sync_group text DEFAULT NULL,
                                                  target_file_size_mb bigint DEFAULT NULL)
RETURNS TABLE(files_before bigint, files_after bigint, rows_written bigint, snapshot_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
    m duckpipe.table_mappings := duckpipe._find_table(source_table, sync_group);
    target bigint := coalesce(target_file_size_mb,
                              duckpipe._config_get('table', 'compact_target_file_size_mb', m.group_id, m.id)::bigint);
    memory bigint := duckpipe._config_get('table', 'duckdb_flush_memory_mb', m.group_id, m.id)::bigint;
BEGIN
    IF target < 1 THEN
        RAISE EXCEPTION 'target_file_size_mb must be at least 1, not %', target;
    END IF;
    RETURN QUERY SELECT c.files_before, c.files_after, c.rows_written, c.snapshot_id
                 FROM duckpipe._compact_lake_table(m.target_schema, m.target_table, target, memory) c;
END
$$;

REVOKE ALL ON FUNCTION duckpipe._compact_lake_table(text, text, bigint, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION duckpipe.compact_table(text, text, bigint) FROM PUBLIC;
