-- Data types through the extension: every type the pipeline supports, copied by the snapshot and
-- streamed, NULLs, extremes, empty values, unicode and escapes, large (TOASTed) values; jsonb
-- documents changed in place; special characters in schema, table and column names and values.
-- Each check compares the source with its lake relation row for row (as text), both ways.
CREATE SCHEMA scen_types;
CREATE FUNCTION scen_types.synced(src regclass, lake regclass) RETURNS boolean LANGUAGE sql AS $$
    SELECT duckpipe_test.diff(src, lake) = 0
       AND EXISTS (SELECT 1 FROM duckpipe.status() s JOIN duckpipe.table_mappings m
                   ON format('%I.%I', m.source_schema, m.source_table)::regclass = src
                   AND s.source_table = m.source_schema || '.' || m.source_table
                   WHERE s.state = 'STREAMING')
$$;
-- Columns whose text differs between two tables of the same columns, joined by id.
CREATE FUNCTION scen_types.coldiff(src regclass, lake regclass) RETURNS TABLE(col name, id int, src_value text, lake_value text)
LANGUAGE plpgsql AS $$
DECLARE c name;
BEGIN
    FOR c IN SELECT attname FROM pg_attribute WHERE attrelid = src AND attnum > 0 AND NOT attisdropped ORDER BY attnum LOOP
        RETURN QUERY EXECUTE format('SELECT %L::name, s.id, s.%I::text, l.%I::text FROM %s s JOIN %s l USING (id)
            WHERE s.%I::text IS DISTINCT FROM l.%I::text ORDER BY s.id', c, c, c, src, lake, c, c);
    END LOOP;
END $$;
SELECT duckpipe.create_group('scen_types');

CREATE EXTENSION IF NOT EXISTS citext SCHEMA scen_types;
CREATE EXTENSION IF NOT EXISTS hstore SCHEMA scen_types;
SET search_path = scen_types, public;
CREATE TYPE scen_types.mood AS ENUM ('sad', 'ok', 'happy, "quoted"');
CREATE DOMAIN scen_types.dnum AS numeric(10,3);
CREATE DOMAIN scen_types.dtext AS text CHECK (VALUE <> 'forbidden');
CREATE TYPE scen_types.pair AS (x int, label text);
CREATE TABLE scen_types.alltypes (
    id int PRIMARY KEY, b bool, i2 int2, i4 int4, i8 int8, o oid, f4 float4, f8 float8,
    n38 numeric(38,10), n38i numeric(38,0), n122 numeric(12,2), nu numeric, n50 numeric(50,10), nneg numeric(4,-2),
    m money, t text, vc varchar(10), ch char(5), nm name, qc "char", by bytea,
    d date, tm time, ttz timetz, ts timestamp, tstz timestamptz, iv interval,
    u uuid, j json, jb jsonb,
    ai int4[], ai8 int8[], atx text[], an numeric[], adec numeric(6,2)[], af float8[], ab bool[], aby bytea[],
    ad date[], ats timestamptz[], au uuid[], ajb jsonb[], ae mood[], a2 int4[][],
    e mood, dn dnum, dt dtext, ip inet, cd cidr, mac macaddr, mac8 macaddr8, bt bit(4), vb varbit,
    tv tsvector, tq tsquery, r int4range, tr tstzrange, mr int4multirange, comp pair, x xml, pt point,
    lsn pg_lsn, ci citext, hs hstore, abx box[], ainet inet[]);
-- Large values go out of line uncompressed: they travel as TOAST pointers.
ALTER TABLE scen_types.alltypes ALTER COLUMN t SET STORAGE EXTERNAL, ALTER COLUMN by SET STORAGE EXTERNAL;

-- Copied by the snapshot: NULL everywhere, typical values, minimums and empty values.
INSERT INTO scen_types.alltypes (id) VALUES (1);
INSERT INTO scen_types.alltypes VALUES (2, true, 12, 123456, 1234567890123, 4000000000, '1.5', '0.1',
    '1234567890123456789012345678.0123456789', '99999999999999999999999999999999999999', '1234567890.12',
    '3.14159265358979323846264338327950288419716939937510582097494459',
    '1234567890123456789012345678901234567890.0123456789', '12345', '1234.56', 'hello', 'varchar', 'ab',
    'a_name', 'x', '\xdeadbeef', '2024-02-29', '13:45:56.789012', '13:45:56.789+05:30',
    '2024-02-29 13:45:56.789012', '2024-02-29 13:45:56.789012+01', '1 year 2 mons 3 days 04:05:06.789',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": 1,  "a": [1, 2.50, null], "b": 2}', '{"b": 1,  "a": [1, 2.50, null]}',
    '{1,NULL,3}', '{-9223372036854775808,9223372036854775807}', '{a,b,c}', '{1.5,NaN,-0.000001,Infinity}',
    '{1.25,NULL}', '{0.1,-0,1e300,NaN,Infinity,-Infinity,5e-324}', '{t,f,NULL}', '{"\\x00ff",NULL,"\\x"}',
    '{2024-01-01,infinity,NULL,"0044-03-15 BC",-infinity}',
    '{"2024-01-01 00:00:00.000001+00",-infinity,NULL,"0001-01-01 10:00:00+00 BC"}',
    '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}', ARRAY['{"a": 1}'::jsonb, NULL, '[1, "x,y", "q\"uote"]'::jsonb],
    '{sad,"happy, \"quoted\"",NULL}', '{{1,2},{3,NULL}}', 'ok', '1234567.891', 'domain text',
    '192.168.1.5/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05', B'1010', B'101',
    'a fat cat sat on a mat', 'fat & (rat | cat)', '[1,10)', '[2024-01-01 00:00+02,2024-06-01)', '{[1,3),[5,7)}',
    ROW(1, 'a,b "c"'), '<a b="1">text &amp; more</a>', '(1.5,-2)', '16/B374D848', 'MiXeD Case',
    'a=>1, "b c"=>NULL, "q\"uote"=>"x,y"', '{(1,1),(0,0);(3,3),(2,2)}', '{10.0.0.1,::1/128,NULL}');
INSERT INTO scen_types.alltypes VALUES (3, false, -32768, -2147483648, -9223372036854775808, 0, '-Infinity', '-Infinity',
    '-9999999999999999999999999999.9999999999', '-99999999999999999999999999999999999999', '-0.01', '-Infinity',
    '-0.0000000001', '-9900', '-92233720368547758.08', '', '', '', '', '', '\x', '-infinity', '00:00:00',
    '00:00:00-15:59', '-infinity', '-infinity', '-1 days -00:00:00.000001', '00000000-0000-0000-0000-000000000000',
    '[]', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', 'sad', '-9999999.999', '',
    '::1', '::/0', '00:00:00:00:00:00', '00:00:00:00:00:00:00:00', B'0000', B'', '', '', 'empty', '(,)', '{}',
    ROW(NULL, NULL), '', '(0,0)', '0/0', '', '', '{}', '{}');
-- An empty tsquery says so (NOTICE) each time it is read: once per poll below.
SET client_min_messages = warning;
SELECT duckpipe.add_table('scen_types.alltypes', sync_group => 'scen_types');
CALL duckpipe_test.wait_for($$SELECT scen_types.synced('scen_types.alltypes', 'scen_types.alltypes_ducklake')$$);
SELECT duckpipe_test.diff('scen_types.alltypes', 'scen_types.alltypes_ducklake') AS diff,
       (SELECT count(*) FROM scen_types.alltypes_ducklake) AS lake_rows;

-- Streamed: maximums, NaN where the lake keeps it, BC and tiny values, unicode and escapes, and
-- large values.
INSERT INTO scen_types.alltypes (id, i2, i4, i8, o, f4, f8, n38, n122, nu, m, d, tm, ttz, ts, tstz, iv, af, e)
VALUES (4, 32767, 2147483647, 9223372036854775807, 4294967295, 'Infinity', 'Infinity',
    '9999999999999999999999999999.9999999999', '9999999999.99', 'Infinity', '92233720368547758.07', 'infinity',
    '24:00:00', '24:00:00+15:59', 'infinity', 'infinity', '178000000 years',
    '{3.4028234663852886e38,2.2250738585072014e-308,1.7976931348623157e308}', 'happy, "quoted"');
INSERT INTO scen_types.alltypes (id, f4, f8, nu, n50, an, af) VALUES (5, 'NaN', 'NaN', 'NaN', 'NaN', '{NaN,NULL}', '{NaN}');
INSERT INTO scen_types.alltypes (id, f4, f8, n38, n38i, i8, d, tm, ts, tstz, ad, ats, nu, n50)
VALUES (6, '1.401298e-45', '-0', '0.0000000001', '0', 0, '0044-03-15 BC', '00:00:00.000001',
    '2000-01-01 10:00:00.000001 BC', '4713-01-01 00:00:00+00 BC', '{"5874897-12-31","4714-11-24 BC"}',
    '{"294000-01-01 00:00:00+00"}', '-0.000000000000000000000000000000000000000000000000000000000000000001',
    '-1234567890123456789012345678901234567890.0123456789');
INSERT INTO scen_types.alltypes (id, t, vc, ch, nm, qc, by, j, jb, atx, an, aby, e, ae, dt, comp, x, tv)
VALUES (7, E'tab\there\nnewline "dq" ''sq'' \\ backslash, comma; ü 日本 🎉', 'ü日本🎉', 'ü日', 'ünï', '"',
    '\x00010203fffefd5c22', '{"k": "ü \u00e9 \" \\ 🎉", "n": 1e400}', '{"k": "ü \u00e9 \" \\ 🎉", "n": 1e40}',
    ARRAY[E'a,b', 'x"y', E'back\\slash', '', 'NULL', ' spaced ', '{brace}', 'ü日本', NULL, E'new\nline'],
    '{1e-20,123456789012345678901234567890.5}', ARRAY['\x5c22'::bytea, '\x2c7b7d'::bytea], 'happy, "quoted"',
    ARRAY['happy, "quoted"'::mood, 'ok'], E'ü\nx', ROW(2, E'line\nbreak, "q" \\'), '<ü>日本</ü>',
    'ü 日本 "quoted word"');
INSERT INTO scen_types.alltypes (id, i4, t, by, jb, atx, nu)
VALUES (8, 8, (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 5000) i),
    (SELECT decode(string_agg(md5(i::text), ''), 'hex') FROM generate_series(1, 3000) i),
    (SELECT jsonb_agg(md5(i::text)) FROM generate_series(1, 3000) i),
    (SELECT array_agg(md5(i::text)) FROM generate_series(1, 3000) i),
    (SELECT (string_agg((i % 10)::text, '') || '.5')::numeric FROM generate_series(1, 1000) i));
