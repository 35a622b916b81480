#!/usr/bin/env bash
# Runs the whole suite with node's test runner: unit tests, then the integration suite against
# the runtime in $TSOR_RUNTIME (default: this checkout's bin/tsor; `runc` for the reference).
# Prints node's summary and a closing "N passed, N failed" line; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
tap=$(mktemp)
trap 'rm -f "$tap"' EXIT
suites=("$@")
[ "${#suites[@]}" -gt 0 ] || suites=(dist/test/unit dist/test/integration)
node --test --test-concurrency=1 --test-timeout=300000 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" \
  "${suites[@]}"
rc=$?
pass=$(grep -E '^# pass ' "$tap" | tail -1 | awk '{print $3}')
fail=$(grep -E '^# fail ' "$tap" | tail -1 | awk '{print $3}')
skip=$(grep -E '^# skipped ' "$tap" | tail -1 | awk '{print $3}')
todo=$(grep -E '^# todo ' "$tap" | tail -1 | awk '{print $3}')
[ "${todo:-0}" = 0 ] || echo "${todo} todo (known divergences, listed with their reasons above)"
echo "${pass:-0} passed, ${fail:-0} failed, ${skip:-0} skipped"
exit $rc
