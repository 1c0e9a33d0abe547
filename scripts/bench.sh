#!/usr/bin/env bash
# `make bench`: a throughput check to run by hand (not part of `make test`). On one throwaway
# cluster, in one run, it measures
#   - the initial snapshot against a raw `COPY ... TO` of the same table (target >= 0.5x),
#   - streaming against `pg_recvlogical` draining the same WAL with the same protocol (target >= 0.8x).
# BENCH_ROWS (default 1000000) rows of a 5-column table; BENCH_CHANGES (default 300000) streamed inserts.
set -euo pipefail

build_dir=${1:-build}
duckpipe=$(realpath "$build_dir/src/daemon/duckpipe")
rows=${BENCH_ROWS:-1000000}
changes=${BENCH_CHANGES:-300000}
# shellcheck source=lib/cluster.sh
source "$(dirname "$0")/lib/cluster.sh"
setup_work_dir bench

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }

start_cluster <<'CONF'
shared_buffers = 512MB
max_wal_size = 4GB
synchronous_commit = off
CONF
export DUCKPIPE_DATA_PATH="$work/lake/" DUCKPIPE_TEMP_DIR="$work/tmp"
mkdir -p "$DUCKPIPE_TEMP_DIR"
psql_src() { psql -X -q -v ON_ERROR_STOP=1 "$DUCKPIPE_SOURCE" "$@"; }

echo "bench: loading $rows rows"
psql_src <<SQL
CREATE TABLE bench (id bigint PRIMARY KEY, a int, b text, c numeric(12,2), d timestamptz);
INSERT INTO bench SELECT g, g % 1000, 'row ' || g || ' some text here', g * 0.01, now() FROM generate_series(1, $rows) g;
VACUUM ANALYZE bench;
SQL

t0=$(now); psql_src -c "COPY bench TO STDOUT" >/dev/null; t1=$(now)
copy_rate=$(rate "$rows" "$t0" "$t1")

"$duckpipe" add-table public.bench >/dev/null 2>&1
t0=$(now)
"$duckpipe" run --flush-interval 1000 >"$work/run1.log" 2>&1 &
daemon_pid=$!
until grep -q "event=snapshot.done" "$work/run1.log"; do
  sleep 0.1
  kill -0 "$daemon_pid" 2>/dev/null || { tail "$work/run1.log"; exit 1; }
done
t1=$(now)
snapshot_rate=$(grep "event=snapshot.done" "$work/run1.log" | sed -E 's/.*rows_per_s=([0-9]+).*/\1/')
snapshot_wall_rate=$(rate "$rows" "$t0" "$t1")
kill -TERM "$daemon_pid"; wait "$daemon_pid"; daemon_pid=""

# Streaming: the same WAL drained by pg_recvlogical (own slot) and by duckpipe (its slot).
psql_src -c "SELECT pg_create_logical_replication_slot('bench_recv', 'pgoutput')" >/dev/null
start_lsn=$(psql_src -At -c "SELECT pg_current_wal_lsn()")
psql_src -c "INSERT INTO bench SELECT g, g % 1000, 'row ' || g || ' some text here', g * 0.01, now() FROM generate_series($rows + 1, $rows + $changes) g" >/dev/null
end_lsn=$(psql_src -At -c "SELECT pg_current_wal_lsn()")
psql_src -c "SELECT 1" >/dev/null

t0=$(now)
"$pg_bin/pg_recvlogical" -d "$DUCKPIPE_SOURCE" --slot bench_recv --start -o proto_version=1 \
  -o publication_names=duckpipe_pub_default -E "$end_lsn" -f /dev/null --no-loop
t1=$(now)
recv_rate=$(rate "$changes" "$t0" "$t1")

t0=$(now)
"$duckpipe" run --flush-interval 1000 >"$work/run2.log" 2>&1 &
daemon_pid=$!
expected=$((rows + changes))
until [ "$("$duckpipe" query --format csv "SELECT count(*) FROM public.bench_ducklake" 2>/dev/null | tail -n 1)" = "$expected" ]; do
  sleep 0.2
  kill -0 "$daemon_pid" 2>/dev/null || { tail "$work/run2.log"; exit 1; }
done
t1=$(now)
stream_rate=$(rate "$changes" "$t0" "$t1")
kill -TERM "$daemon_pid"; wait "$daemon_pid"; daemon_pid=""

flush_ms=$( (grep "event=flush.done" "$work/run2.log" || true) | sed -E 's/.* ms=([0-9]+).*/\1/' | sort -n | tail -n 1)
commit_ms=$( (grep -o "commit_ms=[0-9.]*" "$work/run2.log" || true) | cut -d= -f2 | sort -n | tail -n 1)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '\n%-34s %12s %12s %8s %8s\n' "measure" "duckpipe" "baseline" "ratio" "target"
printf '%-34s %12s %12s %8s %8s\n' "snapshot rows/s (copy phase)" "$snapshot_rate" "$copy_rate" "$(ratio "$snapshot_rate" "$copy_rate")" ">=0.50"
printf '%-34s %12s %12s %8s %8s\n' "snapshot rows/s (wall, w/ start)" "$snapshot_wall_rate" "$copy_rate" "$(ratio "$snapshot_wall_rate" "$copy_rate")" ""
printf '%-34s %12s %12s %8s %8s\n' "streaming changes/s (proto 1)" "$stream_rate" "$recv_rate" "$(ratio "$stream_rate" "$recv_rate")" ">=0.80"
printf '%-34s %12s\n' "slowest flush (ms)" "${flush_ms:-n/a}"
printf '%-34s %12s %12s\n' "slowest catalog commit (ms)" "${commit_ms:-n/a}" "<=10"
