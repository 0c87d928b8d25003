#!/bin/bash
# Crash safety of `p2v fixup apply`: a state holding plan A gets plan B
# applied and the apply is killed with SIGKILL at a random moment, again and
# again (CRASH_ITERATIONS, default 20).  Every time the state must still
# open and show, byte for byte, A or A+B (an apply is reproducible: the
# reference states are made once, uninterrupted), never anything in between;
# the guest's hostname read by inspect must agree.  An interrupted state,
# leftover overlay.index.tmp and unindexed overlay.data included, must take
# B cleanly afterwards.  The source is hashed before and after.
. "$(dirname "$0")/lib.sh"

ITER=${CRASH_ITERATIONS:-20}
src=$T/win.img
if ! bash tests/mkwinfixture.sh "$src" --win8 2>"$T/mk.log"; then
    bad "building the fixture failed: $(cat "$T/mk.log")"
    finish
    exit
fi
before=$(hash_of "$src")

# Plan A: small.  Plan B: registry edits in both hives, the vendor services,
# and a 3 MiB file, so that an apply takes long enough to be hit in the middle.
P=$T/plans
mkdir -p "$P"
cat >"$P/A.plan" <<'PLAN'
reg-set HKLM\SOFTWARE\P2V\Test Hello sz "hello world"
reg-set HKLM\SYSTEM\CurrentControlSet\Control\CrashControl AutoReboot dword 0
PLAN
cat >"$P/B.plan" <<'PLAN'
reg-set HKLM\SOFTWARE\P2V\Test B1 sz "plan b, first value"
reg-set HKLM\SOFTWARE\P2V\Test B2 dword 42
reg-set HKLM\SOFTWARE\P2V\Crash Note expand "%SystemRoot%\p2v-big.bin"
reg-set HKLM\SYSTEM\CurrentControlSet\Services\atapi ErrorControl dword 3
reg-set HKLM\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName ComputerName sz P2V-CRASHED
disable-vendor-services
file-put big.bin %SystemRoot%\p2v-big.bin
PLAN
head -c $((3 << 20)) /dev/urandom >"$P/big.bin"

mnt=$T/mnt
mkdir -p "$mnt"
apply() {  # apply STATE PLAN
    "$P2V" fixup apply --state "$1" --plan "$P/$2.plan" "$src" >/dev/null 2>"$T/apply.err"
}
hostname_of() {  # hostname_of STATE: the guest's hostname, read by inspect through STATE
    "$P2V" inspect --state "$1" --json "$src" 2>/dev/null | grep -o '"hostname": "[^"]*"' | cut -d'"' -f4
}
# look STATE: OUTCOME = A, A+B, or what else; fails if the state does not open.
OUTCOME=''
look() {
    OUTCOME="does not open: $1"
    p2v_mount "$src" "$mnt" --state "$1" 2>"$T/mount.err" || return 1
    local h
    h=$(hash_of "$mnt/disk.raw")
    if [ "$h" = "$sha_A" ]; then
        OUTCOME=A
    elif [ "$h" = "$sha_AB" ]; then
        OUTCOME=A+B
    else
        OUTCOME="neither A nor A+B: $h"
    fi
    umount_state "$mnt" "$1"
}

# References: S0 = A (a copy of it is what every kill starts from); REF =
# A then B, uninterrupted (and timed); REF2 the same again, to show that the
# bytes do not depend on the moment of the apply.
sha_A=unset sha_AB=unset
p2v_mount "$src" "$mnt"
sha0=$(hash_of "$mnt/disk.raw")
p2v_umount "$mnt"
check "plan A applies" apply "$T/S0" A
p2v_mount "$src" "$mnt" --state "$T/S0" && sha_A=$(hash_of "$mnt/disk.raw")
umount_state "$mnt" "$T/S0"
cp -a "$T/S0" "$T/REF"
t0=$(date +%s%N)
apply "$T/REF" B
rc=$?
t1=$(date +%s%N)
check_eq "plan B applies over A" 0 "$rc"
p2v_mount "$src" "$mnt" --state "$T/REF" && sha_AB=$(hash_of "$mnt/disk.raw")
umount_state "$mnt" "$T/REF"
check "A changes the disk, B changes it further" \
    test "$sha_A" != unset -a "$sha_AB" != unset -a "$sha0" != "$sha_A" -a "$sha_A" != "$sha_AB"
cp -a "$T/S0" "$T/REF2"
check "plan B applies over A again" apply "$T/REF2" B
look "$T/REF2"
check_eq "the same plans give the same bytes at another moment" A+B "$OUTCOME"
check_eq "inspect through A: the hostname is the fixture's" P2V-TESTHOST "$(hostname_of "$T/S0")"
check_eq "inspect through A+B: B's hostname" P2V-CRASHED "$(hostname_of "$T/REF")"
dur_us=$(((t1 - t0) / 1000))
max_us=$((dur_us * 6 / 5))
echo "  ..   one apply of B takes $((dur_us / 1000)) ms; kills land in 0..$((max_us / 1000)) ms"

