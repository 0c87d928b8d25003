#!/bin/bash
# Runs every integration script (tests/it_*.sh) and totals the results.
# Usage: tests/run-integration.sh BUILD/p2v [--before CMD] [SCRIPT...]
#                                  [--also OTHER/p2v SCRIPT...]
# --before runs CMD (make check: the unit tests) once the background
# scripts have started, before the foreground ones; its failure counts.
# --also runs more scripts with another build (make check: the sanitizer
# build's subset), scheduled with the rest.
#
# A script says how it shares the machine in a "# p2v-test:" line near its
# top:
#   background  spends its time in one emulated CPU (QEMU TCG, libguestfs's
#               appliance): it starts first and runs beside the others, its
#               output shown when it ends;
#   alone       measures or races timing (freeze timeouts, concurrent
#               commits, load): it runs after the background scripts have
#               ended, with nothing beside it;
# anything else runs in the foreground, one after another, while the
# background scripts run.  CI has two cores: the background scripts use
# the one the foreground leaves idle.
set -u
main_bin=$(realpath "$1"); shift
cd "$(dirname "$0")/.."
scripts=() also=() other_bin='' before=''
while (($#)); do
    if [ "$1" = --before ]; then
        before=$2; shift 2; continue
    fi
    if [ "$1" = --also ]; then
        other_bin=$(realpath "$2"); shift 2
        also=("$@")
        break
    fi
    scripts+=("$1"); shift
done
[ ${#scripts[@]} -gt 0 ] || scripts=(tests/it_*.sh)
[ "$(id -u)" = 0 ] || echo "note: integration tests need root (FUSE mounts, other users)" >&2
kind_of() { sed -n '1,5s/^# p2v-test: \([a-z]*\).*/\1/p' "$1" | head -1; }
# Each entry is BINARY:SCRIPT.
bg=() fg=() alone=()
classify() {
    local s
    for s in "${@:2}"; do
        case $(kind_of "$s") in
            background) bg+=("$1:$s") ;;
            alone) alone+=("$1:$s") ;;
            *) fg+=("$1:$s") ;;
        esac
    done
}
classify "$main_bin" "${scripts[@]}"
[ -z "$other_bin" ] || classify "$other_bin" "${also[@]}"
pass=0 fail=0 broken=()
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# run BINARY:SCRIPT LOG: runs it with its result file and its time beside LOG.
run() {
    local start=$SECONDS
    rm -f "$2.res"
    P2V=${1%%:*} RESULT_FILE=$2.res bash "${1#*:}" >"$2" 2>&1
    echo $? >"$2.rc"
    echo "$((SECONDS - start))" >"$2.time"
}
# report BINARY:SCRIPT LOG: prints a finished script's output and counts it.
report() {
    local p f rc
    echo "== ${1#*:}$([ "${1%%:*}" = "$main_bin" ] || echo " (${1%%:*})")"
    cat "$2"
    read -r p f <"$2.res" || { p=0; f=1; }
    rc=$(cat "$2.rc")
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1   # a script that died counts as a failure
    pass=$((pass + p)); fail=$((fail + f))
    [ "$f" -eq 0 ] || broken+=("${1#*:}")
    echo "   ($(cat "$2.time") s)"
}

# The background scripts yield to the foreground (nice): theirs is the
# emulated CPU's work, the foreground's includes timing.
pids=()
for i in "${!bg[@]}"; do
    run "${bg[$i]}" "$out/bg$i" &
    pids+=($!)
    renice -n 10 -p $! >/dev/null
done
if [ -n "$before" ]; then
    echo "== $before"
    start=$SECONDS
    if bash -c "$before"; then
        echo "   ($((SECONDS - start)) s)"
    else
        fail=$((fail + 1)); broken+=("$before")
        echo "   FAILED ($((SECONDS - start)) s)"
    fi
fi
for s in "${fg[@]}"; do
    run "$s" "$out/fg"
    report "$s" "$out/fg"
done
for i in "${!bg[@]}"; do
    wait "${pids[$i]}"
    report "${bg[$i]}" "$out/bg$i"
done
for s in "${alone[@]}"; do
    run "$s" "$out/fg"
    report "$s" "$out/fg"
done
[ ${#broken[@]} -eq 0 ] || echo "failing scripts: ${broken[*]}"
echo "integration: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
