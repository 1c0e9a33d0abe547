-- CREATE EXTENSION made the metadata from the shared migrations, recorded as the daemon records them.
SELECT extname, extversion = duckpipe.version() AS module_matches FROM pg_extension WHERE extname = 'pg_duckpipe';
SELECT max(version) = (SELECT count(*) FROM duckpipe.schema_migrations) AS migrations_in_order
FROM duckpipe.schema_migrations;
-- Every metadata table belongs to the extension and keeps its rows in pg_dump.
SELECT c.relname, d.deptype
FROM pg_class c JOIN pg_depend d ON d.objid = c.oid AND d.classid = 'pg_class'::regclass
    AND d.refclassid = 'pg_extension'::regclass
WHERE c.relnamespace = 'duckpipe'::regnamespace AND c.relkind = 'r'
ORDER BY 1;
SELECT count(*) > 0 AS dumped FROM pg_extension WHERE extname = 'pg_duckpipe'
    AND array_length(extconfig, 1) = (SELECT count(*) FROM pg_class WHERE relnamespace = 'duckpipe'::regnamespace
                                      AND relkind = 'r');