# The crashes.
n_open=0 n_A=0 n_AB=0 n_killed=0 n_done=0 n_host=0 n_tmp=0 n_stale=0
n_reapply=0 n_reapply_ok=0 n_clean=0 n_weird=0 n_done_bad=0
for ((i = 1; i <= ITER; i++)); do
    S=$T/S$i
    cp -a "$T/S0" "$S"
    delay=$((((RANDOM << 15) | RANDOM) % (max_us + 1)))
    "$P2V" fixup apply --state "$S" --plan "$P/B.plan" "$src" >/dev/null 2>"$T/crash.err" &
    pid=$!
    sleep "$(printf '%d.%06d' $((delay / 1000000)) $((delay % 1000000)))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rc=$?
    case $rc in
        137) n_killed=$((n_killed + 1)); how=killed ;;
        0) n_done=$((n_done + 1)); how=finished ;;
        *) n_weird=$((n_weird + 1)); how="failed (exit $rc): $(head -c 300 "$T/crash.err")" ;;
    esac
    [ -e "$S/overlay.index.tmp" ] && n_tmp=$((n_tmp + 1))
    what="iteration $i (kill after $((delay / 1000)) ms, apply $how)"
    if ! look "$S"; then
        echo "       $what: the state does not open:"
        sed 's/^/       | /' "$T/mount.err"
        continue
    fi
    n_open=$((n_open + 1))
    host=$(hostname_of "$S")
    # fixups.json is saved after the commit: a kill between the two leaves
    # A's report beside A+B's overlay.  Its first "plan" is the last apply's
    # (those in "applies" follow).
    report=$(grep -o '"plan": "[^"]*"' "$S/fixups.json" 2>/dev/null | head -n 1 | sed 's/.*\///; s/"//g')
    case $OUTCOME in
        A)
            n_A=$((n_A + 1))
            [ "$host" = P2V-TESTHOST ] && n_host=$((n_host + 1))
            [ "$report" = A.plan ] || n_stale=$((n_stale + 1)) ;;
        A+B)
            n_AB=$((n_AB + 1))
            [ "$host" = P2V-CRASHED ] && n_host=$((n_host + 1))
            [ "$report" = B.plan ] || n_stale=$((n_stale + 1)) ;;
        *) echo "       $what: $OUTCOME" ;;
    esac
    if [ "$how" = finished ] && [ "$OUTCOME" != A+B ]; then
        n_done_bad=$((n_done_bad + 1))
        echo "       $what: the apply finished, yet the state shows $OUTCOME"
    fi
    # Whatever the kill left (overlay.index.tmp, blocks past the index) must
    # not get in the way: B again, uninterrupted, gives A+B.
    if ((i % 5 == 0 || i == ITER)); then
        n_reapply=$((n_reapply + 1))
        if apply "$S" B && look "$S" && [ "$OUTCOME" = A+B ]; then
            n_reapply_ok=$((n_reapply_ok + 1))
        else
            echo "       $what: applying B again did not give A+B: $OUTCOME"
            sed 's/^/       | /' "$T/apply.err" "$T/mount.err"
        fi
        [ -e "$S/overlay.index.tmp" ] || n_clean=$((n_clean + 1))
    fi
    rm -rf "$S"
done
echo "  ..   $ITER kills: $n_killed interrupted, $n_done finished first, $n_weird failed;" \
    "$n_A left A, $n_AB left A+B; overlay.index.tmp left behind $n_tmp times;" \
    "fixups.json out of step with the overlay $n_stale times"
check_eq "every interrupted apply exited by the kill, or finished (exit 0)" 0 "$n_weird"
check_eq "every state opens after the kill" "$ITER" "$n_open"
check_eq "every state is A or A+B, never in between" "$ITER" "$((n_A + n_AB))"
check_eq "every apply that finished before its kill left A+B" 0 "$n_done_bad"
check "the kills interrupted applies: some states were left at A" test "$n_A" -gt 0
check_eq "inspect agrees with disk.raw (hostname of A or of A+B)" "$n_open" "$n_host"
check_eq "B applied again after a kill gives A+B" "$n_reapply" "$n_reapply_ok"
check_eq "no overlay.index.tmp remains after a clean apply" "$n_reapply" "$n_clean"

# What a kill can leave, made on purpose: a torn overlay.index.tmp and
# blocks appended to overlay.data that no index points at.
G=$T/G
cp -a "$T/S0" "$G"
head -c 5000 /dev/urandom >"$G/overlay.index.tmp"
head -c 12288 /dev/urandom >>"$G/overlay.data"
look "$G"
check_eq "torn overlay.index.tmp and unindexed data: the state still shows A" A "$OUTCOME"
check "... and B applies over it" apply "$G" B
look "$G"
check_eq "... giving A+B" A+B "$OUTCOME"
check "... and the stale overlay.index.tmp is gone" test ! -e "$G/overlay.index.tmp"

((LATE == 0)) || echo "  ..   note: $LATE times the state was still locked when p2v umount returned"
check_eq "source unchanged" "$before" "$(hash_of "$src")"
finish
