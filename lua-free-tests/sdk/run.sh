#!/usr/bin/env bash
# Runs the SDK end-to-end tests against a running gateway.
#   ROOMS_CONNECTION_STRING='endpoint=http://127.0.0.1:PORT/;accesskey=BASE64KEY' ./run.sh [rooms] [identity]
# With no arguments both suites run. Arguments may be suite names (rooms, identity) or script files.
# Exit status is non-zero if any step of any suite failed.
set -u
cd "$(dirname "$0")" || exit 2

if [ -z "${ROOMS_CONNECTION_STRING:-}" ]; then
  echo "ROOMS_CONNECTION_STRING is not set (endpoint=http://127.0.0.1:PORT/;accesskey=BASE64KEY)" >&2
  exit 2
fi
export ROOMS_CONNECTION_STRING

# Install the pinned SDKs when node_modules is missing or older than the lock file.
# npm writes node_modules/.package-lock.json on every install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "installing pinned SDK versions (npm ci)"
  npm ci --no-audit --no-fund >npm-ci.log 2>&1 || { cat npm-ci.log >&2; echo "FAIL sdk: npm ci" >&2; exit 2; }
  rm -f npm-ci.log
fi

suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(rooms identity admission)

total_pass=0 total_fail=0 rc=0
for s in "${suites[@]}"; do
  case "$s" in
    rooms|identity|admission) script="$s-e2e.mjs" ;;
    *) script="$s" ;;
  esac
  if [ ! -f "$script" ]; then
    echo "FAIL sdk: no such test script: $script"
    rc=1; total_fail=$((total_fail + 1)); continue
  fi
  echo "== $script"
  out=$(mktemp)
  node "$script" 2>&1 | tee "$out"
  status=${PIPESTATUS[0]}
  p=$(grep -c '^PASS ' "$out"); f=$(grep -c '^FAIL ' "$out")
  rm -f "$out"
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
  if [ "$status" -ne 0 ] || [ "$f" -ne 0 ] || [ "$p" -eq 0 ]; then
    rc=1
    [ "$f" -eq 0 ] && total_fail=$((total_fail + 1)) && echo "FAIL sdk: $script exited with status $status"
  fi
done

echo "sdk-e2e: $total_pass passed, $total_fail failed"
exit $rc
