-- Whole-query execution in DuckDB: a SELECT whose relations are all lake relations runs as one
-- "DuckDB Query" custom scan. Each query is run on the lake relations and on their source tables
-- (the same text with _ducklake removed) and the rows compared exactly, in order (check) or as
-- multisets (check(q, false)); check also says which path ran. Fallbacks name their reason in a
-- NOTICE and still return the source's rows. Text columns are COLLATE "C": under another collation
-- ordering text falls back (tested by the integration suite extension_duckexec).
CREATE SCHEMA dx61;
SELECT duckpipe.create_group('dx61');
CREATE TABLE dx61.items (id int PRIMARY KEY, grp text COLLATE "C", qty int, big bigint, price numeric(12,2),
    ratio float8, d date, ts timestamp, tz timestamptz, ok bool, name varchar(20) COLLATE "C", u uuid, note jsonb);
INSERT INTO dx61.items
SELECT g, 'g' || (g % 3), CASE WHEN g % 5 = 0 THEN NULL ELSE g % 7 END, g * 1000000000::bigint,
       (g * 1.25)::numeric(12,2), g / 4.0, date '2024-01-01' + g * 3, timestamp '2024-01-01 10:00' + g * interval '7 hours',
       timestamptz '2024-03-29 12:00+00' + g * interval '5 hours', g % 2 = 0,
       CASE WHEN g % 4 = 0 THEN NULL ELSE 'n' || g END, md5(g::text)::uuid, jsonb_build_object('g', g)
FROM generate_series(1, 60) g;
CREATE TABLE dx61.groups (grp text COLLATE "C" PRIMARY KEY, label text COLLATE "C", weight numeric(6,3));
INSERT INTO dx61.groups VALUES ('g0', 'zero', 1.5), ('g1', 'one', 2.25), ('g9', 'nine', NULL);
SELECT duckpipe.add_table('dx61.items', sync_group => 'dx61');
SELECT duckpipe.add_table('dx61.groups', sync_group => 'dx61');
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('dx61.items', 'dx61.items_ducklake', 60)
    AND duckpipe_test.same('dx61.groups', 'dx61.groups_ducklake', 3)$$);

-- The rows of q in order, as text.
CREATE FUNCTION dx61.rows(q text) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE r record; out text[] := '{}';
BEGIN
    FOR r IN EXECUTE q LOOP out := out || r::text; END LOOP;
    RETURN out;
END $$;
CREATE FUNCTION dx61.check(q text, ordered boolean DEFAULT true) RETURNS text LANGUAGE plpgsql AS $$
DECLARE lake text[]; src text[]; plan text := ''; line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP plan := plan || line; END LOOP;
    lake := dx61.rows(q);
    src := dx61.rows(replace(q, '_ducklake', ''));
    IF NOT ordered THEN
        lake := ARRAY(SELECT x FROM unnest(lake) x ORDER BY x COLLATE "C");
        src := ARRAY(SELECT x FROM unnest(src) x ORDER BY x COLLATE "C");
    END IF;
    RETURN CASE WHEN plan LIKE '%DuckDB Query%' THEN 'duckdb' ELSE 'row path' END || ': ' ||
           CASE WHEN lake IS NOT DISTINCT FROM src THEN 'same ' || cardinality(src) || ' rows'
                ELSE 'DIFFERENT lake ' || lake::text || ' source ' || src::text END;
END $$;