-- Every row again through the stream (a copy of each under another key), and one deleted.
INSERT INTO scen_types.alltypes SELECT id + 100, b, i2, i4, i8, o, f4, f8, n38, n38i, n122, nu, n50, nneg, m, t, vc, ch, nm, qc, by,
    d, tm, ttz, ts, tstz, iv, u, j, jb, ai, ai8, atx, an, adec, af, ab, aby, ad, ats, au, ajb, ae, a2, e, dn, dt, ip, cd,
    mac, mac8, bt, vb, tv, tq, r, tr, mr, comp, x, pt, lsn, ci, hs, abx, ainet FROM scen_types.alltypes;
DELETE FROM scen_types.alltypes WHERE id = 3;
CALL duckpipe_test.wait_for($$SELECT scen_types.synced('scen_types.alltypes', 'scen_types.alltypes_ducklake')$$);
SELECT duckpipe_test.diff('scen_types.alltypes', 'scen_types.alltypes_ducklake') AS diff,
       (SELECT count(*) FROM scen_types.alltypes_ducklake) AS lake_rows;
-- Large values arrive whole.
SELECT id, length(t) AS t_len, length(by) AS by_len, jsonb_array_length(jb) AS jb_len, cardinality(atx) AS atx_len
FROM scen_types.alltypes_ducklake WHERE id IN (8, 108) ORDER BY id;
-- Per column (names the column when this fails): values of the lake that differ from the source's.
SELECT * FROM scen_types.coldiff('scen_types.alltypes', 'scen_types.alltypes_ducklake');
RESET client_min_messages;

