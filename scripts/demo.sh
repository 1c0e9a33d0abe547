#!/usr/bin/env bash
# `make demo`: pg_duckpipe end to end on this machine. Starts a throwaway PostgreSQL (or uses
# DUCKPIPE_SOURCE), creates a sample table with data, runs `duckpipe run`, writes live inserts,
# updates and deletes, then shows the lake next to the source and `duckpipe status`. Cleans up.
set -euo pipefail

duckpipe=$(realpath "${1:-build/src/daemon/duckpipe}")
# shellcheck source=lib/cluster.sh
source "$(dirname "$0")/lib/cluster.sh"
setup_work_dir demo

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ -z "${DUCKPIPE_SOURCE:-}" ]; then
  step "Starting a throwaway PostgreSQL 15 (wal_level=logical) in $work/pg"
  start_cluster </dev/null
fi
export DUCKPIPE_DATA_PATH="${DUCKPIPE_DATA_PATH:-$work/lake/}"
export DUCKPIPE_TEMP_DIR="${DUCKPIPE_TEMP_DIR:-$work/tmp}"
mkdir -p "$DUCKPIPE_TEMP_DIR"
psql_src() { psql -X -q -v ON_ERROR_STOP=1 "$DUCKPIPE_SOURCE" "$@"; }

step "Creating public.demo_orders with 10,000 rows"
psql_src <<'SQL'
DROP TABLE IF EXISTS public.demo_orders;
CREATE TABLE public.demo_orders (
  id bigint PRIMARY KEY,
  customer text NOT NULL,
  amount numeric(12,2),
  status text,
  created_at timestamptz DEFAULT now()
);
INSERT INTO public.demo_orders (id, customer, amount, status)
SELECT g, 'customer-' || (g % 97), round((g * 7.31)::numeric % 1000, 2), 'new' FROM generate_series(1, 10000) g;
SQL

step "duckpipe add-table public.demo_orders"
"$duckpipe" add-table public.demo_orders

step "duckpipe run (flush every second)"
"$duckpipe" run --flush-interval 1000 >"$work/duckpipe.log" 2>&1 &
daemon_pid=$!

wait_for() { # sql expected
  for _ in $(seq 1 120); do
    got=$("$duckpipe" query --format csv "$1" 2>/dev/null | tail -n 1 || true)
    [ "$got" = "$2" ] && return 0
    sleep 0.5
  done
  echo "timed out waiting for the lake: $1 gave '$got', expected '$2'" >&2
  tail -n 30 "$work/duckpipe.log" >&2
  return 1
}
wait_for "SELECT count(*) FROM public.demo_orders_ducklake" "10000"
echo "initial copy: 10000 rows in the lake"

step "Writing live changes: inserts, updates, deletes"
psql_src <<'SQL'
INSERT INTO public.demo_orders (id, customer, amount, status)
SELECT g, 'customer-' || (g % 97), 42.00, 'new' FROM generate_series(10001, 10500) g;
UPDATE public.demo_orders SET status = 'shipped', amount = amount + 1 WHERE id % 10 = 0;
DELETE FROM public.demo_orders WHERE id % 7 = 0;
BEGIN;
UPDATE public.demo_orders SET id = id + 100000 WHERE id BETWEEN 1 AND 5;
INSERT INTO public.demo_orders (id, customer, amount, status) VALUES (20000, 'late', 1.50, 'paid');
COMMIT;
SQL
expected=$(psql_src -At -c "SELECT count(*) || ' | ' || sum(amount) FROM public.demo_orders")
wait_for "SELECT count(*) || ' | ' || sum(amount) FROM public.demo_orders_ducklake" "$expected"

step "Source (PostgreSQL)"
psql_src -c "SELECT status, count(*), sum(amount) FROM public.demo_orders GROUP BY status ORDER BY status"
step "Lake (duckpipe query over DuckLake)"
"$duckpipe" query "SELECT status, count(*) AS count, sum(amount) AS sum FROM public.demo_orders_ducklake GROUP BY status ORDER BY status"

step "Row-by-row comparison"
src=$(psql_src -At -c "SELECT md5(string_agg(id || ':' || amount || ':' || coalesce(status, ''), ',' ORDER BY id)) FROM public.demo_orders")
lake=$("$duckpipe" query --format csv "SELECT md5(string_agg(id || ':' || amount || ':' || coalesce(status, ''), ',' ORDER BY id)) FROM public.demo_orders_ducklake" | tail -n 1)
echo "source md5: $src"
echo "lake   md5: $lake"
[ "$src" = "$lake" ] || { echo "MISMATCH" >&2; exit 1; }

step "duckpipe status"
"$duckpipe" status

step "Stopping the daemon (SIGTERM)"
kill -TERM "$daemon_pid"
wait "$daemon_pid"
daemon_pid=""
echo "daemon exited cleanly"
