-- pg_duckpipe metadata, version 4: what went wrong with a sync group, and why a table was copied
-- again, so `status` shows what otherwise only the log says.
-- last_error: the group's current failure (no free replication slot, publication refused, ...);
-- set by the running pipeline, cleared once the group works again.
-- notice: a lasting event worth telling (the replication slot was lost and recreated).
ALTER TABLE duckpipe.sync_groups ADD COLUMN last_error text;
ALTER TABLE duckpipe.sync_groups ADD COLUMN last_error_at timestamptz;
ALTER TABLE duckpipe.sync_groups ADD COLUMN notice text;
-- Why the current generation was copied: NULL for a first copy or a user's resync-table;
-- 'slot_lost' when the group's slot was dropped or invalidated (the changes in the gap are gone
-- from the WAL; an append-mode table keeps its changelog and gets the re-copied rows as op 'R').
ALTER TABLE duckpipe.table_mappings ADD COLUMN resync_reason text;