-- jsonb documents changed in place: set, remove, append, replace with scalars and null.
CREATE TABLE scen_types.docs (id int PRIMARY KEY, doc jsonb);
INSERT INTO scen_types.docs VALUES
    (1, '{"a": {"b": [1, 2, {"c": "deep"}]}, "n": 12345678901234567890.123, "s": "x"}'),
    (2, '[]'), (3, 'null'), (4, NULL), (5, '"just a string"'), (6, '{"e": "\u00e9\t\"quoted\"\\", "🎉": true}');
SELECT duckpipe.add_table('scen_types.docs', sync_group => 'scen_types');
CALL duckpipe_test.wait_for($$SELECT scen_types.synced('scen_types.docs', 'scen_types.docs_ducklake')$$);
UPDATE scen_types.docs SET doc = jsonb_set(doc, '{a,b,2,c}', '"deeper"') WHERE id = 1;
UPDATE scen_types.docs SET doc = doc - 's' || '{"added": [null, 1.5e-10]}' WHERE id = 1;
UPDATE scen_types.docs SET doc = doc || '[{"k": 1}]' WHERE id = 2;
UPDATE scen_types.docs SET doc = '{"was": "null"}' WHERE id = 3;
UPDATE scen_types.docs SET doc = 'null' WHERE id = 4;
INSERT INTO scen_types.docs SELECT 100 + g, jsonb_build_object('g', g, 'arr', jsonb_build_array(g, g::text, g % 2 = 0))
FROM generate_series(1, 200) g;
CALL duckpipe_test.wait_for($$SELECT scen_types.synced('scen_types.docs', 'scen_types.docs_ducklake')$$);
SELECT id, doc FROM scen_types.docs_ducklake WHERE id < 100 ORDER BY id;
SELECT count(*) AS rows, sum((doc->>'g')::int) AS sum_g, count(*) FILTER (WHERE doc->'arr'->>2 = 'true') AS evens
FROM scen_types.docs_ducklake WHERE id > 100;
SELECT doc->'a'->'b'->2->>'c' AS deep, doc @> '{"added": [null]}' AS contains FROM scen_types.docs_ducklake WHERE id = 1;

