#!/usr/bin/env bash
# `make demo`: pg_duckpipe end to end on this machine, first as the PostgreSQL extension, then as
# the daemon. Starts a throwaway PostgreSQL 15 from the build's private PostgreSQL tree with
# pg_duckpipe preloaded and a short flush interval.
# 1. Extension (database `shop`): CREATE EXTENSION, a sample table, duckpipe.add_table(), live
#    inserts/updates/deletes, the lake copy read as a relation and through duckpipe.query() with
#    time travel, duckpipe.status().
# 2. Daemon (database `shop_daemon`, or DUCKPIPE_SOURCE): a group of mode daemon, `duckpipe
#    add-table`, `duckpipe run`, the same live changes, `duckpipe query` and `duckpipe status`.
# Ends with PASS (source and lake copy equal, by md5 of every row, for both) or FAIL and exit 1.
set -euo pipefail

build=$(realpath "${1:-build}")
duckpipe="$build/src/daemon/duckpipe"
src=$(realpath "$(dirname "$0")/..")
PG_BIN=$(bash "$src/scripts/pg_private_tree.sh" "$build")
export PG_BIN
user_source=${DUCKPIPE_SOURCE:-}
unset DUCKPIPE_SOURCE
# shellcheck source=lib/cluster.sh
source "$src/scripts/lib/cluster.sh"
setup_work_dir demo

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() {
  printf '\n\033[1;31mFAIL: %s\033[0m\n' "$*" >&2
  echo "---- server log (tail) ----" >&2
  tail -n 30 "$work/pg.log" >&2 || true
  [ -f "$work/duckpipe.log" ] && { echo "---- daemon log (tail) ----" >&2; tail -n 30 "$work/duckpipe.log" >&2; }
  exit 1
}

step "Starting a throwaway PostgreSQL 15 in $work/pg (shared_preload_libraries = 'pg_duckpipe')"
start_cluster <<'CONF'
shared_preload_libraries = 'pg_duckpipe'
duckpipe.flush_interval = '500ms'
duckpipe.poll_interval = '200ms'
log_min_messages = warning
CONF
port=$(sed -n 's/^port = //p' "$work/pg/postgresql.auto.conf" | tail -1)
conn() { echo "host=$work port=$port user=postgres dbname=$1"; }
psql -X -q -v ON_ERROR_STOP=1 "$(conn postgres)" -c "CREATE DATABASE shop" -c "CREATE DATABASE shop_daemon"

# Waits (bounded poll) until `sql` prints `expected`; `run` is the command that runs it.
wait_until() { # what expected sql run...
  local what=$1 expected=$2 sql=$3 got=""
  shift 3
  local deadline=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$deadline" ]; do
    got=$("$@" "$sql" 2>/dev/null | tail -n 1 || true)
    [ "$got" = "$expected" ] && return 0
    sleep 0.2
  done
  fail "timed out waiting for $what: '$sql' gave '$got', expected '$expected'"
}

# The same live changes for both parts: inserts, updates, deletes, a key change.
changes_sql="
INSERT INTO public.demo_orders (id, customer, amount, status)
SELECT g, 'customer-' || (g % 97), 42.00, 'new' FROM generate_series(10001, 10500) g;
UPDATE public.demo_orders SET status = 'shipped', amount = amount + 1 WHERE id % 10 = 0;
DELETE FROM public.demo_orders WHERE id % 7 = 0;
BEGIN;
UPDATE public.demo_orders SET id = id + 100000 WHERE id BETWEEN 1 AND 5;
INSERT INTO public.demo_orders (id, customer, amount, status) VALUES (20000, 'late', 1.50, 'paid');
COMMIT;"
create_sql="
CREATE TABLE public.demo_orders (
  id bigint PRIMARY KEY,
  customer text NOT NULL,
  amount numeric(12,2),
  status text,
  created_at timestamptz DEFAULT now()
);
INSERT INTO public.demo_orders (id, customer, amount, status)
SELECT g, 'customer-' || (g % 97), round((g * 7.31)::numeric % 1000, 2), 'new' FROM generate_series(1, 10000) g;"
# Every row of a table, as one md5 (the same text in PostgreSQL and in DuckDB).
md5_of() { echo "SELECT md5(string_agg(id || ':' || amount || ':' || coalesce(status, ''), ',' ORDER BY id)) FROM $1"; }

###################################################################################################
# 1. The extension
###################################################################################################
ext() { psql -X -q -v ON_ERROR_STOP=1 "$(conn shop)" "$@"; }
ext_value() { ext -At -c "$1"; }

step "Extension: CREATE EXTENSION pg_duckpipe and a table public.demo_orders with 10,000 rows"
ext -e <<SQL
CREATE EXTENSION pg_duckpipe;
$create_sql
SQL

step "Extension: SELECT duckpipe.add_table('public.demo_orders')"
ext -e -c "SELECT duckpipe.add_table('public.demo_orders');"
ext -c "SELECT backend_type, datname FROM pg_stat_activity WHERE backend_type LIKE 'pg_duckpipe:%';"
wait_until "the initial copy" "10000" "SELECT count(*) FROM public.demo_orders_ducklake" ext_value
echo "initial copy: 10000 rows in public.demo_orders_ducklake"
first_snapshot=$(ext_value "SELECT max(snapshot_id) FROM ducklake.ducklake_snapshot")

