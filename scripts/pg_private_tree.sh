#!/usr/bin/env bash
# A private PostgreSQL 15 tree in BUILD_DIR/pgtree with this build's extension installed, for tests:
# work trees and CI runs never share (or need root to write) the system's extension directory.
# PostgreSQL finds its share and lib directories relative to its own binary, so the server binaries
# are copied (a symlink would resolve back to /usr) and the rest of the system tree is linked.
set -euo pipefail
build=$(realpath "${1:?usage: pg_private_tree.sh BUILD_DIR}")
tree="$build/pgtree"
bindir=$(pg_config --bindir)
[ -x "$bindir/initdb" ] || bindir=/usr/lib/postgresql/15/bin
libdir=$(pg_config --pkglibdir)
sharedir=$(pg_config --sharedir)
rel_bin=${bindir#/}
rel_lib=${libdir#/}
rel_share=${sharedir#/}

mkdir -p "$tree/$rel_bin" "$tree/$rel_lib" "$tree/$rel_share/extension"
for tool in postgres initdb pg_ctl; do
  cmp -s "$bindir/$tool" "$tree/$rel_bin/$tool" || cp -f "$bindir/$tool" "$tree/$rel_bin/$tool"
done
for tool in psql pg_dump pg_restore pg_isready; do
  ln -sfn "$bindir/$tool" "$tree/$rel_bin/$tool"
done
for f in "$sharedir"/*; do
  [ "$(basename "$f")" = extension ] || ln -sfn "$f" "$tree/$rel_share/$(basename "$f")"
done
for f in "$sharedir"/extension/*; do
  case "$(basename "$f")" in pg_duckpipe*) ;; *) ln -sfn "$f" "$tree/$rel_share/extension/$(basename "$f")" ;; esac
done
for f in "$libdir"/*; do
  case "$(basename "$f")" in pg_duckpipe.so | libduckdb.so) ;; *) ln -sfn "$f" "$tree/$rel_lib/$(basename "$f")" ;; esac
done
DESTDIR="$tree" cmake --install "$build" --component extension >/dev/null
# The server runs as postgres: it must be able to read the tree.
chmod -R a+rX "$tree"
echo "$tree/$rel_bin"