-- Special characters in names and data: schema, table and columns with quotes, spaces, unicode.
CREATE SCHEMA "Scén ""Q"" 1";
CREATE TABLE "Scén ""Q"" 1"."Tab'le ü ""x""" ("id ü" int PRIMARY KEY, "col with space" text, "Quote""d" text,
    "naïve'col" numeric, "日本" text, "UPPER" int);
INSERT INTO "Scén ""Q"" 1"."Tab'le ü ""x""" VALUES
    (1, 'it''s', 'say "hi"', 1.5, '日本語', 1),
    (2, E'back\\slash\ttab\nnewline\rcr', '$$dollar$$ %s %I', -0.5, '🎉 emoji', 2),
    (3, '', NULL, NULL, ' leading and trailing ', 3),
    (4, 'semi;colon -- comment /* c */', '''; DROP TABLE x; --', 0, E'\u00e9 vs e\u0301', 4);
SELECT duckpipe.add_table('"Scén ""Q"" 1"."Tab''le ü ""x"""', sync_group => 'scen_types');
SELECT target_schema, target_table FROM duckpipe.table_mappings WHERE source_schema = 'Scén "Q" 1';
CALL duckpipe_test.wait_for($$SELECT scen_types.synced('"Scén ""Q"" 1"."Tab''le ü ""x"""', '"Scén ""Q"" 1"."Tab''le ü ""x""_ducklake"')$$);
INSERT INTO "Scén ""Q"" 1"."Tab'le ü ""x""" VALUES (5, 'streamed ''q'' "dq" ü', E'\\x00', 5, 'ß', 5);
UPDATE "Scén ""Q"" 1"."Tab'le ü ""x""" SET "col with space" = "col with space" || ' ✓', "naïve'col" = "naïve'col" * 2 WHERE "id ü" <= 2;
DELETE FROM "Scén ""Q"" 1"."Tab'le ü ""x""" WHERE "id ü" = 3;
CALL duckpipe_test.wait_for($$SELECT scen_types.synced('"Scén ""Q"" 1"."Tab''le ü ""x"""', '"Scén ""Q"" 1"."Tab''le ü ""x""_ducklake"')$$);
SELECT * FROM "Scén ""Q"" 1"."Tab'le ü ""x""_ducklake" ORDER BY "id ü";
SELECT source_table, state, error_message FROM duckpipe.status() WHERE sync_group = 'scen_types' ORDER BY source_table;

SELECT duckpipe.remove_table(t, drop_target => true) FROM unnest(ARRAY['scen_types.alltypes', 'scen_types.docs',
    '"Scén ""Q"" 1"."Tab''le ü ""x"""']) t;
SELECT duckpipe.drop_group('scen_types');
CALL duckpipe_test.wait_for($$SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_duckpipe: scen_types'$$);
RESET search_path;
\set VERBOSITY terse
DROP SCHEMA "Scén ""Q"" 1" CASCADE;
DROP SCHEMA scen_types CASCADE;
