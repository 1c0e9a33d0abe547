-- add_table creates the target in the lake (and its lake schema) before it returns, not only the
-- relation; a rolled-back add_table (ROLLBACK, a rolled-back savepoint, an EXCEPTION block) leaves
-- neither behind; a source table created in the same transaction is synced once it commits.
CREATE SCHEMA lake_create;
-- The live lake tables of that name (0 or 1), and a live lake table's columns in order (plpgsql:
-- the lake's catalog may not exist yet).
CREATE FUNCTION lake_create.live(schema_name text, table_name text) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT count(*) FROM ducklake.ducklake_table t JOIN ducklake.ducklake_schema s ON s.schema_id = t.schema_id
            WHERE s.schema_name = $1 AND t.table_name = $2 AND t.end_snapshot IS NULL AND s.end_snapshot IS NULL);
END
$$;
CREATE FUNCTION lake_create.columns(schema_name text, table_name text) RETURNS TABLE(name text, type text)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    SELECT c.column_name::text, c.column_type::text FROM ducklake.ducklake_column c
    JOIN ducklake.ducklake_table t ON t.table_id = c.table_id AND t.end_snapshot IS NULL
    JOIN ducklake.ducklake_schema s ON s.schema_id = t.schema_id AND s.end_snapshot IS NULL
    WHERE s.schema_name = $1 AND t.table_name = $2 AND c.end_snapshot IS NULL AND c.parent_column IS NULL
    ORDER BY c.column_order;
END
$$;
SELECT duckpipe.create_group('lake_create');
SELECT duckpipe.create_group('lake_create_off');
SELECT duckpipe.disable_group('lake_create_off');
CREATE TABLE lake_create.a (id int PRIMARY KEY, v text);
INSERT INTO lake_create.a VALUES (1, 'one');

-- Inside the transaction, after add_table: the lake table is live (in a lake schema of its own)
-- and the relation reads no rows. ROLLBACK removes both.
BEGIN;
SELECT duckpipe.add_table('lake_create.a', 'lake_create_rb.a_lake', sync_group => 'lake_create_off');
SELECT lake_create.live('lake_create_rb', 'a_lake') AS live_in_transaction;
SELECT count(*) AS relation_rows FROM lake_create_rb.a_lake;
ROLLBACK;
SELECT lake_create.live('lake_create_rb', 'a_lake') AS live_after_rollback,
       to_regclass('lake_create_rb.a_lake') IS NULL AS no_relation;
-- It was created and then dropped (two snapshots), not never made.
SELECT count(*) AS dropped_versions FROM ducklake.ducklake_table
WHERE table_name = 'a_lake' AND end_snapshot IS NOT NULL;

-- A rolled-back savepoint, also one whose inner savepoint was released first.
BEGIN;
SAVEPOINT s1;
SELECT duckpipe.add_table('lake_create.a', 'a_sp', sync_group => 'lake_create_off');
SELECT lake_create.live('lake_create', 'a_sp') AS live_in_savepoint;
ROLLBACK TO SAVEPOINT s1;
SELECT lake_create.live('lake_create', 'a_sp') AS live_after_rollback_to,
       to_regclass('lake_create.a_sp') IS NULL AS no_relation;
SAVEPOINT s2;
SAVEPOINT s3;
SELECT duckpipe.add_table('lake_create.a', 'a_sp', sync_group => 'lake_create_off');
RELEASE SAVEPOINT s3;
SELECT lake_create.live('lake_create', 'a_sp') AS live_after_release;
ROLLBACK TO SAVEPOINT s2;
SELECT lake_create.live('lake_create', 'a_sp') AS live_after_outer_rollback_to;
COMMIT;
SELECT lake_create.live('lake_create', 'a_sp') AS live_after_commit,
       (SELECT count(*) FROM duckpipe.table_mappings WHERE target_table = 'a_sp') AS mappings;

-- A plpgsql EXCEPTION block around it.
DO $$
BEGIN
    PERFORM duckpipe.add_table('lake_create.a', 'a_exc', sync_group => 'lake_create_off');
    IF lake_create.live('lake_create', 'a_exc') <> 1 THEN
        RAISE EXCEPTION 'no lake table inside the block';
    END IF;
    RAISE EXCEPTION 'fail after add_table';
EXCEPTION WHEN raise_exception THEN
    RAISE NOTICE 'caught: %', SQLERRM;
END
$$;
SELECT lake_create.live('lake_create', 'a_exc') AS live_after_exception,
       to_regclass('lake_create.a_exc') IS NULL AS no_relation;

-- An add_table that fails after its lake table was made (a second target of the same source, in
-- its transaction) leaves none either.
BEGIN;
SELECT duckpipe.add_table('lake_create.a', 'a_twice', sync_group => 'lake_create_off');
SELECT duckpipe.add_table('lake_create.a', 'a_twice2', sync_group => 'lake_create_off');
ROLLBACK;
SELECT lake_create.live('lake_create', 'a_twice') AS live_after_failed_transaction;

-- A disabled group's add_table creates the lake table with the columns the copy would create
-- (types mapped to the lake's; generated columns are not replicated); append mode adds the
-- changelog columns. Committed, it stays.
CREATE DOMAIN lake_create.price AS numeric(10,2);
CREATE TABLE lake_create.typed (
    id bigint PRIMARY KEY,
    small smallint,
    amount lake_create.price,
    ratio double precision,
    name varchar(20),
    tags text[],
    at timestamptz,
    day date,
    doc jsonb,
    raw bytea,
    u uuid,
    twice bigint GENERATED ALWAYS AS (id * 2) STORED,
    dropped int
);
ALTER TABLE lake_create.typed DROP COLUMN dropped;
SELECT duckpipe.add_table('lake_create.typed', sync_group => 'lake_create_off');
SELECT * FROM lake_create.columns('lake_create', 'typed_ducklake');
SELECT count(*) AS relation_rows FROM lake_create.typed_ducklake;
CREATE TABLE lake_create.log (v text);
SELECT duckpipe.add_table('lake_create.log', sync_group => 'lake_create_off', sync_mode => 'append');
SELECT * FROM lake_create.columns('lake_create', 'log_ducklake');

-- A source table created in the same transaction: described in it (a separate session could not
-- see it), and synced once the transaction commits.
BEGIN;
CREATE TABLE lake_create.fresh (id int PRIMARY KEY, v text);
INSERT INTO lake_create.fresh VALUES (1, 'one'), (2, 'two'), (3, 'three');
SELECT duckpipe.add_table('lake_create.fresh', sync_group => 'lake_create');
SELECT * FROM lake_create.columns('lake_create', 'fresh_ducklake');
COMMIT;
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('lake_create.fresh', 'lake_create.fresh_ducklake', 3)$$);
INSERT INTO lake_create.fresh VALUES (4, 'four');
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('lake_create.fresh', 'lake_create.fresh_ducklake', 4)$$);
-- The copy replaced the empty table: one live lake table of that name.
SELECT lake_create.live('lake_create', 'fresh_ducklake') AS live;

-- Clean up.
SELECT duckpipe.remove_table('lake_create.fresh', drop_target => true);
SELECT duckpipe.remove_table('lake_create.typed', drop_target => true);
SELECT duckpipe.remove_table('lake_create.log', drop_target => true);
SELECT duckpipe.drop_group('lake_create');
SELECT duckpipe.drop_group('lake_create_off');
DROP SCHEMA lake_create CASCADE;
