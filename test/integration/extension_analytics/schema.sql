-- A TPC-H-like schema `src` with deterministic data (no random(): every value is a function of the
-- row number through md5), small enough for a test (~3k orders, ~12k lineitems) and with a column
-- of every common type, NULLs in every nullable column, and a few edge values (-0 float, 30-digit
-- numerics, dates before 1900, far-future and infinite timestamptz).
-- Reused by the bench: scale the row counts in the generate_series calls below.
--
-- Float columns hold multiples of 1/4 or 1/16 of small magnitude and never +0 (only one -0), so
-- that sums and averages are exact whatever order the rows are added in, and min/max never
-- choose between -0 and 0: the same query gives the same text on any row order.

CREATE SCHEMA src;

-- Pseudo-random integer in [0, n) from a row number and a salt.
CREATE FUNCTION pg_temp.r(i bigint, salt int, n bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS
$$ SELECT (('x' || substr(md5(i::text || ':' || salt::text), 1, 15))::bit(60)::bigint) % n $$;
-- True for about pct percent of the rows (NULL sprinkling).
CREATE FUNCTION pg_temp.p(i bigint, salt int, pct int) RETURNS bool LANGUAGE sql IMMUTABLE AS
$$ SELECT pg_temp.r(i, salt, 100) < pct $$;
-- One of the words, chosen by (i, salt).
CREATE FUNCTION pg_temp.pick(i bigint, salt int, words text[]) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT words[1 + pg_temp.r(i, salt, cardinality(words))] $$;

CREATE TABLE src.region (
	r_regionkey int4 PRIMARY KEY,
	r_name char(25) NOT NULL,
	r_comment varchar(152)
);
INSERT INTO src.region
SELECT g - 1, (ARRAY['AFRICA', 'AMERICA', 'ASIA', 'EUROPE', 'MIDDLE EAST'])[g],
       CASE WHEN g = 3 THEN NULL ELSE 'region comment ' || g END
FROM generate_series(1, 5) g;

CREATE TABLE src.nation (
	n_nationkey int4 PRIMARY KEY,
	n_name char(25) NOT NULL,
	n_regionkey int4 NOT NULL,
	n_comment varchar(152)
);
INSERT INTO src.nation
SELECT g - 1,
       (ARRAY['ALGERIA', 'ARGENTINA', 'BRAZIL', 'CANADA', 'EGYPT', 'ETHIOPIA', 'FRANCE', 'GERMANY', 'INDIA',
              'INDONESIA', 'IRAN', 'IRAQ', 'JAPAN', 'JORDAN', 'KENYA', 'MOROCCO', 'MOZAMBIQUE', 'PERU', 'CHINA',
              'ROMANIA', 'SAUDI ARABIA', 'VIETNAM', 'RUSSIA', 'UNITED KINGDOM', 'UNITED STATES'])[g],
       (ARRAY[0, 1, 1, 1, 4, 0, 3, 3, 2, 2, 4, 4, 2, 4, 0, 0, 0, 1, 2, 3, 4, 2, 3, 3, 1])[g],
       CASE WHEN g % 7 = 0 THEN NULL ELSE 'nation ' || g || ' comment' END
FROM generate_series(1, 25) g;

CREATE TABLE src.supplier (
	s_suppkey int4 PRIMARY KEY,
	s_name char(25) NOT NULL,
	s_address varchar(40) NOT NULL,
	s_nationkey int4 NOT NULL,
	s_phone char(15) NOT NULL,
	s_acctbal numeric(12, 2) NOT NULL,
	s_comment varchar(101),
	s_rating int2,
	s_since timestamp
);
INSERT INTO src.supplier
SELECT g, 'Supplier#' || lpad(g::text, 9, '0'), 'addr ' || md5(g::text || 's'), pg_temp.r(g, 1, 25),
       (10 + pg_temp.r(g, 1, 25)) || '-' || (100 + pg_temp.r(g, 2, 900)) || '-' || (1000 + pg_temp.r(g, 3, 9000)),
       (pg_temp.r(g, 4, 1099998) - 99999) / 100.0,
       CASE WHEN g % 10 = 3 THEN 'Customer Complaints about quality' WHEN pg_temp.p(g, 5, 5) THEN NULL
            ELSE 'supplier comment ' || pg_temp.r(g, 6, 1000) END,
       CASE WHEN pg_temp.p(g, 7, 8) THEN NULL ELSE pg_temp.r(g, 7, 11)::int2 - 5 END,
       CASE WHEN pg_temp.p(g, 8, 6) THEN NULL
            ELSE timestamp '1990-01-01 00:00:00' + pg_temp.r(g, 8, 300000000) * interval '1 second' END
FROM generate_series(1, 50) g;

CREATE TABLE src.customer (
	c_custkey int4 PRIMARY KEY,
	c_name varchar(25) NOT NULL,
	c_address varchar(40) NOT NULL,
	c_nationkey int4 NOT NULL,
	c_phone char(15) NOT NULL,
	c_acctbal numeric(12, 2) NOT NULL,
	c_mktsegment char(10) NOT NULL,
	c_comment text,
	c_uuid uuid NOT NULL,
	c_since date,
	c_prefs jsonb,
	c_active bool
);
INSERT INTO src.customer
SELECT g, 'Customer#' || lpad(g::text, 9, '0'), 'caddr ' || substr(md5(g::text), 1, 10), pg_temp.r(g, 11, 25),
       (10 + pg_temp.r(g, 11, 25)) || '-' || (100 + pg_temp.r(g, 12, 900)) || '-' || (1000 + pg_temp.r(g, 13, 9000)),
       (pg_temp.r(g, 14, 1099998) - 99999) / 100.0,
       pg_temp.pick(g, 15, ARRAY['AUTOMOBILE', 'BUILDING', 'FURNITURE', 'HOUSEHOLD', 'MACHINERY']),
       CASE WHEN pg_temp.p(g, 16, 7) THEN NULL WHEN g % 9 = 0 THEN 'special requests pending'
            ELSE 'Customer comment ' || pg_temp.r(g, 16, 500) END,
       md5('cust' || g)::uuid,
       CASE WHEN g = 1 THEN date '1899-12-31' WHEN g = 2 THEN date '0044-03-15 BC' WHEN pg_temp.p(g, 17, 5) THEN NULL
            ELSE date '1985-01-01' + pg_temp.r(g, 17, 7000)::int END,
       CASE WHEN pg_temp.p(g, 18, 10) THEN NULL
            ELSE jsonb_build_object('tier', pg_temp.r(g, 18, 4), 'tags',
                                    jsonb_build_array(pg_temp.pick(g, 19, ARRAY['a', 'b', 'c'])),
                                    'vip', pg_temp.p(g, 20, 20)) END,
       CASE WHEN pg_temp.p(g, 21, 6) THEN NULL ELSE pg_temp.p(g, 22, 70) END
FROM generate_series(1, 300) g;

CREATE TABLE src.part (
	p_partkey int4 PRIMARY KEY,
	p_name varchar(55) NOT NULL,
	p_mfgr char(25) NOT NULL,
	p_brand char(10) NOT NULL,
	p_type varchar(25) NOT NULL,
	p_size int2 NOT NULL,
	p_container char(10) NOT NULL,
	p_retailprice numeric(12, 2) NOT NULL,
	p_comment varchar(23),
	p_weight float4,
	p_attrs jsonb
);
INSERT INTO src.part
SELECT g,
       pg_temp.pick(g, 31, ARRAY['almond', 'antique', 'aquamarine', 'azure', 'beige', 'bisque', 'black', 'blue',
                                 'forest', 'green', 'lime', 'navy']) || ' ' ||
           pg_temp.pick(g, 32, ARRAY['blush', 'burlywood', 'chartreuse', 'chocolate', 'coral', 'forest', 'green',
                                     'khaki', 'lavender', 'linen']),
       'Manufacturer#' || (1 + g % 5), 'Brand#' || (1 + g % 5) || (1 + pg_temp.r(g, 33, 5)),
       pg_temp.pick(g, 34, ARRAY['STANDARD', 'SMALL', 'MEDIUM', 'LARGE', 'ECONOMY', 'PROMO']) || ' ' ||
           pg_temp.pick(g, 35, ARRAY['ANODIZED', 'BURNISHED', 'PLATED', 'POLISHED', 'BRUSHED']) || ' ' ||
           pg_temp.pick(g, 36, ARRAY['TIN', 'NICKEL', 'BRASS', 'STEEL', 'COPPER']),
       (1 + pg_temp.r(g, 37, 50))::int2,
       pg_temp.pick(g, 38, ARRAY['SM', 'LG', 'MED', 'JUMBO', 'WRAP']) || ' ' ||
           pg_temp.pick(g, 39, ARRAY['CASE', 'BOX', 'BAG', 'JAR', 'PKG', 'PACK', 'CAN', 'DRUM']),
       (90000 + (g / 10) % 20001 + 100 * (g % 1000)) / 100.0,
       CASE WHEN pg_temp.p(g, 40, 5) THEN NULL ELSE 'part ' || pg_temp.r(g, 40, 100) END,
       CASE WHEN g = 7 THEN '-0'::float4 WHEN g = 8 THEN 'Infinity'::float4 WHEN g = 9 THEN 1.1::float4
            WHEN pg_temp.p(g, 41, 8) THEN NULL
            ELSE (1 + pg_temp.r(g, 41, 400)) / 4.0 END,
       CASE WHEN pg_temp.p(g, 42, 10) THEN NULL
            ELSE jsonb_build_object('color', pg_temp.pick(g, 43, ARRAY['red', 'green', 'blue']), 'rank',
                                    pg_temp.r(g, 44, 10)) END
FROM generate_series(1, 400) g;

CREATE TABLE src.partsupp (
	ps_partkey int4 NOT NULL,
	ps_suppkey int4 NOT NULL,
	ps_availqty int4 NOT NULL,
	ps_supplycost numeric(12, 2) NOT NULL,
	ps_comment varchar(199),
	PRIMARY KEY (ps_partkey, ps_suppkey)
);
INSERT INTO src.partsupp
SELECT p, 1 + (p + k * 13) % 50, 1 + pg_temp.r(p * 4 + k, 51, 9999), (100 + pg_temp.r(p * 4 + k, 52, 99901)) / 100.0,
       CASE WHEN pg_temp.p(p * 4 + k, 53, 5) THEN NULL ELSE 'ps comment ' || k END
FROM generate_series(1, 400) p, generate_series(0, 3) k;

CREATE TABLE src.orders (
	o_orderkey int8 PRIMARY KEY,
	o_custkey int4 NOT NULL,
	o_orderstatus char(1) NOT NULL,
	o_totalprice numeric(12, 2) NOT NULL,
	o_orderdate date NOT NULL,
	o_orderpriority char(15) NOT NULL,
	o_clerk char(15) NOT NULL,
	o_shippriority int4 NOT NULL,
	o_comment varchar(79),
	o_created timestamptz NOT NULL,
	o_updated timestamp,
	o_score float8,
	o_token uuid,
	o_payload bytea,
	o_ratio numeric,
	o_wait interval,
	o_flag bool NOT NULL
);
-- Edge values above: o_ratio holds a 30-digit number, a tiny negative one, NaN and 0.10 (trailing
-- zero kept); p_weight -0, Infinity and 1.1 (not exact in binary); l_tag unicode, quotes,
-- backslash and newline.
INSERT INTO src.orders
SELECT g * 4, -- sparse keys, as in TPC-H
       -- customers with custkey % 3 = 0 place no orders (Q13, Q22)
       1 + 3 * pg_temp.r(g, 61, 100) + pg_temp.r(g, 60, 2),
       pg_temp.pick(g, 62, ARRAY['F', 'O', 'P']),
       (100000 + pg_temp.r(g, 63, 40000000)) / 100.0,
       date '1992-01-01' + pg_temp.r(g, 64, 2405)::int,
       pg_temp.pick(g, 65, ARRAY['1-URGENT', '2-HIGH', '3-MEDIUM', '4-NOT SPECIFIED', '5-LOW']),
       'Clerk#' || lpad((1 + pg_temp.r(g, 66, 100))::text, 9, '0'),
       0,
       CASE WHEN pg_temp.p(g, 67, 5) THEN NULL WHEN g % 17 = 0 THEN 'special packages requests'
            ELSE 'order comment ' || pg_temp.r(g, 67, 1000) END,
       CASE WHEN g = 5 THEN timestamptz '9999-12-31 23:59:59.999999+00' WHEN g = 6 THEN timestamptz '1900-06-01 12:00:00+00'
            ELSE timestamptz '1992-01-01 00:00:00+00' + pg_temp.r(g, 68, 220000000) * interval '1 second' +
                     pg_temp.r(g, 69, 1000000) * interval '1 microsecond' END,
       CASE WHEN pg_temp.p(g, 70, 8) THEN NULL
            ELSE timestamp '1995-03-15 10:00:00' + pg_temp.r(g, 70, 100000000) * interval '1 second' END,
       CASE WHEN g = 9 THEN '-0'::float8 WHEN pg_temp.p(g, 71, 6) THEN NULL
            ELSE (pg_temp.r(g, 71, 200000) - 99999.5) * 2 / 16.0 END,
       CASE WHEN pg_temp.p(g, 72, 5) THEN NULL ELSE md5('order' || g)::uuid END,
       CASE WHEN pg_temp.p(g, 73, 7) THEN NULL WHEN g % 11 = 0 THEN '\x'::bytea
            ELSE decode(substr(md5(g::text), 1, 2 + 2 * pg_temp.r(g, 74, 8)::int), 'hex') END,
       CASE WHEN g = 10 THEN 123456789012345678901234567890.123456789::numeric
            WHEN g = 11 THEN -0.000000000000000000001::numeric WHEN g = 12 THEN 'NaN'::numeric
            WHEN g = 13 THEN 0.10::numeric WHEN pg_temp.p(g, 75, 6) THEN NULL
            ELSE round(pg_temp.r(g, 75, 1000000) / 7.0, (g % 5)::int) END,
       CASE WHEN pg_temp.p(g, 76, 9) THEN NULL
            ELSE make_interval(days => pg_temp.r(g, 76, 40)::int, hours => pg_temp.r(g, 77, 24)::int,
                               secs => pg_temp.r(g, 78, 3600)) - CASE WHEN g % 13 = 0 THEN interval '50 days'
                                                                      ELSE interval '0' END END,
       pg_temp.p(g, 79, 40)
FROM generate_series(1, 3000) g;

CREATE TABLE src.lineitem (
	l_orderkey int8 NOT NULL,
	l_linenumber int2 NOT NULL,
	l_partkey int4 NOT NULL,
	l_suppkey int4 NOT NULL,
	l_quantity numeric(12, 2) NOT NULL,
	l_extendedprice numeric(12, 2) NOT NULL,
	l_discount numeric(12, 2) NOT NULL,
	l_tax numeric(12, 2) NOT NULL,
	l_returnflag char(1) NOT NULL,
	l_linestatus char(1) NOT NULL,
	l_shipdate date NOT NULL,
	l_commitdate date NOT NULL,
	l_receiptdate date NOT NULL,
	l_shipinstruct char(25) NOT NULL,
	l_shipmode char(10) NOT NULL,
	l_comment varchar(44),
	l_weight float4,
	l_score float8,
	l_shipped_at timestamptz,
	l_tag text,
	l_big numeric(38, 6),
	l_delay interval,
	PRIMARY KEY (l_orderkey, l_linenumber)
);
INSERT INTO src.lineitem
SELECT o.o_orderkey, n::int2, pk, 1 + (pk + (n % 4) * 13) % 50, q, round(q * p.p_retailprice, 2),
       pg_temp.r(i, 83, 11) / 100.0, pg_temp.r(i, 84, 9) / 100.0,
       CASE WHEN o.o_orderdate + 60 <= date '1995-06-17' THEN pg_temp.pick(i, 85, ARRAY['R', 'A']) ELSE 'N' END,
       CASE WHEN o.o_orderdate + 60 > date '1995-06-17' THEN 'O' ELSE 'F' END,
       o.o_orderdate + (1 + pg_temp.r(i, 86, 121))::int,
       o.o_orderdate + (30 + pg_temp.r(i, 87, 61))::int,
       o.o_orderdate + (1 + pg_temp.r(i, 86, 121))::int + (1 + pg_temp.r(i, 88, 30))::int,
       pg_temp.pick(i, 89, ARRAY['DELIVER IN PERSON', 'COLLECT COD', 'NONE', 'TAKE BACK RETURN']),
       pg_temp.pick(i, 90, ARRAY['REG AIR', 'AIR', 'RAIL', 'SHIP', 'TRUCK', 'MAIL', 'FOB']),
       CASE WHEN pg_temp.p(i, 91, 5) THEN NULL ELSE 'li comment ' || pg_temp.r(i, 91, 300) END,
       CASE WHEN pg_temp.p(i, 92, 7) THEN NULL ELSE -50 + pg_temp.r(i, 92, 400) / 4.0 + 0.25 END,
       CASE WHEN pg_temp.p(i, 93, 5) THEN NULL ELSE (1 + pg_temp.r(i, 93, 100000)) / 16.0 END,
       CASE WHEN i = 3 THEN 'infinity'::timestamptz WHEN i = 4 THEN '-infinity'::timestamptz
            WHEN pg_temp.p(i, 94, 6) THEN NULL
            ELSE o.o_orderdate + (1 + pg_temp.r(i, 86, 121))::int + time '08:00' +
                     pg_temp.r(i, 95, 36000) * interval '1 second' - interval '3 hours' END,
       CASE WHEN pg_temp.p(i, 96, 10) THEN NULL WHEN i % 23 = 0 THEN 'MiXeD Case Tag'
            WHEN i % 29 = 0 THEN '' WHEN i % 31 = 0 THEN E'na\u00efve \u2603 "q" \\ x\ny'
            WHEN i % 37 = 0 THEN 'Zeta' ELSE pg_temp.pick(i, 96, ARRAY['alpha', 'beta', 'gamma', 'delta']) END,
       CASE WHEN i = 5 THEN 99999999999999999999999999999999.999999 WHEN pg_temp.p(i, 97, 6) THEN NULL
            ELSE (pg_temp.r(i, 97, 2000000000000) - 1000000000000) / 1000000.0 END,
       CASE WHEN pg_temp.p(i, 98, 8) THEN NULL ELSE pg_temp.r(i, 98, 72) * interval '1 hour' - interval '12 hours' END
FROM (SELECT o_orderkey, o_orderdate, (o_orderkey / 4) AS g FROM src.orders) o,
     LATERAL generate_series(1, 1 + pg_temp.r(o.g, 81, 7)::int) n,
     LATERAL (SELECT o.g * 8 + n AS i) ii,
     LATERAL (SELECT 1 + pg_temp.r(ii.i, 82, 400)::int AS pk, (1 + pg_temp.r(ii.i, 80, 50)) * 1.00 AS q) pq,
     src.part p
WHERE p.p_partkey = pq.pk;

-- TPC-H's derived order columns, from the lineitems.
UPDATE src.orders o SET o_totalprice = t.total,
       o_orderstatus = CASE WHEN t.all_f THEN 'F' WHEN t.all_o THEN 'O' ELSE 'P' END
FROM (SELECT l_orderkey, sum(l_extendedprice * (1 + l_tax) * (1 - l_discount))::numeric(12, 2) AS total,
             bool_and(l_linestatus = 'F') AS all_f, bool_and(l_linestatus = 'O') AS all_o
      FROM src.lineitem GROUP BY l_orderkey) t
WHERE t.l_orderkey = o.o_orderkey;

-- A heap table that stays in src only (never synced): the queries join it as src.segment_target.
CREATE TABLE src.segment_target (
	mktsegment char(10) PRIMARY KEY,
	target numeric(12, 2) NOT NULL,
	owner text
);
INSERT INTO src.segment_target VALUES ('AUTOMOBILE', 1000.50, 'ann'), ('BUILDING', 2000.00, NULL),
	('FURNITURE', 1500.25, 'bob'), ('MACHINERY', 999.99, 'cy');

ANALYZE;
