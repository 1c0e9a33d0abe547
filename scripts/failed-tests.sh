#!/usr/bin/env bash
# Printed by `make test` after ctest fails: each failed GoogleTest case and the first lines of its
# failure, from ctest's LastTest.log. ctest prints a failing suite's whole output, which for the
# long suites is thousands of lines; a reader who sees only the end of the output (a CI page cut in
# the middle) should still see which test failed and why.
set -uo pipefail
log="${1:?usage: failed-tests.sh <build>/Testing/Temporary/LastTest.log}"
lines_per_failure="${2:-25}"
[[ -f "$log" ]] || { echo "failed-tests.sh: no $log (did ctest run?)" >&2; exit 0; }

echo
echo "==== failed tests (from $log) ===="
# A failure block starts at "<file>:<line>: Failure" and ends at the next GoogleTest status line.
awk -v max="$lines_per_failure" '
	/^[0-9]+\/[0-9]+ Testing: / { suite = $3 }
	/: Failure$/ { printing = 1; shown = 0; print "---- " suite ": " $0; next }
	/^\[  FAILED  \] .* \([0-9]+ ms\)$/ { failed[++n] = suite ": " $0 }
	/^\[ +(RUN|OK|FAILED) +\]/ { printing = 0 }
	printing { if (shown++ < max) print; else if (shown == max + 1) print "  [...]" }
	END { print "---- summary"; for (i = 1; i <= n; i++) print failed[i]; if (n == 0) print "(no GoogleTest failure lines: a crash, a timeout or a non-GoogleTest suite; see the output above)" }
' "$log"
