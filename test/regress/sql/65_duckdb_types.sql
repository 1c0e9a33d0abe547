-- char(n) (bpchar) and the functions whole-query execution runs rewritten (substring/substr, round)
-- or keeps on the row path (stddev/variance). First PostgreSQL's own semantics, as the server
-- answers them; then each query on the lake relations (DuckDB, or the row path with a NOTICE) and
-- on their source tables, rows compared exactly (check says which path ran); then the same queries
-- with DuckDB execution off (the lake's row path).
CREATE SCHEMA dx65;
SELECT duckpipe.create_group('dx65');

-- PostgreSQL's char(n): equality and ordering ignore trailing spaces, the value is padded to n,
-- length() leaves the padding out, casts to text and || drop it, LIKE sees it.
SELECT 'a'::char(3) = 'a  '::char(3) AS eq_padded, 'a'::char(3) = 'a'::bpchar AS eq_bpchar,
       'a '::bpchar = 'a'::bpchar AS eq_unbounded, 'a'::char(3) < E'a\t'::char(3) AS tab_after,
       '[' || 'a'::char(3) || ']' AS concat, 'a'::char(3)::text || '|' AS to_text,
       'a'::char(3)::varchar || '|' AS to_varchar, length('a'::char(3)) AS length,
       octet_length('a'::char(3)) AS octets, 'AIR'::char(5) LIKE '%R' AS like_end,
       'AIR'::char(5) LIKE 'AIR  ' AS like_padded, 'a '::bpchar::text || '|' AS unbounded_text,
       'a'::char(3) = 'a '::text AS eq_text;
SELECT DISTINCT x FROM (VALUES ('a'::bpchar), ('a '::bpchar), ('a  '::bpchar)) v(x);
SELECT min(x)::text || '|' AS min_text, max(x) AS max_padded FROM (VALUES ('b'::char(4)), ('a'::char(4))) v(x);
-- round(numeric, n) has scale n, half away from zero; round(float8) is rint, half to even;
-- substr's start below 1 is before the string.
SELECT round(2.5::numeric), round(-2.5::numeric), round(1.25::numeric(4,2), 1), round(1.5::numeric(3,1), 3),
       round(2.5::float8), round(3.5::float8), round(-0.5::float8), round(-2.5::float8),
       substr('hello', 0, 3), substr('hello', -2, 5), substr('hello', 2), substr('hello', -3);

CREATE TABLE dx65.t (id int PRIMARY KEY, c char(5) COLLATE "C", code char(2) COLLATE "C", b bpchar COLLATE "C",
    v varchar(10) COLLATE "C", s text COLLATE "C", price numeric(12,3), qty int, f float8);
INSERT INTO dx65.t VALUES
    (1, 'a', 'x', 'a', 'a', 'hello', 1.250, 3, 0.5),
    (2, 'a  ', 'x', 'a ', 'a ', 'héllo wörld', -1.250, -3, 1.5),
    (3, '', 'y', '', '', '', 2.005, 0, 2.5),
    (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (5, 'ab', 'y', 'ab  ', 'ab', 'ab', 999.995, 7, -0.5),
    (6, 'a b', 'z', 'a b', 'a b', 'a', -0.004, 1, -2.5),
    (7, 'ñandú', 'z', 'ñandú', 'ñandú', 'ñandú', 12345.678, 12, 1e300),
    (8, E'a\t', 'x', E'a\t', E'a\t', E'a\t', 0.001, 5, 'Infinity'),
    (9, ' a', 'y', ' a', ' a', ' a', 5.555, 2, 'NaN'),
    (10, 'abcde', 'z', 'abcde', 'abcde', 'abcde', 0.000, 4, -0.3);
CREATE TABLE dx65.codes (code char(3) COLLATE "C" PRIMARY KEY, label text COLLATE "C");
INSERT INTO dx65.codes VALUES ('x', 'ex'), ('y ', 'why'), ('w', 'double-u');
SELECT duckpipe.add_table('dx65.t', sync_group => 'dx65');
SELECT duckpipe.add_table('dx65.codes', sync_group => 'dx65');
CALL duckpipe_test.wait_for($$SELECT duckpipe_test.same('dx65.t', 'dx65.t_ducklake', 10)
    AND duckpipe_test.same('dx65.codes', 'dx65.codes_ducklake', 3)$$);

-- The rows of q in order, as text.
CREATE FUNCTION dx65.rows(q text) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE r record; out text[] := '{}';
BEGIN
    FOR r IN EXECUTE q LOOP out := out || r::text; END LOOP;
    RETURN out;
END $$;
CREATE FUNCTION dx65.check(q text, ordered boolean DEFAULT true) RETURNS text LANGUAGE plpgsql AS $$
DECLARE lake text[]; src text[]; plan text := ''; line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP plan := plan || line; END LOOP;
    lake := dx65.rows(q);
    src := dx65.rows(replace(q, '_ducklake', ''));
    IF NOT ordered THEN
        lake := ARRAY(SELECT x FROM unnest(lake) x ORDER BY x COLLATE "C");
        src := ARRAY(SELECT x FROM unnest(src) x ORDER BY x COLLATE "C");
    END IF;
    RETURN CASE WHEN plan LIKE '%DuckDB Query%' THEN 'duckdb' ELSE 'row path' END || ': ' ||
           CASE WHEN lake IS NOT DISTINCT FROM src THEN 'same ' || cardinality(src) || ' rows'
                ELSE 'DIFFERENT lake ' || lake::text || ' source ' || src::text END;
END $$;
CREATE TABLE dx65.queries (n int PRIMARY KEY, q text, ordered bool DEFAULT true);
INSERT INTO dx65.queries (n, q) VALUES
    -- char(n) out padded, compared and sorted without the padding (a tab sorts after the end);
    -- upper/lower under the C ctype change ASCII letters only.
    (1, 'SELECT id, c, code, c || ''|'', c::text || ''|'', c::varchar, length(c), char_length(c), upper(c), lower(upper(s)) FROM dx65.t_ducklake ORDER BY id'),
    (2, 'SELECT id, c FROM dx65.t_ducklake ORDER BY c, id'),
    (3, 'SELECT id FROM dx65.t_ducklake WHERE c = ''a'' OR c = ''ab   '' OR c IN (''a b'', ''abcde  '') ORDER BY id'),
    (4, 'SELECT id FROM dx65.t_ducklake WHERE c < ''a b'' AND c > '''' ORDER BY id'),
    (5, 'SELECT c, count(*), min(id) FROM dx65.t_ducklake GROUP BY c ORDER BY c'),
    (6, 'SELECT DISTINCT c FROM dx65.t_ducklake ORDER BY c'),
    (7, 'SELECT min(c), max(c), count(DISTINCT c), string_agg(c, '','' ORDER BY c, id), min(code), max(c || ''|'') FROM dx65.t_ducklake'),
    (8, 'SELECT code, count(*), max(c) FROM dx65.t_ducklake GROUP BY code ORDER BY code'),
    (9, 'SELECT id, c LIKE ''%a'', c LIKE ''a%'', c LIKE ''a    '', c NOT LIKE ''%b'', c ILIKE ''A%'', code LIKE ''_ '' FROM dx65.t_ducklake ORDER BY id'),
    (10, 'SELECT t.id, k.code, k.label FROM dx65.t_ducklake t JOIN dx65.codes_ducklake k ON k.code = t.code ORDER BY t.id'),
    (11, 'SELECT k.code, count(t.id) FROM dx65.codes_ducklake k LEFT JOIN dx65.t_ducklake t USING (code) GROUP BY k.code ORDER BY k.code'),
    (12, 'SELECT id, CASE WHEN id > 5 THEN c END, nullif(c, ''a''), first_value(c) OVER (ORDER BY id), lag(c) OVER (PARTITION BY code ORDER BY id), row_number() OVER (PARTITION BY c ORDER BY id) FROM dx65.t_ducklake ORDER BY id'),
    (13, 'SELECT c FROM dx65.t_ducklake WHERE id < 4 UNION SELECT c FROM dx65.t_ducklake WHERE id > 1 ORDER BY 1'),
    (14, 'SELECT count(*), count(DISTINCT b) FROM dx65.t_ducklake WHERE b = ''a'' OR b = ''ab'''),
    (15, 'SELECT (SELECT count(*) FROM (SELECT DISTINCT b FROM dx65.t_ducklake) d), (SELECT max(b) || ''|'' FROM dx65.t_ducklake)'),
    -- substring/substr: text and char(n) (read as text: without the padding), from/for forms.
    (16, 'SELECT id, substring(s FROM 2 FOR 3), substring(s FROM 0 FOR 3), substring(s FROM -2 FOR 4), substr(s, 3), substr(s, 0), substr(s, 2, 0), substring(s FROM 4), substring(c FROM 1 FOR 2), substr(c, 4), substring(code, 2) FROM dx65.t_ducklake ORDER BY id'),
    (17, 'SELECT substring(s FROM 1 FOR 1) AS initial, count(*) FROM dx65.t_ducklake GROUP BY 1 ORDER BY 1'),
    -- round: numeric with n (PostgreSQL's scale n, also above the column's), numeric, int, float8.
    (18, 'SELECT id, round(price, 2), round(price, 1), round(price, 5), round(price, 0), round(price), round(-price, 2), round(qty, 2), round(price * qty, 1), round(f) FROM dx65.t_ducklake ORDER BY id'),
    (19, 'SELECT round(sum(price), 1), round(max(price), 4), sum(round(price, 1)) FROM dx65.t_ducklake'),
    -- Fallbacks with their reason: a char result of unknown padding, LIKE on one, a text cast to
    -- char, substring with a column for a bound, round to a column's digits, stddev/variance, a
    -- result mixing char values of different widths (their padding depends on the row).
    (20, 'SELECT id, b FROM dx65.t_ducklake ORDER BY id'),
    (21, 'SELECT id FROM dx65.t_ducklake WHERE b LIKE ''a %'' ORDER BY id'),
    (22, 'SELECT id FROM dx65.t_ducklake WHERE v::bpchar = ''a'' ORDER BY id'),
    (23, 'SELECT id, substring(s FROM id FOR 2) FROM dx65.t_ducklake ORDER BY id'),
    (24, 'SELECT id, round(price, qty) FROM dx65.t_ducklake WHERE qty BETWEEN 0 AND 5 ORDER BY id'),
    (25, 'SELECT stddev_samp(qty), var_pop(price), variance(f) FROM dx65.t_ducklake WHERE f < 100'),
    (26, 'SELECT m FROM (SELECT code, min(c) AS m FROM dx65.t_ducklake GROUP BY code) s ORDER BY code'),
    (27, 'SELECT id, coalesce(c, ''none'') FROM dx65.t_ducklake ORDER BY id'),
    (28, 'SELECT code FROM dx65.t_ducklake UNION SELECT code FROM dx65.codes_ducklake ORDER BY 1'),
    -- numeric to integer casts round half away from zero in both (2.005 * 2 = 4.010, -1.250 * 2 =
    -- -2.500 -> -3); float8 to integer falls back (DuckDB wraps around at the range's edge).
    (29, 'SELECT id, price::int, (price * 2)::int2, (-price * 2)::int8, round(price, 1)::int4 FROM dx65.t_ducklake ORDER BY id'),
    (30, 'SELECT id, f::int8 FROM dx65.t_ducklake WHERE f < 100 ORDER BY id'),
    -- Explicit casts to char(n): the first n characters (multibyte ones count one), padded.
    (31, 'SELECT id, coalesce(c, ''x''::char(5)), v::char(2), s::char(3) || ''|'', c::char(2), (s::char(4))::text || ''|'' FROM dx65.t_ducklake ORDER BY id'),
    -- The year of finite and NULL dates and timestamps (an infinite one is an error in DuckDB, below).
    (32, 'SELECT id, extract(year FROM d), date_part(''year'', d), extract(year FROM ts) FROM (VALUES (date ''2024-02-29'', timestamp ''1999-12-31 23:59''), (NULL, NULL)) v(d, ts), dx65.t_ducklake WHERE id < 3 ORDER BY 2 NULLS FIRST, id'),
    -- Text to uuid in the forms PostgreSQL reads (DuckDB's cast reads more, so they are checked first).
    (33, 'SELECT id, upper(md5(s))::uuid, (''{'' || md5(s) || ''}'')::uuid, (CASE WHEN id % 2 = 0 THEN md5(s) END)::uuid, (substr(md5(s), 1, 4) || ''-'' || substr(md5(s), 5))::uuid FROM dx65.t_ducklake ORDER BY id');
SELECT n, dx65.check(q, ordered) FROM dx65.queries ORDER BY n;
-- The NOTICE of each fallback.
SELECT id, b FROM dx65.t_ducklake WHERE id = 1;
SELECT id FROM dx65.t_ducklake WHERE b LIKE 'a %';
SELECT id FROM dx65.t_ducklake WHERE v::bpchar = 'a';
SELECT substring(s FROM id FOR 2) FROM dx65.t_ducklake WHERE id = 1;
SELECT substring(s FROM 1 FOR -1) FROM dx65.t_ducklake WHERE id = 1;
SELECT round(price, qty) FROM dx65.t_ducklake WHERE id = 1;
SELECT stddev_samp(qty) FROM dx65.t_ducklake;
SELECT variance(f) FROM dx65.t_ducklake WHERE f < 100;
SELECT id, coalesce(c, 'none') FROM dx65.t_ducklake WHERE id = 4;
SELECT f::int FROM dx65.t_ducklake WHERE id = 1;
-- Out of range: an error in DuckDB as in PostgreSQL.
SELECT (price * 10)::int2 FROM dx65.t_ducklake WHERE id = 7;
SELECT (price * 10)::int2 FROM dx65.t WHERE id = 7;
-- The year of an infinite date is +-Infinity in PostgreSQL, which DuckDB has not: an error there.
SELECT extract(year FROM d) FROM (VALUES (date 'infinity')) v(d), dx65.t_ducklake WHERE id = 1;
SELECT extract(year FROM d) FROM (VALUES (date 'infinity')) v(d), dx65.t WHERE id = 1;
-- Text PostgreSQL's uuid_in rejects (a hyphen after one digit) and DuckDB's cast would read: an error in both.
SELECT ('a-' || substr(md5(s), 2))::uuid FROM dx65.t_ducklake WHERE id = 1;
SELECT ('a-' || substr(md5(s), 2))::uuid FROM dx65.t WHERE id = 1;
-- Why float8 to integer casts stay on the row path: DuckDB's wraps around where PostgreSQL's fails.
SELECT q FROM duckpipe.query('SELECT CAST(2147483647.5::DOUBLE AS INTEGER) AS v') q;
SELECT 2147483647.5::float8::int;
-- Why float8 variance stays on the row path: over the same doubles, PostgreSQL's var_samp
-- (Youngs-Cramer) and DuckDB's (Welford, here through duckpipe.query) differ in the last bits.
SELECT n, step, shift, pg, q_text AS duck, pg = duck AS same_bits FROM (VALUES (10, 0.1, 0), (100, 0.1, 0), (1000, 1.1, 1e6)) v(n, step, shift),
    LATERAL (SELECT var_samp(i * step::float8 + shift::float8) AS pg FROM generate_series(1, n) i) p,
    LATERAL (SELECT q->>'v' AS q_text, (q->>'v')::float8 AS duck FROM duckpipe.query(format(
        'SELECT var_samp(i * %s::DOUBLE + %s::DOUBLE) AS v FROM range(1, %s) t(i)', step, shift, n + 1)) q) d
ORDER BY n;
-- The DuckDB SQL: char columns read trimmed, LIKE on the padded value, substring's bounds, round's scale.
EXPLAIN (COSTS OFF) SELECT c, round(price, 1), round(f) FROM dx65.t_ducklake WHERE c LIKE 'a%' AND substr(s, 0, 3) = 'h';
-- Prepared statements: a parameter in substring's bounds or round's digits is a constant of the custom plan.
PREPARE dx65_p(int, int) AS SELECT id, substr(s, $1, $2), round(price, $2) FROM dx65.t_ducklake WHERE c = 'a' ORDER BY id;
EXECUTE dx65_p(2, 3);
DEALLOCATE dx65_p;
-- The lake's row path gives the same rows.
SET duckpipe.duckdb_execution = off;
SELECT n, dx65.check(q, ordered) FROM dx65.queries WHERE n <= 19 OR n IN (29, 31) ORDER BY n;
RESET duckpipe.duckdb_execution;

SELECT duckpipe.remove_table(t, drop_target => true) FROM unnest(ARRAY['dx65.t', 'dx65.codes']) t;
SELECT duckpipe.drop_group('dx65');
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: dx65'$$);
DROP SCHEMA dx65 CASCADE;
