-- PostgreSQL's numeric division under a name DuckDB knows too. Whole-query DuckDB execution writes
-- avg(x) of integers and numerics as duckpipe.numeric_div(sum(x), count(x)), and a numeric `/` at
-- the top of a select-list entry as duckpipe.numeric_div(a, b): in the query engine's DuckDB the
-- name is a macro that computes the quotient with PostgreSQL's scale and rounding
-- (src/core/common/numeric_div.cpp). Here it is plain numeric division, callable by everyone as `/`
-- is (the default EXECUTE for PUBLIC stays). Re-runnable.
CREATE OR REPLACE FUNCTION duckpipe.numeric_div(numeric, numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS 'SELECT $1 / $2';
COMMENT ON FUNCTION duckpipe.numeric_div(numeric, numeric) IS
    'pg_duckpipe: numeric division, as whole-query DuckDB execution writes avg and numeric /';
