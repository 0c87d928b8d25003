#!/bin/bash
# Runs every integration script (tests/it_*.sh) and totals the results.
# Usage: tests/run-integration.sh BUILD/p2v [SCRIPT...]
# Scripts in BESIDE spend their time in one single-threaded emulated CPU
# (QEMU/TCG: libguestfs's appliance, boot tests); they start first and run
# beside the others, which use the second core, and their output is
# printed when they end.  P2V_SERIAL=1 runs everything one after another.
set -u
export P2V=$(realpath "$1"); shift
cd "$(dirname "$0")/.."
scripts=("$@")
[ ${#scripts[@]} -gt 0 ] || scripts=(tests/it_*.sh)
[ "$(id -u)" = 0 ] || echo "note: integration tests need root (FUSE mounts, other users)" >&2
BESIDE=(tests/it_linux.sh)
pass=0 fail=0 broken=()

# tally SCRIPT RC RESULT_FILE START
tally() {
    local p f
    read -r p f <"$3" || { p=0; f=1; }
    rm -f "$3"
    [ "$2" -ne 0 ] && [ "$f" -eq 0 ] && f=1   # a script that died counts as a failure
    pass=$((pass + p)); fail=$((fail + f))
    [ "$f" -eq 0 ] || broken+=("$1")
    echo "   ($((SECONDS - $4)) s)"
}

declare -A bg_pid bg_log bg_res bg_start
fg=()
for s in "${scripts[@]}"; do
    beside=0
    for b in "${BESIDE[@]}"; do [ "$s" = "$b" ] && beside=1; done
    if ((beside)) && [ "${P2V_SERIAL:-0}" != 1 ] && [ ${#scripts[@]} -gt 1 ]; then
        bg_res[$s]=$(mktemp) bg_log[$s]=$(mktemp) bg_start[$s]=$SECONDS
        RESULT_FILE=${bg_res[$s]} bash "$s" >"${bg_log[$s]}" 2>&1 &
        bg_pid[$s]=$!
        echo "== $s: started beside the others (its output follows at the end)"
    else
        fg+=("$s")
    fi
done
for s in "${fg[@]}"; do
    echo "== $s"
    res=$(mktemp)
    start=$SECONDS
    RESULT_FILE=$res bash "$s"
    tally "$s" $? "$res" "$start"
done
for s in "${!bg_pid[@]}"; do
    wait "${bg_pid[$s]}"
    rc=$?
    echo "== $s (ran beside the others)"
    cat "${bg_log[$s]}"
    rm -f "${bg_log[$s]}"
    tally "$s" "$rc" "${bg_res[$s]}" "${bg_start[$s]}"
done
[ ${#broken[@]} -eq 0 ] || echo "failing scripts: ${broken[*]}"
echo "integration: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
