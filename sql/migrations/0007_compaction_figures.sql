-- pg_duckpipe metadata, version 7: background compaction's figures per table, written by the process
-- that runs the table's group (daemon or background worker) with its other runtime figures, and shown
-- by `duckpipe status` and duckpipe.status() / duckpipe.metrics(). Counts add up across restarts.
ALTER TABLE duckpipe.table_mappings ADD COLUMN compaction_count bigint NOT NULL DEFAULT 0;
ALTER TABLE duckpipe.table_mappings ADD COLUMN compaction_files_merged bigint NOT NULL DEFAULT 0;
ALTER TABLE duckpipe.table_mappings ADD COLUMN last_compaction_at timestamptz;
-- Live data files of the lake table when the compaction scheduler last counted them (NULL: not
-- counted, e.g. auto_compact off).
ALTER TABLE duckpipe.table_mappings ADD COLUMN data_files bigint;