-- Aggregates, GROUP BY / HAVING, numeric scale, integer sums.
SELECT dx61.check('SELECT grp, count(*), count(qty), sum(qty), sum(big), sum(price), min(price), max(d), max(tz), sum(ratio) FROM dx61.items_ducklake GROUP BY grp ORDER BY grp');
SELECT dx61.check('SELECT grp, count(*) FROM dx61.items_ducklake GROUP BY grp HAVING sum(price) > 700 ORDER BY 1');
SELECT dx61.check('SELECT id, price * 2, price * qty, price + 1.5, price * 100, qty::numeric, price - 0.125, big + 0.5 FROM dx61.items_ducklake ORDER BY id');
SELECT dx61.check('SELECT sum(price * qty), sum(qty * 1.10), count(DISTINCT grp), bool_and(ok), bool_or(ok), string_agg(name, '','' ORDER BY id) FROM dx61.items_ducklake');
SELECT dx61.check('SELECT sum(ratio) FILTER (WHERE ok), count(*) FILTER (WHERE qty IS NULL) FROM dx61.items_ducklake');
SELECT dx61.check('SELECT grp, qty, count(*), grouping(grp, qty) FROM dx61.items_ducklake GROUP BY ROLLUP (grp, qty)', false);
-- ORDER BY / LIMIT with NULLs (PostgreSQL's defaults: NULLS LAST ascending, FIRST descending).
SELECT dx61.check('SELECT qty, count(*) FROM dx61.items_ducklake GROUP BY qty ORDER BY qty');
SELECT dx61.check('SELECT qty, count(*) FROM dx61.items_ducklake GROUP BY qty ORDER BY qty DESC');
SELECT dx61.check('SELECT id, name FROM dx61.items_ducklake ORDER BY name DESC, id LIMIT 12');
SELECT dx61.check('SELECT id, qty FROM dx61.items_ducklake ORDER BY qty NULLS FIRST, id LIMIT 10 OFFSET 3');
SELECT dx61.check('SELECT id, qty FROM dx61.items_ducklake ORDER BY qty DESC NULLS LAST, id LIMIT 10');
-- Dates and timestamps: date - date is an integer, date + integer a date, + interval a timestamp.
SELECT dx61.check('SELECT id, d - date ''2024-01-01'', d + 7, d - 1, d + interval ''1 month'', ts + interval ''1 day 2 hours'', extract(year from d), extract(dow from d), date_part(''month'', ts), date_trunc(''month'', ts) FROM dx61.items_ducklake ORDER BY id');
SELECT dx61.check('SELECT count(*) FROM dx61.items_ducklake WHERE d BETWEEN date ''2024-02-01'' AND date ''2024-03-01'' AND ts < timestamp ''2024-01-15''');
-- timestamptz in the session's TimeZone (a DST change falls inside the data).
SET TimeZone = 'Europe/Berlin';
SELECT dx61.check('SELECT id, tz, date_trunc(''day'', tz), tz::date, extract(hour from tz), tz + interval ''1 day'' FROM dx61.items_ducklake ORDER BY id');
SELECT dx61.check('SELECT tz::date, count(*) FROM dx61.items_ducklake WHERE tz >= date ''2024-03-31'' GROUP BY 1 ORDER BY 1');
SET TimeZone = 'America/New_York';
SELECT dx61.check('SELECT date_trunc(''day'', tz), count(*) FROM dx61.items_ducklake GROUP BY 1 ORDER BY 1');
SELECT id, tz FROM dx61.items_ducklake ORDER BY id LIMIT 3;
RESET TimeZone;
-- Joins, subqueries, CTEs, DISTINCT, set operations, window functions.
SELECT dx61.check('SELECT i.id, g.label, g.weight * i.qty FROM dx61.items_ducklake i JOIN dx61.groups_ducklake g USING (grp) WHERE i.id < 20 ORDER BY i.id');
SELECT dx61.check('SELECT g.grp, count(i.id) FROM dx61.groups_ducklake g LEFT JOIN dx61.items_ducklake i ON i.grp = g.grp GROUP BY g.grp ORDER BY 1');
SELECT dx61.check('SELECT id FROM dx61.items_ducklake a WHERE EXISTS (SELECT 1 FROM dx61.items_ducklake b WHERE b.qty = a.id) AND grp IN (SELECT grp FROM dx61.groups_ducklake) ORDER BY 1');
SELECT dx61.check('WITH t AS (SELECT grp, sum(price) AS s FROM dx61.items_ducklake GROUP BY grp) SELECT grp, s, (SELECT max(ratio) FROM dx61.items_ducklake) FROM t WHERE s > 500 ORDER BY grp');
SELECT dx61.check('SELECT DISTINCT grp, ok FROM dx61.items_ducklake ORDER BY 1, 2');
SELECT dx61.check('SELECT DISTINCT qty FROM dx61.items_ducklake', false);
SELECT dx61.check('SELECT grp FROM dx61.items_ducklake UNION SELECT grp FROM dx61.groups_ducklake ORDER BY 1');
SELECT dx61.check('SELECT id, row_number() OVER (PARTITION BY grp ORDER BY id), rank() OVER (ORDER BY qty), dense_rank() OVER (ORDER BY qty DESC), sum(price) OVER (PARTITION BY grp ORDER BY id), lag(id) OVER (ORDER BY id), first_value(name) OVER w FROM dx61.items_ducklake WINDOW w AS (PARTITION BY ok ORDER BY id) ORDER BY id');
SELECT dx61.check('SELECT coalesce(qty, -1), CASE WHEN qty > 3 THEN ''hi'' ELSE ''lo'' END, nullif(qty, 1), upper(name), length(name), id::text || ''x'', ratio / 4 FROM dx61.items_ducklake ORDER BY id');
SELECT dx61.check('SELECT u, name FROM dx61.items_ducklake WHERE u > ''80000000-0000-0000-0000-000000000000'' ORDER BY u');
SELECT dx61.check('SELECT count(*) FROM dx61.items_ducklake WHERE name LIKE ''n1%'' OR id IN (2, 3, 5)');

-- A view over lake relations runs in DuckDB too.
CREATE VIEW dx61.heavy AS SELECT grp, price, qty FROM dx61.items_ducklake WHERE qty > 1;
EXPLAIN (COSTS OFF) SELECT grp, sum(price) FROM dx61.heavy GROUP BY grp ORDER BY grp;
SELECT dx61.rows('SELECT grp, sum(price) FROM dx61.heavy GROUP BY grp ORDER BY grp')
     = dx61.rows('SELECT grp, sum(price) FROM dx61.items WHERE qty > 1 GROUP BY grp ORDER BY grp') AS view_same;

-- avg of integers and numerics, and numeric /, with PostgreSQL's digits (duckpipe.numeric_div in
-- DuckDB), where the result is a whole column of the select list.
SELECT dx61.check('SELECT avg(qty), avg(price), avg(big), avg(DISTINCT qty), avg(price) FILTER (WHERE ok) FROM dx61.items_ducklake');
SELECT dx61.check('SELECT grp, avg(price), sum(price) / sum(qty), sum(price) / count(*), 100.00 * sum(price) / sum(big) FROM dx61.items_ducklake GROUP BY grp ORDER BY grp');
SELECT dx61.check('SELECT id, price / qty, price / 3, -price / 7, big / price, 1.0 * id / 3 FROM dx61.items_ducklake WHERE qty <> 0 ORDER BY id');
SELECT dx61.check('SELECT avg(price), avg(qty) FROM dx61.items_ducklake WHERE id < 0');
SELECT avg(qty), avg(price) FROM dx61.items_ducklake;
EXPLAIN (COSTS OFF) SELECT grp, avg(price) FROM dx61.items_ducklake GROUP BY grp;
-- A zero divisor is PostgreSQL's error on both paths.
SELECT id, price / (qty - qty) FROM dx61.items_ducklake;
SELECT id, price / (qty - qty) FROM dx61.items;

