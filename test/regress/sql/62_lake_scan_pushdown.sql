-- The DuckPipe Lake Scan: a query that joins a lake relation with heap tables reads only the
-- columns it needs, pushes its filters into DuckDB, and skips data files whose statistics rule the
-- filter out. Every result is compared with the same query on the source table.
CREATE SCHEMA pushdown;
SELECT duckpipe.create_group('pushdown');
CREATE TABLE pushdown.items (
    id bigint PRIMARY KEY, i2 smallint, i4 int, f4 real, f8 double precision, amount numeric(12,2),
    d date, ts timestamp, tz timestamptz, flag boolean, name text, code varchar(10), note text);
CREATE FUNCTION pushdown.fill(first int, last int) RETURNS void LANGUAGE sql AS $$
    INSERT INTO pushdown.items
    SELECT g, (g % 100)::smallint, CASE WHEN g % 11 = 0 THEN NULL ELSE g % 50 END, g / 4.0, CASE WHEN g % 97 = 0 THEN 'NaN' ELSE g * 1.5 END,
           g * 2.25, DATE '2024-01-01' + g, TIMESTAMP '2024-01-01 00:00' + g * INTERVAL '1 hour',
           TIMESTAMPTZ '2024-01-01 00:00+00' + g * INTERVAL '90 minutes', CASE WHEN g % 7 = 0 THEN NULL ELSE g % 2 = 0 END,
           CASE WHEN g % 13 = 0 THEN NULL ELSE 'name ' || (g % 17) END, 'c' || (g % 5), chr(97 + g % 26) || g
    FROM generate_series(first, last) g $$;
-- Three data files, one per flush: ids 1-300, 301-600, 601-900.
SELECT pushdown.fill(1, 300);
SELECT duckpipe.add_table('pushdown.items', sync_group => 'pushdown');
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('pushdown.items', 'pushdown.items_ducklake', 300)$$);
SELECT pushdown.fill(301, 600);
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('pushdown.items', 'pushdown.items_ducklake', 600)$$);
SELECT pushdown.fill(601, 900);
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('pushdown.items', 'pushdown.items_ducklake', 900)$$);
-- Heap tables to join with (a query of lake tables only may run whole in DuckDB instead).
CREATE TABLE pushdown.one (k int);
INSERT INTO pushdown.one VALUES (1);
CREATE TABLE pushdown.groups (id int, label text);
INSERT INTO pushdown.groups SELECT g, 'group ' || g FROM generate_series(0, 60) g;
ANALYZE pushdown.one, pushdown.groups;

-- EXPLAIN without the snapshot id (it depends on the flushes) or memory figures.
CREATE FUNCTION pushdown.plan(query text, analyzed boolean DEFAULT false) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF' || CASE WHEN analyzed THEN ', ANALYZE, TIMING OFF, SUMMARY OFF' ELSE '' END
                        || ') ' || query LOOP
        CONTINUE WHEN line ~ 'Memory';
        RETURN NEXT regexp_replace(line, 'Lake Snapshot: \d+', 'Lake Snapshot: N');
    END LOOP;
END $$;
-- Rows the condition selects from the lake relation joined with pushdown.one, and how many of them
-- differ from the source's (both ways, as multisets of whole rows).
CREATE FUNCTION pushdown.check(cond text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE n bigint; diff bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM pushdown.one o, pushdown.items_ducklake t WHERE %s', cond) INTO n;
    EXECUTE format('SELECT (SELECT count(*) FROM (SELECT t::text FROM pushdown.one o, pushdown.items_ducklake t WHERE %1$s
                            EXCEPT ALL SELECT t::text FROM pushdown.one o, pushdown.items t WHERE %1$s) x)
                         + (SELECT count(*) FROM (SELECT t::text FROM pushdown.one o, pushdown.items t WHERE %1$s
                            EXCEPT ALL SELECT t::text FROM pushdown.one o, pushdown.items_ducklake t WHERE %1$s) x)', cond)
        INTO diff;
    RETURN n || ' rows, ' || diff || ' differ';
END $$;

