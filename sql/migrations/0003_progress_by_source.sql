-- pg_duckpipe metadata, version 3: a table's progress is keyed by its source too. Mapping ids are
-- allocated per metadata database, so two sources writing into one lake catalog (a shared
-- --lake-catalog) had equal mapping ids, overwrote each other's applied LSN and, after a restart,
-- skipped each other's transactions. The source is the cluster's system identifier plus the OID of
-- the database holding duckpipe.table_mappings (ProgressStore, SourceIdentity).
-- Rows written before belong to the source whose database this is (the lake catalog defaults to the
-- source database); a lake catalog of its own hands them to its one source when a daemon first runs
-- (ProgressStore::AdoptLegacyRows).
ALTER TABLE duckpipe.table_progress
    ADD COLUMN source_system_id bigint,
    ADD COLUMN source_database_oid oid;
UPDATE duckpipe.table_progress SET
    source_system_id = (SELECT system_identifier FROM pg_control_system()),
    source_database_oid = (SELECT oid FROM pg_database WHERE datname = current_database());
ALTER TABLE duckpipe.table_progress
    ALTER COLUMN source_system_id SET NOT NULL,
    ALTER COLUMN source_database_oid SET NOT NULL,
    DROP CONSTRAINT table_progress_pkey,
    ADD PRIMARY KEY (source_system_id, source_database_oid, mapping_id);
