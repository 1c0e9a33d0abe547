# Sourced by demo.sh and bench.sh: a throwaway PostgreSQL 15 with wal_level=logical in $work/pg,
# run as the postgres OS user when we are root. Sets DUCKPIPE_SOURCE unless it is already set.
# PG_BIN: the server binaries to use (default the system ones; installcheck.sh points it at a
# private tree holding the extension).
pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
as_pg=()
[ "$(id -u)" -eq 0 ] && as_pg=(runuser -u postgres --)
own_cluster=""
daemon_pid=""

# A work dir under /tmp, removed on exit together with the cluster and a daemon left running.
setup_work_dir() { # name
  work=$(mktemp -d "/tmp/duckpipe-$1-XXXXXX")
  trap cleanup_work_dir EXIT
}

cleanup_work_dir() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
  stop_cluster
  rm -rf "$work"
}

start_cluster() { # extra postgresql.conf lines on stdin (optional)
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)
  chmod 755 "$work"
  [ "$(id -u)" -eq 0 ] && chown postgres "$work"
  "${as_pg[@]}" "$pg_bin/initdb" -D "$work/pg" -U postgres --auth=trust --no-sync >/dev/null
  {
    echo "wal_level = logical"
    echo "port = $port"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$work'"
    echo "fsync = off"
    echo "max_replication_slots = 20"
    echo "max_wal_senders = 20"
    [ -t 0 ] || cat
  } >>"$work/pg/postgresql.auto.conf"
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w start >/dev/null
  own_cluster=1
  export DUCKPIPE_SOURCE="host=$work port=$port user=postgres dbname=postgres"
}

stop_cluster() {
  if [ -n "$own_cluster" ]; then
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/pg" -m fast -w stop >/dev/null 2>&1 || true
  fi
}