-- An avg only compared is PostgreSQL's quotient as an exact DECIMAL.
SELECT dx61.check('SELECT grp FROM dx61.items_ducklake GROUP BY grp HAVING avg(qty) > 3 ORDER BY grp');
-- GROUP BY DISTINCT: the grouping sets PostgreSQL keeps ((grp) once), written out for DuckDB.
SELECT dx61.check('SELECT grp, count(*) FROM dx61.items_ducklake GROUP BY DISTINCT ROLLUP (grp), grp', false);

-- Fallbacks: a NOTICE names the reason, and the rows are still the source's.
SELECT dx61.check('SELECT grp, avg(price) FROM dx61.items_ducklake GROUP BY grp ORDER BY avg(price), grp');
SELECT dx61.check('SELECT grp FROM dx61.items_ducklake GROUP BY grp HAVING avg(qty) IS NOT NULL ORDER BY grp');
SELECT dx61.check('SELECT id, price / qty + 1 FROM dx61.items_ducklake WHERE qty <> 0 ORDER BY id');
SELECT dx61.check('SELECT id, qty / 2 FROM dx61.items_ducklake ORDER BY id');
SELECT dx61.check('SELECT id, ratio / qty FROM dx61.items_ducklake WHERE qty <> 0 ORDER BY id');
SELECT dx61.check('SELECT id, note FROM dx61.items_ducklake ORDER BY id');
SELECT dx61.check('SELECT name FROM dx61.items_ducklake WHERE name LIKE ''n\_%'' ORDER BY id');
SELECT dx61.check('SELECT price::numeric(4,1) FROM dx61.items_ducklake WHERE id < 5 ORDER BY id');
SELECT dx61.check('SELECT ratio::numeric FROM dx61.items_ducklake ORDER BY id');
-- The NOTICE is for statements the client sends (inside a function it is a DEBUG1 message).
SELECT avg(price) * 2 FROM dx61.items_ducklake;
SELECT id, price / qty FROM dx61.items_ducklake WHERE qty <> 0 ORDER BY id LIMIT 2;
SELECT sum(qty / 2) FROM dx61.items_ducklake;
SELECT note FROM dx61.items_ducklake WHERE id = 7;
SELECT count(*) > 0 FROM dx61.items_ducklake WHERE random() < 2;
SELECT count(*) FROM dx61.items_ducklake i JOIN dx61.items g ON g.id = i.id; -- a heap table too: no notice
-- Prepared statements: parameter values become constants of a custom plan.
PREPARE dx61_p(int, text) AS SELECT count(*), sum(price) FROM dx61.items_ducklake WHERE qty = $1 AND grp = $2;
EXECUTE dx61_p(3, 'g0');
EXPLAIN (COSTS OFF) EXECUTE dx61_p(3, 'g0');
DEALLOCATE dx61_p;
-- EXPLAIN shows the scan and its SQL; EXPLAIN ANALYZE runs it.
EXPLAIN (COSTS OFF) SELECT grp, count(*) FROM dx61.items_ducklake WHERE qty > 2 GROUP BY grp ORDER BY grp;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT grp, count(*) FROM dx61.items_ducklake GROUP BY grp;
EXPLAIN (VERBOSE, COSTS OFF) SELECT grp AS g, count(*) FROM dx61.items_ducklake GROUP BY grp;
-- duckpipe.duckdb_execution = off (and the pushdown scan off): the access method's row path.
SET duckpipe.duckdb_execution = off;
SET duckpipe.lake_scan_pushdown = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM dx61.items_ducklake;
SELECT count(*), sum(price) FROM dx61.items_ducklake;
RESET duckpipe.duckdb_execution;
RESET duckpipe.lake_scan_pushdown;
-- Cursors: FETCH forward, backward (the plan is materialised for a SCROLL cursor).
BEGIN;
DECLARE dx61_c SCROLL CURSOR FOR SELECT id, price FROM dx61.items_ducklake ORDER BY id;
FETCH 3 FROM dx61_c;
FETCH BACKWARD 2 FROM dx61_c;
FETCH ABSOLUTE 60 FROM dx61_c;
FETCH NEXT FROM dx61_c;
COMMIT;
-- Permissions stay PostgreSQL's, row-level security is refused.
CREATE ROLE dx61_reader;
GRANT USAGE ON SCHEMA dx61 TO dx61_reader;
SET ROLE dx61_reader;
SELECT count(*) FROM dx61.items_ducklake;
RESET ROLE;
-- Through a view, the view's owner's rights read the table.
GRANT SELECT ON dx61.heavy TO dx61_reader;
SET ROLE dx61_reader;
SELECT count(*) FROM dx61.heavy;
RESET ROLE;
GRANT SELECT ON dx61.items_ducklake TO dx61_reader;
SET ROLE dx61_reader;
SELECT count(*) FROM dx61.items_ducklake;
SELECT count(*) FROM dx61.items_ducklake i JOIN dx61.groups_ducklake g USING (grp);
RESET ROLE;
ALTER TABLE dx61.items_ducklake ENABLE ROW LEVEL SECURITY;
ALTER TABLE dx61.items_ducklake FORCE ROW LEVEL SECURITY;

DROP VIEW dx61.heavy;
SELECT duckpipe.remove_table(t, drop_target => true) FROM unnest(ARRAY['dx61.items', 'dx61.groups']) t;
SELECT duckpipe.drop_group('dx61');
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: dx61'$$);
DROP SCHEMA dx61 CASCADE;
DROP OWNED BY dx61_reader;
DROP ROLE dx61_reader;
