#!/usr/bin/env bash
# Runs the whole suite with node's test runner: unit tests and the integration suite against
# this checkout's bin/tsor, then the integration suite again against Debian's runc (a test that
# fails on runc is wrong, not runc). Arguments, if given, replace the default file set and run
# once, against $TSOR_RUNTIME (default bin/tsor). Prints node's report, then one closing line
# "N passed, N failed, N skipped" for everything; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
total_pass=0 total_fail=0 total_skip=0 total_todo=0 rc=0

# run LABEL RUNTIME FILES...: one node --test pass, its counts added to the totals.
run() {
  local label=$1 runtime=$2
  shift 2
  local tap="$tmp/$label.tap"
  echo "=== $label (runtime: ${runtime:-bin/tsor}) ==="
  TSOR_RUNTIME="$runtime" node --test --test-concurrency=1 --test-timeout=300000 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" \
    "$@" || rc=1
  count() { local v; v=$(grep -E "^# $1 " "$tap" | tail -1 | awk '{print $3}'); echo "${v:-0}"; }
  total_pass=$((total_pass + $(count pass)))
  total_fail=$((total_fail + $(count fail)))
  total_skip=$((total_skip + $(count skipped)))
  total_todo=$((total_todo + $(count todo)))
}

if [ "$#" -gt 0 ]; then
  run selected "${TSOR_RUNTIME:-}" "$@"
else
  # The syscall suite runs under both platforms against tsor (test/syscalls/runner.ts).
  TSOR_PLATFORMS=seccomp,ptrace run tsor "" dist/test/unit dist/test/integration
  run runc runc dist/test/integration
fi
[ "$total_todo" = 0 ] || echo "$total_todo todo (known divergences, listed with their reasons above)"
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
exit $rc
