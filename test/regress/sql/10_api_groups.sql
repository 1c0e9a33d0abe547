-- Sync groups: the default group, create/enable/disable/drop, modes, and their errors.
\set SHOW_CONTEXT never
-- The default group exists after CREATE EXTENSION, run by a background worker.
SELECT name, publication, slot_name, enabled, mode, table_count, conninfo FROM duckpipe.groups();
SELECT name, mode, config FROM duckpipe.sync_groups ORDER BY name;

-- create_group returns the group's name; publication and slot default from it.
SELECT duckpipe.create_group('analytics');
SELECT duckpipe.create_group('ext', 'ext_pub', 'ext_slot', mode => 'daemon');
SELECT name, publication, slot_name, enabled, mode, conninfo, config FROM duckpipe.sync_groups ORDER BY name;
-- A remote group: its conninfo is checked by connecting, and never shown with its password.
SELECT duckpipe.create_group('remote', conninfo => format('host=%s port=%s dbname=%s user=%s password=secret',
    current_setting('unix_socket_directories'), current_setting('port'), current_database(), current_user));
SELECT name, conninfo LIKE '%password=********%' AS masked, conninfo LIKE '%secret%' AS leaked
FROM duckpipe.groups() WHERE name = 'remote';

-- Errors.
SELECT duckpipe.create_group('analytics');
SELECT duckpipe.create_group('other', 'ext_pub');
SELECT duckpipe.create_group('other', slot_name => 'ext_slot');
SELECT duckpipe.create_group('Bad-Name');
SELECT duckpipe.create_group('other', mode => 'cron');
SELECT duckpipe.create_group('unreachable', conninfo => 'host=/nonexistent port=1 dbname=x');
SELECT duckpipe.enable_group('nope');
SELECT duckpipe.disable_group('nope');
SELECT duckpipe.drop_group('nope');

-- Enable and disable.
SELECT duckpipe.disable_group('analytics');
SELECT name, enabled FROM duckpipe.groups() WHERE name = 'analytics';
SELECT duckpipe.enable_group('analytics');
SELECT name, enabled FROM duckpipe.groups() WHERE name = 'analytics';

-- No free replication slot: fill every free slot with a physical one, then ask for a group.
SELECT count(pg_create_physical_replication_slot('duckpipe_test_fill_' || i)) > 0 AS filled
FROM generate_series(1, current_setting('max_replication_slots')::integer
                        - (SELECT count(*) FROM pg_replication_slots)::integer) i;
SELECT duckpipe.create_group('one_too_many');
SELECT count(pg_drop_replication_slot(slot_name)) > 0 AS freed
FROM pg_replication_slots WHERE slot_name LIKE 'duckpipe_test_fill_%';

-- drop_group drops the group's slot and publication (when the worker made them).
SELECT pg_create_logical_replication_slot('ext_slot', 'pgoutput') IS NOT NULL AS slot_made;
CREATE PUBLICATION ext_pub;
SELECT duckpipe.drop_group('ext');
SELECT count(*) AS slots_left FROM pg_replication_slots WHERE slot_name = 'ext_slot';
SELECT count(*) AS publications_left FROM pg_publication WHERE pubname = 'ext_pub';
SELECT duckpipe.drop_group('remote');
SELECT name FROM duckpipe.groups();

-- A rolled-back create_group leaves nothing.
BEGIN;
SELECT duckpipe.create_group('rolled_back');
ROLLBACK;
SELECT count(*) AS rolled_back_groups FROM duckpipe.sync_groups WHERE name = 'rolled_back';
SELECT duckpipe.drop_group('analytics');
