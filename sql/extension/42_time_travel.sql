-- Time travel (docs/lake-relation.md, "Time travel"): the lake's snapshots, reading a snapshot for
-- one transaction (duckpipe.as_of), and the snapshot that holds everything the source committed
-- up to an LSN or a time (duckpipe.snapshot_at). The settings duckpipe.as_of_snapshot and
-- duckpipe.as_of_time are the module's. Re-runnable (every upgrade script runs this file again).

-- Every snapshot of the lake, oldest first, with what its commit recorded. The pipeline's commits
-- carry {"duckpipe": {"kind", "group", "table", "target", "from_lsn", "source_lsn", "from_time",
-- "source_time"}} in commit_extra_info.
CREATE OR REPLACE FUNCTION duckpipe.snapshots(OUT snapshot_id bigint, OUT snapshot_time timestamptz,
                                              OUT schema_version bigint, OUT changes text, OUT author text,
                                              OUT commit_message text, OUT commit_extra_info text)
RETURNS SETOF record LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'duckpipe_snapshots';
COMMENT ON FUNCTION duckpipe.snapshots() IS 'pg_duckpipe: the lake''s snapshots, oldest first (ids for duckpipe.as_of_snapshot)';

-- Reads of lake relations (and duckpipe.query without its own arguments) see this snapshot, or the
-- lake as of this time, until the end of the current transaction. Both NULL: the latest.
CREATE OR REPLACE FUNCTION duckpipe.as_of(snapshot bigint DEFAULT NULL, as_of timestamptz DEFAULT NULL)
RETURNS void LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF snapshot IS NOT NULL AND as_of IS NOT NULL THEN
        RAISE EXCEPTION 'snapshot and as_of cannot both be given'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'read the lake either at a snapshot id or as of a time';
    END IF;
    IF snapshot IS NOT NULL AND snapshot < 0 THEN
        RAISE EXCEPTION 'snapshot must be a lake snapshot id, not %', snapshot
            USING ERRCODE = 'invalid_parameter_value', HINT = 'SELECT * FROM duckpipe.snapshots() lists them';
    END IF;
    -- The other one first: the two are never both set.
    PERFORM pg_catalog.set_config('duckpipe.as_of_time', '', true);
    PERFORM pg_catalog.set_config('duckpipe.as_of_snapshot', coalesce(snapshot::text, '-1'), true);
    IF as_of IS NOT NULL THEN
        -- In UTC, so that a later change of TimeZone does not move it.
        PERFORM pg_catalog.set_config('duckpipe.as_of_time',
            pg_catalog.to_char(as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00', true);
    END IF;
END
$$;
COMMENT ON FUNCTION duckpipe.as_of(bigint, timestamptz) IS 'pg_duckpipe: read lake relations at a snapshot or time until the end of this transaction';

-- The pipeline's record in a commit's extra info (NULL for other writers' commits).
CREATE OR REPLACE FUNCTION duckpipe._commit_provenance(extra text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF extra IS NULL OR strpos(extra, '"duckpipe"') = 0 THEN
        RETURN NULL;
    END IF;
    RETURN extra::jsonb -> 'duckpipe';
EXCEPTION WHEN invalid_text_representation THEN
    RETURN NULL;
END
$$;

-- The first lake snapshot that holds everything the source committed before `lsn` (every
-- transaction whose commit record starts before it: pg_current_wal_insert_lsn() after a COMMIT covers
-- that transaction), for every synced table of every group; NULL when the lake has not got there yet.
-- The rule (docs/lake-relation.md): a group's confirmed position at or past lsn says that all its
-- tables hold everything before lsn; a table's state before lsn is its last copy taken by then, or
-- the last flush after it whose first transaction is before lsn. Tables copied after lsn are left
-- out (the lake had none of their rows then); NULL too when no table had been copied by then.
CREATE OR REPLACE FUNCTION duckpipe.snapshot_at(lsn pg_lsn) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    answer bigint;
BEGIN
    IF lsn IS NULL THEN
        RETURN NULL;
    END IF;
    -- A table whose copy is not in the lake yet, or a group not confirmed up to lsn: not there yet.
    IF EXISTS (SELECT 1 FROM duckpipe.table_mappings m JOIN duckpipe.sync_groups g ON g.id = m.group_id
               WHERE m.state IN ('PENDING', 'SNAPSHOT')
                  OR (m.state <> 'ERRORED' AND (g.confirmed_lsn IS NULL OR g.confirmed_lsn < lsn))) THEN
        RETURN NULL;
    END IF;
    WITH commits AS (
        SELECT s.snapshot_id, duckpipe._commit_provenance(s.commit_extra_info) AS p FROM duckpipe.snapshots() s
    ), copies AS (
        SELECT c.snapshot_id, c.p ->> 'target' AS target, (c.p ->> 'source_lsn')::pg_lsn AS copy_lsn
        FROM commits c WHERE c.p ->> 'kind' = 'copy'
    ), per_table AS (
        -- The last copy taken at or before lsn, and the first one after it (a resync).
        SELECT t.target,
               (SELECT max(k.snapshot_id) FROM copies k WHERE k.target = t.target AND k.copy_lsn <= lsn) AS copied,
               (SELECT min(k.snapshot_id) FROM copies k WHERE k.target = t.target AND k.copy_lsn > lsn) AS recopied
        FROM (SELECT m.target_schema || '.' || m.target_table AS target
              FROM duckpipe.table_mappings m WHERE m.state <> 'ERRORED') t
    )
    SELECT max(CASE
               -- Copied after lsn: the lake had no copy of it then (it reads as empty there).
               WHEN copied IS NULL THEN NULL
               -- Resynced since: the new copy holds everything before lsn.
               WHEN recopied IS NOT NULL AND recopied > copied THEN recopied
               -- The last flush after the copy whose first transaction is before lsn, else the copy.
               ELSE coalesce((SELECT max(f.snapshot_id) FROM commits f
                              WHERE f.p ->> 'kind' = 'flush' AND f.p ->> 'target' = per_table.target
                                AND f.snapshot_id > copied AND (f.p ->> 'from_lsn')::pg_lsn < lsn), copied)
               END)
    INTO answer FROM per_table;
    RETURN answer;
END
$$;
COMMENT ON FUNCTION duckpipe.snapshot_at(pg_lsn) IS 'pg_duckpipe: the first lake snapshot holding everything committed before this source LSN (NULL: not yet)';

-- The same for a time: every transaction committed at or before `at`. The LSN bound is the first
-- transaction the lake recorded with a later commit time, else the server's current WAL position
-- (then the lake must have caught up with now). NULL for a time still to come.
CREATE OR REPLACE FUNCTION duckpipe.snapshot_at("at" timestamptz) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    bound pg_lsn;
BEGIN
    IF $1 IS NULL OR $1 > clock_timestamp() THEN
        RETURN NULL;
    END IF;
    WITH commits AS (
        SELECT duckpipe._commit_provenance(s.commit_extra_info) AS p FROM duckpipe.snapshots() s
    ), recorded AS (
        SELECT (c.p ->> 'from_lsn')::pg_lsn AS lsn, (c.p ->> 'from_time')::timestamptz AS t
        FROM commits c WHERE c.p ->> 'kind' = 'flush' AND c.p ? 'from_time'
        UNION ALL
        SELECT (c.p ->> 'source_lsn')::pg_lsn, (c.p ->> 'source_time')::timestamptz
        FROM commits c WHERE c.p ->> 'kind' = 'flush' AND c.p ? 'source_time'
    )
    SELECT min(r.lsn) INTO bound FROM recorded r WHERE r.t > $1;
    RETURN duckpipe.snapshot_at(coalesce(bound, pg_current_wal_insert_lsn()));
END
$$;
COMMENT ON FUNCTION duckpipe.snapshot_at(timestamptz) IS 'pg_duckpipe: the first lake snapshot holding everything committed up to this time (NULL: not yet)';

-- Reading the lake's history is monitoring; choosing a snapshot is for anyone who may read a lake
-- relation (the relation's own SELECT privilege still applies).
REVOKE ALL ON FUNCTION duckpipe.snapshots() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION duckpipe.snapshots() TO pg_monitor;
GRANT EXECUTE ON FUNCTION duckpipe.as_of(bigint, timestamptz) TO PUBLIC;
GRANT EXECUTE ON FUNCTION duckpipe.snapshot_at(pg_lsn) TO PUBLIC;
GRANT EXECUTE ON FUNCTION duckpipe.snapshot_at(timestamptz) TO PUBLIC;
