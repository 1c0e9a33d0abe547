-- The SECURITY DEFINER functions of the lake relation run as the extension's owner: the catalog
-- names they use must resolve in pg_catalog, never in the caller's temporary schema (which
-- PostgreSQL searches first unless search_path lists pg_temp, last).
CREATE SCHEMA sp_test;
CREATE ROLE sp_owner;
CREATE ROLE sp_caller;
CREATE TABLE sp_test.src (id int PRIMARY KEY, v text);
ALTER TABLE sp_test.src OWNER TO sp_owner;
GRANT USAGE ON SCHEMA duckpipe TO sp_caller;
GRANT USAGE, CREATE ON SCHEMA sp_test TO sp_caller;
GRANT EXECUTE ON FUNCTION duckpipe.create_target_relation(regclass, text, text, text) TO sp_caller;

SET ROLE sp_caller;
-- A temporary pg_class that names the caller as the source's owner.
CREATE TEMP TABLE pg_class (oid oid, relowner oid);
INSERT INTO pg_temp.pg_class SELECT 'sp_test.src'::regclass, 'sp_caller'::regrole;
SELECT duckpipe.create_target_relation('sp_test.src', 'sp_test', 'src_ducklake', 'upsert');
-- A role that is not a superuser drops its own tables (the sql_drop event trigger runs for it too).
DROP TABLE pg_temp.pg_class;
CREATE TABLE sp_test.mine (a int);
DROP TABLE sp_test.mine;
RESET ROLE;

-- SELECT went to the real owner of the source, not to the caller.
SELECT grantee, privilege_type FROM information_schema.role_table_grants
WHERE table_schema = 'sp_test' AND table_name = 'src_ducklake' AND grantee IN ('sp_owner', 'sp_caller')
ORDER BY 1, 2;

DROP TABLE sp_test.src_ducklake;
REVOKE ALL ON FUNCTION duckpipe.create_target_relation(regclass, text, text, text) FROM sp_caller;
REVOKE ALL ON SCHEMA duckpipe FROM sp_caller;
DROP SCHEMA sp_test CASCADE;
DROP ROLE sp_caller;
DROP ROLE sp_owner;
