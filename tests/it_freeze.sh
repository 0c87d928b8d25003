#!/bin/bash
# p2v-test: alone (freeze timeouts and hooks race a writer)
# --freeze: an ext4 image on XFS, loop-mounted read-write, is frozen
# (FIFREEZE) around its reflink snapshot, with hooks run as HOOK freeze in
# ascending and HOOK thaw in descending order; data written before the
# mount is in the snapshot, data written after is not.  A failing or
# unsafe hook stops everything and leaves the filesystem thawed.  The
# P2V_TEST_FREEZE_FIFO seam holds p2v while frozen: a writer blocks, and
# thaws with p2v; SIGKILL of p2v or --freeze-timeout lets the watchdog
# (p2v-thaw) thaw.  --freeze needs a snapshot.
. "$(dirname "$0")/lib.sh"
export P2V_RUN_DIR=$T/run

X=$T/xfs
INNER=$T/inner
XLOOP=
BGPIDS=()    # processes this script started (p2v, writers, hooks that hang)
teardown() {
    exec 3>&- 2>/dev/null
    for m in "${MOUNTS[@]}"; do
        mountpoint -q "$m" 2>/dev/null && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; }
    done
    if mountpoint -q "$INNER" 2>/dev/null; then
        fsfreeze -u "$INNER" 2>/dev/null
        umount "$INNER" 2>/dev/null || umount -l "$INNER"
    fi
    for p in "${BGPIDS[@]}"; do alive "$p" && kill -KILL "$p" 2>/dev/null; done
    mountpoint -q "$X" 2>/dev/null && umount_busy "$X"
    [ -n "$XLOOP" ] && losetup -d "$XLOOP" 2>/dev/null
    cleanup
}
trap teardown EXIT

