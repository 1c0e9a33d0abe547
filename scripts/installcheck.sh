#!/usr/bin/env bash
# `make installcheck` (and the `regress` test of `make test`): the pg_regress suite in test/regress
# against a throwaway cluster started from the build's private PostgreSQL tree, with pg_duckpipe
# preloaded and a short flush interval. Prints the diffs of failing tests.
set -euo pipefail
build=$(realpath "${1:-build}")
src=$(realpath "$(dirname "$0")/..")
PG_BIN=$(bash "$src/scripts/pg_private_tree.sh" "$build")
export PG_BIN
# shellcheck source=lib/cluster.sh
source "$src/scripts/lib/cluster.sh"
setup_work_dir regress
start_cluster <<'CONF'
shared_preload_libraries = 'pg_duckpipe'
max_worker_processes = 32
max_replication_slots = 40
max_wal_senders = 40
duckpipe.flush_interval = '200ms'
duckpipe.poll_interval = '200ms'
# Read back by 64_query_routing: a setting of the module's from postgresql.conf reaches its GUC.
duckpipe.query_routing_max_lag = '20s'
log_min_messages = warning
CONF
port=$(sed -n 's/^port = //p' "$work/pg/postgresql.auto.conf" | tail -1)

out="$work/out"
mkdir -p "$out"
chown -R postgres "$out" 2>/dev/null || true
regress=$(pg_config --pgxs | sed 's|src/makefiles/pgxs.mk|src/test/regress/pg_regress|')
status=0
"${as_pg[@]}" "$regress" --host="$work" --port="$port" --user=postgres --bindir="$PG_BIN" \
  --inputdir="$src/test/regress" --outputdir="$out" --schedule="$src/test/regress/schedule" \
  --dbname=duckpipe_regress || status=$?
# REGRESS_ACCEPT=1: take the results as the new expected output (then review them with git diff).
if [ "${REGRESS_ACCEPT:-}" = 1 ]; then
  cp "$out"/results/*.out "$src/test/regress/expected/"
fi
if [ "$status" -ne 0 ]; then
  [ -f "$out/regression.diffs" ] && cat "$out/regression.diffs"
  echo "---- server log (tail) ----"
  tail -n 80 "$work/pg.log" || true
fi
exit "$status"
