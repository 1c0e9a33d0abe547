-- duckpipe.config was created for settings but nothing ever read it; settings come from flags and
-- the environment (and, in the extension, from GUCs). A DISABLED table state was never set either.
DROP TABLE IF EXISTS duckpipe.config;
ALTER TABLE duckpipe.table_mappings DROP CONSTRAINT IF EXISTS table_mappings_state_check;
ALTER TABLE duckpipe.table_mappings ADD CONSTRAINT table_mappings_state_check
    CHECK (state IN ('PENDING', 'SNAPSHOT', 'CATCHUP', 'STREAMING', 'ERRORED'));