pstate() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1; }
blocked() { [ "$(pstate "$1")" = D ]; }
# wait_pid PID SECONDS: the exit status of a child, 124 if it outlives SECONDS
wait_pid() {
    wait_until "$2" gone "$1" || return 124
    wait "$1"
}
entries() { ls -A "$1" | paste -sd' '; }
only_source() { [ "$(entries "$srcdir")" = inner.img ]; }
list_json_len() {
    "$P2V" snapshot list --json 2>&1 | python3 -c 'import json,sys
try: print(len(json.load(sys.stdin)))
except Exception as e: print("not JSON: %s" % e)'
}
# writes_complete FILE SECONDS: a write and sync into FILE finish in time.
# If not (still frozen), thaw by hand so that the script can go on.
writes_complete() {
    sh -c 'echo x >"$1" && sync -f "$1"' sh "$1" 3>&- &
    local w=$!
    BGPIDS+=("$w")
    wait_pid "$w" "$2" && return 0
    echo "the write to $1 did not complete in $2 s (state $(pstate "$w")); thawing by hand"
    fsfreeze -u "$INNER"
    wait "$w"
    return 1
}
# The files in the root of the snapshot's ext4 (partitions/1.raw of the view).
snap_ls() { debugfs -R 'ls -p /' "$1/partitions/1.raw" 2>/dev/null | awk -F/ 'NF > 6 { print $6 }' | sort | paste -sd' '; }
live_ls() { ls -a "$INNER" | sort | paste -sd' '; }
watchdogs() {  # p2v-thaw processes of p2v PID (its child, or with this test's FIFO in its environment)
    local p
    for p in /proc/[0-9]*; do
        [ "$(cat "$p/comm" 2>/dev/null)" = p2v-thaw ] || continue
        if [ "$(awk '/^PPid:/ { print $2 }' "$p/status" 2>/dev/null)" = "$1" ] ||
           { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qxF "P2V_TEST_FREEZE_FIFO=$fifo"; then
            echo "${p#/proc/}"
        fi
    done
}

# --- an ext4 image on XFS, loop-mounted read-write -----------------------------
truncate -s 320M "$T/outer.img"
mkdir -p "$X" "$INNER"
srcdir=$X/src
src=$srcdir/inner.img
if ! { XLOOP=$(losetup -f --show "$T/outer.img") && mkfs.xfs -q "$XLOOP" && mount "$XLOOP" "$X" &&
       mkdir -p "$srcdir" && truncate -s 64M "$src" && mkfs.ext4 -q -F "$src" &&
       mount -o loop "$src" "$INNER"; } >"$T/setup.log" 2>&1; then
    bad "setup (XFS on a loop device, ext4 image in it, loop-mounted): $(cat "$T/setup.log")"
    finish
    exit
fi
mnt=$T/mnt
mkdir -p "$mnt"
fifo=$T/freeze.fifo
mkfifo "$fifo"

mkhook() {  # mkhook DIR NAME [FAIL_ON]: a hook appending "NAME ARG" to hooks.log
    mkdir -p "$1"
    cat >"$1/$2" <<EOF
#!/bin/sh
echo "$2 \$1" >>"$T/hooks.log"
[ "\$1" = freeze ] && printf '%s|%s\n' "\$P2V_SOURCE" "\$P2V_FREEZE" >"$T/hookenv.$2"
[ "\$1" != "${3:-}" ]
EOF
    chmod 0755 "$1/$2"
}
hooklog() { paste -sd'|' "$T/hooks.log"; }
mkhook "$T/hooks" 10-first
mkhook "$T/hooks" 20-second

# --- hooks and the content of the snapshot ---------------------------------------
: >"$T/hooks.log"
repeat "P2V-FREEZE-BEFORE-MOUNT " 200 >"$INNER/before.txt"   # not synced
at_mount=$(live_ls)
check "mount --snapshot reflink --freeze --hooks" \
    p2v_mount "$src" "$mnt" --snapshot reflink --freeze "$INNER" --hooks "$T/hooks"
echo "P2V-FREEZE-AFTER-MOUNT" >"$INNER/after.txt"
sync -f "$INNER/after.txt"
check_eq "hooks: freeze ascending, thaw descending" \
    "10-first freeze|20-second freeze|20-second thaw|10-first thaw" "$(hooklog)"
check_eq "hooks: P2V_SOURCE and P2V_FREEZE" "$src|$INNER" "$(cat "$T/hookenv.10-first" 2>&1)"
check "the filesystem is thawed after the mount" writes_complete "$INNER/w1" 20
cat "$mnt/status.json" >"$T/status.json" 2>&1
check_eq "status.json: provider" reflink "$(json_key "$T/status.json" snapshot.provider)"
clone=$(json_key "$T/status.json" snapshot.path)
check "the clone is in the image's directory" test "$(dirname "$clone")" = "$srcdir" -a -f "$clone"
check_eq "the snapshot has the files of mount time (not after.txt)" "$at_mount" "$(snap_ls "$mnt")"
check_eq "data written before the mount, not synced, is in the snapshot" "$(cat "$INNER/before.txt")" \
    "$(debugfs -R 'cat /before.txt' "$mnt/partitions/1.raw" 2>/dev/null)"
check "p2v umount" p2v_umount "$mnt"
check "the clone is removed" wait_until 10 only_source

# --- a failing freeze hook ------------------------------------------------------------
mkhook "$T/hooks.fail" 10-first
mkhook "$T/hooks.fail" 20-fail freeze
mkhook "$T/hooks.fail" 30-third
: >"$T/hooks.log"
"$P2V" mount -q --snapshot reflink --freeze "$INNER" --hooks "$T/hooks.fail" "$src" "$mnt" >"$T/fail.out" 2>&1
check_eq "a failing freeze hook: exit status 1" 1 "$?"
check "a failing freeze hook: the message names it" grep -q "20-fail" "$T/fail.out"
sed 's/^/       | /' "$T/fail.out"
check_eq "a failing freeze hook: the hooks already run get thaw, the rest never run" \
    "10-first freeze|20-fail freeze|10-first thaw" "$(grep -v '^20-fail thaw$' "$T/hooks.log" | paste -sd'|')"
check "a failing freeze hook: the filesystem is not frozen" writes_complete "$INNER/f" 20
check "a failing freeze hook: nothing mounted" not_mounted "$mnt"
check "a failing freeze hook: no clone left" only_source
check_eq "a failing freeze hook: no snapshot registered" 0 "$(list_json_len)"

# --- a hook that does not finish ----------------------------------------------------------
mkdir -p "$T/hooks.hang"
cat >"$T/hooks.hang/10-hang" <<EOF
#!/bin/sh
echo \$\$ >"$T/hang.pid"
exec sleep 600
EOF
chmod 0755 "$T/hooks.hang/10-hang"
t=$SECONDS
check_fails "a hook over --hook-timeout: refused, naming it" "10-hang" \
    "$P2V" mount -q --snapshot reflink --freeze "$INNER" --hooks "$T/hooks.hang" --hook-timeout 1 "$src" "$mnt"
check "--hook-timeout 1: p2v gave up in time ($((SECONDS - t)) s)" test $((SECONDS - t)) -lt 20
hang=$(cat "$T/hang.pid" 2>/dev/null)
[ -n "$hang" ] && BGPIDS+=("$hang")
check "--hook-timeout: the hook ran and was ended" test -n "$hang" && check "... the hook process is gone" wait_until 5 gone "$hang"
check "--hook-timeout: the filesystem is not frozen" writes_complete "$INNER/h" 20
check "--hook-timeout: nothing mounted, no clone" bash -c "! mountpoint -q '$mnt' && [ \"\$(ls -A '$srcdir')\" = inner.img ]"

# --- unsafe hooks -------------------------------------------------------------------------
mkhook "$T/hooks.gw" 10-ok
mkhook "$T/hooks.gw" 20-gw
chmod 0775 "$T/hooks.gw/20-gw"
: >"$T/hooks.log"
check_fails "a group-writable hook is refused, naming it" "20-gw.*writable|writable.*20-gw" \
    "$P2V" mount -q --snapshot reflink --freeze "$INNER" --hooks "$T/hooks.gw" "$src" "$mnt"
check "group-writable hook: it did not run" bash -c "! grep -q 20-gw '$T/hooks.log'"
check "group-writable hook: nothing mounted" not_mounted "$mnt"
check "group-writable hook: not frozen" writes_complete "$INNER/g" 20
mkhook "$T/hooks.ww" 10-ok
chmod 0757 "$T/hooks.ww"
: >"$T/hooks.log"
check_fails "a world-writable hook directory is refused" "writable" \
    "$P2V" mount -q --snapshot reflink --freeze "$INNER" --hooks "$T/hooks.ww" "$src" "$mnt"
check_eq "world-writable directory: no hook ran" "" "$(hooklog)"
check "world-writable directory: nothing mounted" not_mounted "$mnt"
check "unsafe hooks: no clone left" only_source

# --- the freeze FIFO seam ---------------------------------------------------------------
# start_frozen [OPTIONS]: p2v mount in the background (P2VPID), return once it
# has frozen $INNER and opened the FIFO (fd 3 of this shell holds it).  If p2v
# dies or never opens the FIFO, a rescuer opens it so that this never hangs.
start_frozen() {
    rm -f "$T/.opened" "$T/.rescued"
    MOUNTS+=("$mnt")
    P2V_TEST_FREEZE_FIFO=$fifo "$P2V" mount -q --snapshot reflink --freeze "$INNER" "$@" "$src" "$mnt" \
        >"$T/bg.out" 2>&1 &
    P2VPID=$!
    BGPIDS+=("$P2VPID")
    (
        dl=$((SECONDS + 30))
        while [ ! -e "$T/.opened" ] && alive "$P2VPID" && [ $SECONDS -lt $dl ]; do sleep 0.05; done
        [ -e "$T/.opened" ] && exit 0
        : >"$T/.rescued"
        cat "$fifo" >/dev/null
    ) &
    local rescuer=$!
    exec 3>"$fifo"
    : >"$T/.opened"
    if [ -e "$T/.rescued" ]; then
        exec 3>&-
        wait "$rescuer"
        echo "p2v never opened the FIFO: $(cat "$T/bg.out")"
        return 1
    fi
    wait "$rescuer"
}

: >"$T/hooks.log"
at_mount=$(live_ls)
check "P2V_TEST_FREEZE_FIFO: the FIFO is opened once frozen" start_frozen --hooks "$T/hooks"
wd=$(watchdogs "$P2VPID")
check "a watchdog (p2v-thaw) runs while frozen" test -n "$wd"
check_eq "the freeze hooks ran before the FIFO" "10-first freeze|20-second freeze" "$(hooklog)"
sh -c 'echo "$2" >"$1" && sync -f "$1"' sh "$INNER/during.txt" "P2V-WRITTEN-WHILE-FROZEN" 3>&- &
writer=$!
BGPIDS+=("$writer")
check "a writer to the frozen filesystem blocks (state D)" wait_until 10 blocked "$writer"
exec 3>&-
wait_pid "$P2VPID" 30
check_eq "p2v goes on when the FIFO is closed, and mounts (exit status)" 0 "$?"
sed 's/^/       | /' "$T/bg.out"
check "... the view is mounted" mountpoint -q "$mnt"
check "the writer completes after the thaw" wait_pid "$writer" 20
check_eq "the writer's data is on the live filesystem" "P2V-WRITTEN-WHILE-FROZEN" "$(cat "$INNER/during.txt" 2>&1)"
check_eq "the writer's file is not in the snapshot" "$at_mount" "$(snap_ls "$mnt")"
check_eq "thaw hooks after the snapshot" \
    "10-first freeze|20-second freeze|20-second thaw|10-first thaw" "$(hooklog)"
check "the watchdog exits after a successful thaw" wait_until 10 gone $wd
p2v_umount "$mnt"
check "the clone is removed" wait_until 10 only_source

# --- SIGKILL while frozen: the watchdog thaws ---------------------------------------------
check "SIGKILL: frozen and waiting on the FIFO" start_frozen
wd=$(watchdogs "$P2VPID")
check "SIGKILL: a watchdog runs" test -n "$wd"
check "SIGKILL: the watchdog is not the p2v process" test -n "$wd" -a "$wd" != "$P2VPID"
{ kill -KILL "$P2VPID"; wait "$P2VPID"; } 2>/dev/null   # (no "Killed" notice)
exec 3>&-
t=$SECONDS
check "SIGKILL: a write completes within the freeze timeout" writes_complete "$INNER/k" 40
check "SIGKILL: ... before the default freeze-timeout of 30 s would thaw ($((SECONDS - t)) s)" \
    test $((SECONDS - t)) -lt 25
check "SIGKILL: the watchdog exits" wait_until 10 gone $wd
check "SIGKILL: nothing mounted" not_mounted "$mnt"
check "SIGKILL before the snapshot: no clone" only_source
"$P2V" snapshot delete --stale >/dev/null 2>&1
rm -f "$srcdir"/.inner.img.p2v-snap-*   # whatever a failure above left

# --- --freeze-timeout ---------------------------------------------------------------------
check "--freeze-timeout 2: frozen and waiting on the FIFO" start_frozen --freeze-timeout 2
wd=$(watchdogs "$P2VPID")
sh -c 'echo x >"$1" && sync -f "$1"' sh "$INNER/t" 3>&- &
writer=$!
BGPIDS+=("$writer")
check "--freeze-timeout: a writer blocks (state D)" wait_until 10 blocked "$writer"
t=$SECONDS
wait_pid "$P2VPID" 30
rc=$?
check_eq "--freeze-timeout 2: p2v exits 1 while the FIFO is still held ($((SECONDS - t)) s)" 1 "$rc"
check "--freeze-timeout: the message says freeze-timeout" grep -q "freeze-timeout" "$T/bg.out"
sed 's/^/       | /' "$T/bg.out"
check "--freeze-timeout: the watchdog thawed (the writer completes, FIFO still held)" wait_pid "$writer" 20
exec 3>&-
if [ "$rc" = 124 ]; then
    wait_pid "$P2VPID" 30
    check_eq "--freeze-timeout: p2v exits 1 once the FIFO is closed, at least" 1 "$?"
    sed 's/^/       | /' "$T/bg.out"
fi
check "--freeze-timeout: the filesystem is writable" writes_complete "$INNER/t2" 20
check "--freeze-timeout: nothing mounted" not_mounted "$mnt"
check "--freeze-timeout: no clone left" wait_until 10 only_source
check_eq "--freeze-timeout: no snapshot registered" 0 "$(list_json_len)"
check "--freeze-timeout: the watchdog exits" wait_until 10 gone $wd
rm -f "$srcdir"/.inner.img.p2v-snap-*   # whatever a failure above left

# --- --freeze needs a snapshot ----------------------------------------------------------------
check_fails "--freeze with --snapshot none is refused" "freeze.*snapshot|snapshot.*freeze" \
    "$P2V" mount -q --snapshot none --allow-live --freeze "$INNER" "$src" "$mnt"
check "--freeze with none: nothing mounted" not_mounted "$mnt"
check "--freeze with none: not frozen" writes_complete "$INNER/n" 20

# --- p2v wrote nothing into the image ---------------------------------------------------------
umount "$INNER"
check "the inner filesystem is clean (e2fsck -fn)" e2fsck -fn "$src"
hi=$(hash_of "$src")
check "a reflink mount of the image at rest" p2v_mount "$src" "$mnt" --snapshot reflink --keep-free-space
check_eq "the view shows the image (partitions/1.raw)" "$hi" "$(hash_of "$mnt/partitions/1.raw")"
p2v_umount "$mnt"
check "no clone left" wait_until 10 only_source
check_eq "the image is unchanged by p2v" "$hi" "$(hash_of "$src")"
check_eq "snapshot list --json: empty at the end" 0 "$(list_json_len)"
finish