step "Extension: live inserts, updates, deletes on the source"
ext -e -c "$changes_sql"
src_md5=$(ext_value "$(md5_of public.demo_orders)")
wait_until "the live changes" "$src_md5" "$(md5_of public.demo_orders_ducklake)" ext_value

step "Extension: the source next to its lake copy (a relation reading the lake)"
ext <<'SQL'
SELECT 'source' AS "table", status, count(*), sum(amount) FROM public.demo_orders GROUP BY status
UNION ALL
SELECT 'lake', status, count(*), sum(amount) FROM public.demo_orders_ducklake GROUP BY status
ORDER BY status, 1 DESC;
SQL

step "Extension: duckpipe.query(), DuckDB SQL over the lake, now and at the initial copy's snapshot"
ext -v first="$first_snapshot" <<'SQL'
SELECT 'latest' AS snapshot, r FROM duckpipe.query(
  'SELECT count(*) AS orders, sum(amount) AS total FROM public.demo_orders_ducklake') r
UNION ALL
SELECT :'first', r FROM duckpipe.query(
  'SELECT count(*) AS orders, sum(amount) AS total FROM public.demo_orders_ducklake', snapshot => :first) r;
SQL

step "Extension: SELECT * FROM duckpipe.status()"
ext -c '\x on' -c "SELECT * FROM duckpipe.status();"

ext_lake_md5=$(ext_value "$(md5_of public.demo_orders_ducklake)")
echo "source md5: $src_md5"
echo "lake   md5: $ext_lake_md5"
[ "$src_md5" = "$ext_lake_md5" ] || fail "extension: the lake copy differs from the source"

###################################################################################################
# 2. The daemon
###################################################################################################
# Its own database: there the extension is not installed, so the daemon's groups are of mode daemon
# (in `shop` the `default` group belongs to the extension's worker).
export DUCKPIPE_SOURCE="${user_source:-$(conn shop_daemon)}"
export DUCKPIPE_DATA_PATH="${DUCKPIPE_DATA_PATH:-$work/lake/}"
export DUCKPIPE_TEMP_DIR="${DUCKPIPE_TEMP_DIR:-$work/tmp}"
mkdir -p "$DUCKPIPE_TEMP_DIR"
psql_src() { psql -X -q -v ON_ERROR_STOP=1 "$DUCKPIPE_SOURCE" "$@"; }
lake_value() { "$duckpipe" query --format csv "$1"; }

step "Daemon: public.demo_orders with 10,000 rows in its source (database shop_daemon, or DUCKPIPE_SOURCE)"
psql_src <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS public.demo_orders;
$create_sql
SQL

# A group of its own: replication slots are named per cluster, and the extension's `default` group
# in `shop` already holds duckpipe_slot_default.
step "Daemon: duckpipe create-group shop_daemon (mode daemon), add-table public.demo_orders"
"$duckpipe" create-group shop_daemon
"$duckpipe" add-table public.demo_orders --group shop_daemon
psql_src -c "SELECT name, mode, publication, slot_name FROM duckpipe.sync_groups ORDER BY name"

step "Daemon: duckpipe run --group shop_daemon (flush every second)"
"$duckpipe" run --group shop_daemon --flush-interval 1000 >"$work/duckpipe.log" 2>&1 &
daemon_pid=$!
wait_until "the daemon's initial copy" "10000" "SELECT count(*) FROM public.demo_orders_ducklake" lake_value
echo "initial copy: 10000 rows in the lake"

step "Daemon: live inserts, updates, deletes on the source"
psql_src -c "$changes_sql"
src_md5=$(psql_src -At -c "$(md5_of public.demo_orders)")
wait_until "the daemon's live changes" "$src_md5" "$(md5_of public.demo_orders_ducklake)" lake_value

step "Daemon: source (PostgreSQL)"
psql_src -c "SELECT status, count(*), sum(amount) FROM public.demo_orders GROUP BY status ORDER BY status"
step "Daemon: lake (duckpipe query over DuckLake)"
"$duckpipe" query "SELECT status, count(*) AS count, sum(amount) AS sum FROM public.demo_orders_ducklake GROUP BY status ORDER BY status"

step "Daemon: duckpipe status"
"$duckpipe" status --group shop_daemon

daemon_lake_md5=$(lake_value "$(md5_of public.demo_orders_ducklake)" | tail -n 1)
echo "source md5: $src_md5"
echo "lake   md5: $daemon_lake_md5"
[ "$src_md5" = "$daemon_lake_md5" ] || fail "daemon: the lake copy differs from the source"

step "Daemon: stopping it (SIGTERM)"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "the daemon did not exit cleanly"
daemon_pid=""
echo "daemon exited cleanly"

printf '\n\033[1;32mPASS: source md5 = lake md5 for the extension (%s) and the daemon (%s)\033[0m\n' \
  "$ext_lake_md5" "$daemon_lake_md5"
