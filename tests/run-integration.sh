#!/bin/bash
# Runs every integration script (tests/it_*.sh) and totals the results.
# Usage: tests/run-integration.sh BUILD/p2v [SCRIPT...]
set -u
export P2V=$(realpath "$1"); shift
cd "$(dirname "$0")/.."
scripts=("$@")
[ ${#scripts[@]} -gt 0 ] || scripts=(tests/it_*.sh)
[ "$(id -u)" = 0 ] || echo "note: integration tests need root (FUSE mounts, other users)" >&2
pass=0 fail=0 broken=()
for s in "${scripts[@]}"; do
    echo "== $s"
    res=$(mktemp)
    start=$SECONDS
    RESULT_FILE=$res bash "$s"
    rc=$?
    read -r p f <"$res" || { p=0; f=1; }
    rm -f "$res"
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1   # a script that died counts as a failure
    pass=$((pass + p)); fail=$((fail + f))
    [ "$f" -eq 0 ] || broken+=("$s")
    echo "   ($((SECONDS - start)) s)"
done
[ ${#broken[@]} -eq 0 ] || echo "failing scripts: ${broken[*]}"
echo "integration: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
