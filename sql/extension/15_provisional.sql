-- PROVISIONAL (wt-api): stand-ins for functions other helpers write, so the SQL API can be tested
-- before the merge. The lead deletes this file at merge.
-- The worker helper's: wakes the group's background worker when the transaction commits.
CREATE OR REPLACE FUNCTION duckpipe.wake_worker(sync_group text) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN END $$;
-- The lake relation helper's: creates the lake table and its PostgreSQL relation for a source.
CREATE OR REPLACE FUNCTION duckpipe.create_target_relation(source regclass, target_schema text, target_table text,
                                                           sync_mode text) RETURNS void
    LANGUAGE plpgsql AS $$ BEGIN END $$;
