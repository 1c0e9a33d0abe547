-- background_flush in the extension: a table's flush thread inside the group's background worker
-- runs at SCHED_IDLE (policy 5 in /proc/<pid>/task/<tid>/stat) while its setting resolves to 1, and
-- at SCHED_OTHER (0) on a new thread once it is turned off; the lake stays equal to the source.
CREATE SCHEMA scen_bg;
SELECT duckpipe.create_group('scen_bg');
-- The scheduling policy of the table's flush thread in the group's worker (NULL: no such thread).
CREATE FUNCTION scen_bg.flush_policy(tbl text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    worker int;
    thread text;
    stat text;
BEGIN
    SELECT pid INTO worker FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: scen_bg';
    FOR thread IN SELECT pg_ls_dir('/proc/' || worker || '/task') LOOP
        IF rtrim(pg_read_file('/proc/' || worker || '/task/' || thread || '/comm'), E'\n') =
           'dp-flush-' || (SELECT id FROM duckpipe.table_mappings
                           WHERE source_schema || '.' || source_table = tbl) THEN
            stat := pg_read_file('/proc/' || worker || '/task/' || thread || '/stat');
            -- Fields after the name: state is the first, policy the 39th (field 41 of proc(5)).
            RETURN (regexp_split_to_array(substr(stat, strpos(stat, ') ') + 2), ' '))[39]::int;
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

CREATE TABLE scen_bg.t (id int PRIMARY KEY, v text);
INSERT INTO scen_bg.t SELECT g, 'v' || g FROM generate_series(1, 100) g;
SELECT duckpipe.set_group_config('scen_bg', 'background_flush', '1');
SELECT duckpipe.add_table('scen_bg.t', sync_group => 'scen_bg');
CALL duckpipe_test.wait_for($$SELECT state = 'STREAMING' FROM duckpipe.status() WHERE source_table = 'scen_bg.t'$$);
INSERT INTO scen_bg.t SELECT g, 'v' || g FROM generate_series(101, 200) g;
CALL duckpipe_test.wait_for($$SELECT count(*) = 200 FROM scen_bg.t_ducklake$$);
CALL duckpipe_test.wait_for($$SELECT scen_bg.flush_policy('scen_bg.t') = 5$$);
SELECT scen_bg.flush_policy('scen_bg.t') AS background_policy;

-- Off for the table: the worker goes on on a new thread at normal priority, losing nothing.
SELECT duckpipe.set_table_config('scen_bg.t', 'background_flush', '0');
CALL duckpipe_test.wait_for($$SELECT scen_bg.flush_policy('scen_bg.t') = 0$$);
SELECT scen_bg.flush_policy('scen_bg.t') AS normal_policy;
UPDATE scen_bg.t SET v = 'updated' WHERE id % 3 = 0;
DELETE FROM scen_bg.t WHERE id % 7 = 0;
INSERT INTO scen_bg.t SELECT g, 'v' || g FROM generate_series(201, 300) g;
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.diff('scen_bg.t', 'scen_bg.t_ducklake') = 0$$);
SELECT count(*) AS lake_rows FROM scen_bg.t_ducklake;
SELECT duckpipe.remove_table('scen_bg.t', true);
SELECT duckpipe.drop_group('scen_bg');
DROP SCHEMA scen_bg CASCADE;