-- The DuckDB filter the condition becomes (EXPLAIN's Lake Filter).
CREATE FUNCTION pushdown.pushed(cond text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
    FOR line IN EXECUTE format('EXPLAIN (COSTS OFF) SELECT t.id FROM pushdown.one o, pushdown.items_ducklake t WHERE %s', cond) LOOP
        IF line ~ 'Lake Filter:' THEN
            RETURN regexp_replace(line, '^.*Lake Filter: ', '');
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

-- A join with a heap table: only the needed columns are read, the filter runs in DuckDB.
SELECT * FROM pushdown.plan($$SELECT g.label, t.amount FROM pushdown.groups g JOIN pushdown.items_ducklake t ON t.i4 = g.id
    WHERE t.d >= DATE '2024-03-01' AND t.name = 'name 3'$$);
SELECT g.label, t.id, t.amount FROM pushdown.groups g JOIN pushdown.items_ducklake t ON t.i4 = g.id
WHERE t.d >= DATE '2024-03-01' AND t.name = 'name 3' ORDER BY t.id LIMIT 5;
SELECT (SELECT count(*) FROM pushdown.groups g JOIN pushdown.items_ducklake t ON t.i4 = g.id WHERE t.d >= DATE '2024-03-01' AND t.name = 'name 3')
     = (SELECT count(*) FROM pushdown.groups g JOIN pushdown.items t ON t.i4 = g.id WHERE t.d >= DATE '2024-03-01' AND t.name = 'name 3') AS same_count;

-- Every supported kind of filter, and NULLs.
SELECT c, pushdown.check(c), pushdown.pushed(c) FROM (VALUES
    ('t.id = 42'), ('t.id > 880'), ('t.i2 <= 3'), ('t.i4 < 5'), ('t.i4 <> 7'), ('t.i4 IS NULL'), ('t.i4 IS NOT NULL'),
    ('t.i2 = 5::bigint'), ('7 > t.i4'), ('t.i2 < 100000'), ('t.i4 < 3000000000'), ('t.i4 > -3000000000'),
    ('t.d < ''infinity'''), ('t.ts > ''-infinity'''), ('t.d > ''0044-03-15 BC'''), ('t.f4 >= 200.25'), ('t.f8 = ''NaN'''), ('t.f8 > 1300'), ('t.f8 < 3'),
    ('t.amount = 22.50'), ('t.amount > 2000.005'), ('t.amount BETWEEN 100 AND 110'),
    ('t.d = DATE ''2024-02-01'''), ('t.d < ''2024-01-05'''), ('t.ts >= TIMESTAMP ''2024-02-06 11:00'''),
    ('t.tz < TIMESTAMPTZ ''2024-01-02 00:00+00'''), ('t.tz > ''2024-02-15 12:00+05'''),
    ('t.flag'), ('NOT t.flag'), ('t.flag = false'), ('t.flag IS NULL'),
    ('t.name = ''name 4'''), ('t.name IS NULL'), ('t.code = ''c2'''), ('t.code = ANY (ARRAY[''c1'', ''c3''])'),
    ('t.id = ANY (''{1,2,900,NULL}''::bigint[])'), ('t.id = ANY (''{}''::bigint[])'),
    ('t.i4 = 3 OR t.name = ''name 5'''), ('NOT (t.i4 < 40 OR t.i4 IS NULL)'), ('t.i4 = NULL::int'),
    ('t.note > ''x'' COLLATE "C"'), ('t.note <= ''b5'' COLLATE "C"'), ('t.id % 3 = 0 AND t.i4 > 45')) v(c);

-- Files whose statistics rule the filter out are not read.
SELECT * FROM pushdown.plan($$SELECT t.id FROM pushdown.one o, pushdown.items_ducklake t WHERE t.id > 650$$);
SELECT pushdown.check('t.id > 650');
SELECT * FROM pushdown.plan($$SELECT t.id FROM pushdown.one o, pushdown.items_ducklake t WHERE t.d = '2024-01-20' OR t.id = 899$$);
SELECT * FROM pushdown.plan($$SELECT t.id FROM pushdown.one o, pushdown.items_ducklake t WHERE t.id IN (5, 905)$$);
SELECT * FROM pushdown.plan($$SELECT t.id FROM pushdown.one o, pushdown.items_ducklake t WHERE t.id > 1000$$);
SELECT pushdown.check('t.id > 1000');

-- Text: equality is pushed under any deterministic collation, ordering only under C.
SELECT * FROM pushdown.plan($$SELECT t.id FROM pushdown.one o, pushdown.items_ducklake t WHERE t.name = 'name 1'$$);
SELECT * FROM pushdown.plan($$SELECT t.id FROM pushdown.one o, pushdown.items_ducklake t WHERE t.name > 'name 1' COLLATE "und-x-icu"$$);
SELECT pushdown.check('t.name > ''name 1'' COLLATE "und-x-icu"');
SELECT * FROM pushdown.plan($$SELECT t.id FROM pushdown.one o, pushdown.items_ducklake t WHERE t.name > 'name 1' COLLATE "C"$$);
SELECT pushdown.check('t.name > ''name 1'' COLLATE "C"');

-- Parameters: evaluated when the scan starts, files pruned with their values.
SET plan_cache_mode = force_generic_plan;
PREPARE after_id(bigint) AS SELECT count(*), sum(t.amount) FROM pushdown.one o, pushdown.items_ducklake t WHERE t.id > $1;
PREPARE after_id_source(bigint) AS SELECT count(*), sum(t.amount) FROM pushdown.one o, pushdown.items t WHERE t.id > $1;
EXECUTE after_id(850);
EXECUTE after_id_source(850);
EXECUTE after_id(250);
EXECUTE after_id_source(250);
SELECT * FROM pushdown.plan('EXECUTE after_id(850)');
RESET plan_cache_mode;
DEALLOCATE after_id;
DEALLOCATE after_id_source;

-- Rescans: the inner side of a nested loop, and a run-time parameter per outer row.
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SELECT (SELECT count(*) || '/' || sum(t.amount) FROM pushdown.groups g JOIN pushdown.items_ducklake t ON t.i4 = g.id WHERE t.id < 200)
     = (SELECT count(*) || '/' || sum(t.amount) FROM pushdown.groups g JOIN pushdown.items t ON t.i4 = g.id WHERE t.id < 200) AS same_join;
SET enable_material = off;
SELECT * FROM pushdown.plan($$SELECT g.label, t.id FROM pushdown.groups g JOIN pushdown.items_ducklake t ON t.i4 = g.id
    WHERE t.id < 200 AND g.id < 3$$, analyzed => true);
SELECT g.label, t.id FROM pushdown.groups g JOIN pushdown.items_ducklake t ON t.i4 = g.id WHERE t.id < 200 AND g.id < 3 ORDER BY t.id;
SELECT g.label, t.id FROM pushdown.groups g JOIN pushdown.items t ON t.i4 = g.id WHERE t.id < 200 AND g.id < 3 ORDER BY t.id;
RESET enable_material;
SELECT * FROM pushdown.plan($$SELECT g.id, x.n, x.total FROM pushdown.groups g,
    LATERAL (SELECT count(*) AS n, sum(t.amount) AS total FROM pushdown.items_ducklake t WHERE t.i4 = g.id AND t.id > 800) x
    WHERE g.id BETWEEN 10 AND 14 ORDER BY g.id$$, analyzed => true);
SELECT g.id, x.n, x.total FROM pushdown.groups g,
    LATERAL (SELECT count(*) AS n, sum(t.amount) AS total FROM pushdown.items_ducklake t WHERE t.i4 = g.id AND t.id > 800) x
WHERE g.id BETWEEN 10 AND 14 ORDER BY g.id;
SELECT g.id, x.n, x.total FROM pushdown.groups g,
    LATERAL (SELECT count(*) AS n, sum(t.amount) AS total FROM pushdown.items t WHERE t.i4 = g.id AND t.id > 800) x
WHERE g.id BETWEEN 10 AND 14 ORDER BY g.id;
RESET enable_hashjoin;
RESET enable_mergejoin;

-- Deleted and updated rows are not seen (delete files), with the filter pushed.
DELETE FROM pushdown.items WHERE id BETWEEN 640 AND 660;
UPDATE pushdown.items SET amount = -1 WHERE id BETWEEN 700 AND 705;
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('pushdown.items', 'pushdown.items_ducklake', 800)$$);
SELECT pushdown.check('t.id BETWEEN 630 AND 710'), pushdown.check('t.amount < 0');

-- Off: the access method's scan, the same rows.
SET duckpipe.lake_scan_pushdown = off;
SELECT * FROM pushdown.plan($$SELECT t.id FROM pushdown.one o, pushdown.items_ducklake t WHERE t.id > 650$$);
SELECT pushdown.check('t.id > 650'), pushdown.check('t.name = ''name 4'' OR t.i4 IS NULL');
RESET duckpipe.lake_scan_pushdown;

SELECT duckpipe.remove_table('pushdown.items', drop_target => true);
SELECT duckpipe.drop_group('pushdown');
DROP SCHEMA pushdown CASCADE;
