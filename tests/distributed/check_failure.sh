#!/usr/bin/env bash
# tests/distributed/check_failure.sh: runs a command that must FAIL, quickly and clearly.
#
# Usage: check_failure.sh LIMIT_S REGEX -- COMMAND...
# Passes when COMMAND exits non-zero within LIMIT_S seconds and its output (stdout + stderr)
# matches the extended regex REGEX. Fails when it is still running at the limit (a hang: it is
# killed), when it exits 0, or when the message is missing. The output is echoed either way.
set -uo pipefail
if [[ $# -lt 4 || $3 != "--" ]]; then
  echo "usage: $0 LIMIT_S REGEX -- COMMAND..." >&2
  exit 2
fi
limit=$1
pattern=$2
shift 3
start=$SECONDS
output=$(timeout --kill-after=5 "$limit" "$@" 2>&1)
status=$?
elapsed=$((SECONDS - start))
printf '%s\n' "$output"
echo "---- exit status $status after ${elapsed} s"
if [[ $status -eq 124 || $status -eq 137 ]]; then
  echo "FAIL: still running after ${limit} s: the failure turned into a hang"
  exit 1
fi
if [[ $status -eq 0 ]]; then
  echo "FAIL: exited 0, but this run must fail"
  exit 1
fi
if ! grep -Eq -- "$pattern" <<<"$output"; then
  echo "FAIL: the output does not match /$pattern/"
  exit 1
fi
echo "PASS: failed as expected, with the message"
