#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build and test pg_duckpipe.
# Idempotent and quiet when everything is already there.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
duck_dir="$root/third_party/duckdb"

apt_packages=(
  build-essential cmake pkg-config
  postgresql-15 postgresql-server-dev-15 postgresql-contrib libpq-dev
  libgtest-dev libgmock-dev
  nlohmann-json3-dev libcpp-httplib-dev libcli11-dev libspdlog-dev libfmt-dev
  clang-format clang-tidy
)
# npm fetches DuckDB; a machine may already have Node.js from elsewhere.
command -v npm >/dev/null 2>&1 || apt_packages+=(nodejs npm)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# DuckDB 1.4.4 (LTS) C API: the library from the node bindings package, the header from the
# duckdb package. Integrity strings are the npm registry's sha512 for exactly these versions.
lib_pkg="@duckdb/node-bindings-linux-x64@1.4.4-r.4"
lib_sri="sha512-jBTL/WvfwxLToFa/pVHfT6elMtltJGnc3wSuxZD9OfMltit9YUdVFS37vBFQzXMT1Z8OWjtSjMh+zPKxOwHLHA=="
hdr_pkg="duckdb@1.4.4"
hdr_sri="sha512-hEJJ5hyVF0VLj3dmOLpsWrQR0b3d4Ykqtygm6iUXjHJDDnSqg/USKxcb5qvNrOhFYPgktayU6dXCtgPqcmmpog=="
stamp="$duck_dir/.installed-1.4.4-r.4"

if [ ! -f "$stamp" ] || [ ! -f "$duck_dir/lib/libduckdb.so" ] || [ ! -f "$duck_dir/include/duckdb.h" ]; then
  echo "install-deps: fetching DuckDB 1.4.4 from npm"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "$lib_pkg" "$hdr_pkg" >/dev/null 2>&1)
  check() { # file expected-sri
    local got want
    got=$(sha512sum "$1" | cut -d' ' -f1)
    want=$(printf '%s' "${2#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')
    if [ "$got" != "$want" ]; then
      echo "install-deps: integrity mismatch for $1 (expected $2, got $got)" >&2
      exit 1
    fi
  }
  lib_tgz=$(ls "$work"/duckdb-node-bindings-linux-x64-*.tgz)
  hdr_tgz=$(ls "$work"/duckdb-1.4.4.tgz)
  check "$lib_tgz" "$lib_sri"
  check "$hdr_tgz" "$hdr_sri"
  mkdir -p "$duck_dir/lib" "$duck_dir/include"
  tar xzf "$lib_tgz" -C "$work" package/libduckdb.so
  cp "$work/package/libduckdb.so" "$duck_dir/lib/libduckdb.so"
  tar xzf "$hdr_tgz" -C "$work" package/src/duckdb/src/include/duckdb.h
  cp "$work/package/src/duckdb/src/include/duckdb.h" "$duck_dir/include/duckdb.h"
  touch "$stamp"
fi
