#!/usr/bin/env bash
# `make bench` (full) / `make bench-quick`: installs the suite's own dependencies (as install-deps.sh
# does for the build), builds the private PostgreSQL tree holding this build's extension, and runs
# bench.py with Debian's Python. Extra arguments go to bench.py (e.g. --only snapshot,steady).
set -euo pipefail
build=$(realpath "${1:-build}")
mode=${2:-full}
shift 2 || true
src=$(realpath "$(dirname "$0")/..")

# Why each package: bench/README.md ("Dependencies").
apt_packages=(python3 python3-psycopg2 sysbench gnuplot-nox)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

pg_bin=$(bash "$src/scripts/pg_private_tree.sh" "$build")
exec /usr/bin/python3 "$src/bench/bench.py" --mode "$mode" --build "$build" --pg-bin "$pg_bin" \
  --date "$(date -u +%Y-%m-%dT%H%MZ)" "$@"
