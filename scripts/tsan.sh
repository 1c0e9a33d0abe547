#!/usr/bin/env bash
# Runs test binaries of a ThreadSanitizer build (make tsan) one at a time and fails when any process
# (test binary or the duckpipe daemons it starts) reported a race. Usage: tsan.sh BUILD_DIR [binary...]
set -uo pipefail
build_dir=$(cd "$1" && pwd)
shift
root=$(cd "$(dirname "$0")/.." && pwd)
reports="$build_dir/tsan"
rm -rf "$reports"
mkdir -p "$reports"
chmod 0777 "$reports"
# DuckDB is not instrumented: its threads' synchronisation is invisible to TSAN (see the file).
# report_signal_unsafe: the daemon's signal handler only sets a flag. detect_deadlocks=0: DuckDB's
# jemalloc takes every arena lock in its fork handler, more than TSAN's lock-order detector can hold
# (CHECK failed in sanitizer_deadlock_detector.h). Every process writes its
# reports to $reports/report.<pid>; exitcode=0 so that a report shows as one, not as a test failure.
export TSAN_OPTIONS="suppressions=$root/test/tsan.supp:report_signal_unsafe=0:detect_deadlocks=0:halt_on_error=0:exitcode=0:history_size=4:second_deadlock_stack=1:log_path=$reports/report"

tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
	tests=(unit_tests)
	for t in "$build_dir"/test/integration_*; do
		tests+=("$(basename "$t")")
	done
fi
failed=0
for t in "${tests[@]}"; do
	echo "== tsan: $t"
	(cd "$build_dir/test" && "./$t") >"$reports/$t.out" 2>&1
	rc=$?
	tail -n 3 "$reports/$t.out"
	if [ $rc -ne 0 ]; then
		echo "== tsan: $t failed (exit $rc); output in $reports/$t.out"
		failed=1
	fi
done
if compgen -G "$reports/report.*" >/dev/null; then
	echo "== tsan: ThreadSanitizer reports:"
	grep -h "^SUMMARY: ThreadSanitizer" "$reports"/report.* | sort | uniq -c
	echo "== full reports in $reports/report.*"
	failed=1
fi
exit $failed
