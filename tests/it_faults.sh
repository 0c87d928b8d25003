#!/bin/bash
# Fault injection.  (1) Source read errors (badfuse) while 8 readers and a
# p2v commit read a view: exact EIO, the other reads right, the LBAs
# logged, the commit fails naming the offset and resumes on a --bad-sectors
# zero mount.  (2) A state directory that fills up (a small tmpfs, at sizes
# around each step of an apply), is read-only, or turns read-only during
# `fixup apply` (ext4 errors=remount-ro, an error triggered through sysfs at
# a random point): a clear failure, the state reopens (read-only too) and
# shows the old or the new state, applying again gives the new one.  (3) The
# same for the commit destination: full, turned read-only part way; the
# rerun resumes, byte-identical.  (4) fusermount3 -uz while 8 readers and an
# rsync read the view: no wrong bytes, the daemon exits cleanly once they
# let go, a new mount serves the same bytes.  (5) SIGKILL of p2v mount the
# moment it says ready: the view serves on, never a stale mount; then
# SIGKILL at random moments of fixup apply, mount start-up (the dynamic
# scan) and commit, SOAK_N times (default 6; tests/soak.sh runs 100).
# Sources hashed before and after.  Random points come from FAULTS_SEED
# (printed).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults_lib.sh"
BADFUSE=${BADFUSE:-$(dirname "$P2V")/badfuse}
echo "  (random points from FAULTS_SEED=$FAULTS_SEED)"
section() { echo "-- $* (at $SECONDS s)"; }
# reapply STATE: B applied again, then look; OUTCOME says why if it fails.
reapply() {
    if apply_plan "$1" B; then
        look "$1"
    else
        OUTCOME="the apply failed: $(grep -v 'writing 4096' "$T/apply.err" | head -n 2 | tr '\n' ' ')"
    fi
}

journal_chunks() { local n; n=$(grep -c '^[0-9]* ' "$1" 2>/dev/null); echo "${n:-0}"; }
resumed_at() { sed -n 's/^p2v: resuming .* at byte \([0-9]*\) of [0-9]*.*/\1/p' "$1" | head -1 | grep . || echo none; }

if ! kill_setup; then
    finish
    exit
fi

# ---- 1. Source read errors ------------------------------------------------
section "source read errors (badfuse) during reads and a commit"
bsrc=$T/bsrc.img
make_mixed "$bsrc" 96 3   # 192 MiB: its fixed VHD is three commit chunks
B_HASH=$(sha "$bsrc")
# 8 sectors in a random block of chunk 1, one in a zero block of chunk 1,
# two in chunk 2.  A fixed VHD keeps the source's offsets.
BAD=135300-135307,163845,300001-300002
BAD_LBAS='[[135300,8],[163845,1],[300001,2]]'
FIRST_BAD=$((135300 * 512))
bf=$T/bf bm=$T/bm
mkdir -p "$bf" "$bm"
if [ -x "$BADFUSE" ]; then
    MOUNTS+=("$bf" "$bm")
    check "badfuse serves the source with bad sectors" "$BADFUSE" "$bsrc" "$bf" ${BAD//,/ }
    "$P2V" mount -f --type fixed "$bf/disk" "$bm" 2>"$T/bm.log" &
    BMP=$!
    BG+=("$BMP")
    check "a fixed view of it (foreground, default --bad-sectors fail) is ready" \
        wait_until 60 grep -q "ready: $bm" "$T/bm.log"
    # The reference: the source, then the view's footer.
    cp "$bsrc" "$T/bref" && tail -c 512 "$bm/disk.vhd" >>"$T/bref"
    HOT=2 start_readers 8 "$bm/disk.vhd" "$T/br" --ref "$T/bref" --bad "$BAD" \
        --stop-file "$T/br.stop" --seed "$FAULTS_SEED" --min-reads 100
    wait_until 60 readers_at_least "$T/br" 8 10 || bad "the readers did not start reading"
    "$P2V" commit -q "$bm" "$T/bd" >/dev/null 2>"$T/bc.err"
    rc=$?
    wait_until 60 readers_at_least "$T/br" 8 100 || bad "the readers did not get to 100 reads each"
    touch "$T/br.stop"
    wait_readers
    sum_readers "$T/br" 8
    check_eq "commit through bad sectors: exit 1" 1 "$rc"
    at=$(sed -n "s|^p2v: error: reading $bm/disk.vhd failed at byte \([0-9]*\) (512-byte sector [0-9]* of the image): Input/output error.*--bad-sectors zero.*|\1|p" "$T/bc.err")
    check_eq "commit: 'reading MNT/disk.vhd failed at byte N (sector...)', N the first bad sector's (a fixed VHD keeps offsets), and the way out (--bad-sectors zero)" \
        "$FIRST_BAD" "${at:-none}"
    check_eq "commit: the partial kept, chunk 0 journaled, no disk.vhd" "1 yes" \
        "$(journal_chunks "$T/bd/.disk.vhd.p2v-journal") $([ -s "$T/bd/.disk.vhd.p2v-partial" ] && [ ! -e "$T/bd/disk.vhd" ] && echo yes)"
    check_eq "readers: none stopped by its watchdog (no deadlock)" 0 "$WATCHDOG"
    check_eq "readers: all 8 reported" 8 "$(sum_key "$T/br" readers)"
    check_eq "readers: no wrong bytes, nothing read through a bad sector" 0 "$(sum_key "$T/br" mismatches)"
    check_eq "readers: no error or short read away from the bad sectors (others unaffected)" 0 "$(sum_key "$T/br" unexpected)"
    check "readers: the two aimed at the bad sectors got EIO ($(sum_key "$T/br" errors), $(sum_key "$T/br" reads) reads)" \
        test "$(json_key "$T/br.r0" errors.EIO)" -gt 0 -a "$(json_key "$T/br.r1" errors.EIO)" -gt 0
    [ "$(sum_key "$T/br" mismatches)$(sum_key "$T/br" unexpected)" = 00 ] || sum_key "$T/br" notes
    logged=$(python3 - "$T/bm.log" <<'PY'
import json, re, sys
lbas = set()
for a, b in re.findall(r"unreadable sectors? LBA (\d+)(?:-(\d+))?", open(sys.argv[1]).read()):
    lbas.update(range(int(a), (int(b) if b else int(a)) + 1))
out = []
for s in sorted(lbas):
    if out and out[-1][0] + out[-1][1] == s:
        out[-1][1] += 1
    else:
        out.append([s, 1])
print(json.dumps(out, separators=(",", ":")))
PY
)
    check_eq "the log names exactly the bad LBAs" "$BAD_LBAS" "$logged"
    check_eq "status.json lists them, policy fail" "$BAD_LBAS fail" \
        "$(python3 -c 'import json,sys; b=json.load(open(sys.argv[1]))["bad_sectors"]; print(json.dumps([[r["lba"],r["count"]] for r in b["ranges"]],separators=(",",":")), b["policy"])' "$bm/status.json" 2>&1)"
    check "the view's process is still running" alive "$BMP"
    check "p2v umount" p2v_umount "$bm"
    reap "$BMP"
    check_eq "the view's process exits 0 (no crash)" 0 $?
    # The same destination, from a --bad-sectors zero mount: resumes.
    python3 - "$bsrc" "$T/bzero.img" "$BAD_LBAS" <<'PY'
import json, sys
d = bytearray(open(sys.argv[1], "rb").read())
for a, n in json.loads(sys.argv[3]):
    d[a * 512:(a + n) * 512] = bytes(n * 512)
open(sys.argv[2], "wb").write(d)
PY
    check "mount --bad-sectors zero" p2v_mount "$bf/disk" "$bm" --type fixed --bad-sectors zero
    hz=$(sha "$bm/disk.vhd")
    "$P2V" commit "$bm" "$T/bd" >/dev/null 2>"$T/bc.err"
    check_eq "commit from the --bad-sectors zero mount: exit 0" 0 $?
    check_eq "it resumes after chunk 0" "$CHUNK" "$(resumed_at "$T/bc.err")"
    check_eq "the copy is the zero mount's disk.vhd (sha256)" "$hz" "$(sha "$T/bd/disk.vhd")"
    check_eq "the copy holds the source with the bad sectors zeroed (qemu-img compare)" "Images are identical." \
        "$(qemu-img compare -f vpc -F raw "$T/bd/disk.vhd" "$T/bzero.img" 2>&1)"
    check "p2v umount (zero)" p2v_umount "$bm"
    # p2v umount returns once the view's process has let go of the source
    # (no state, no snapshot: it waits for the process's lock), so the
    # file system holding the source unmounts at once.
    check "badfuse unmounts right after p2v umount (the source is closed)" fusermount3 -u "$bf"
    check "the view's process ends" wait_until 20 no_view_process "$bm"
    rm -rf "$T/bd" "$T/bref" "$T/bzero.img"
else
    bad "the badfuse helper is not built ($BADFUSE)"
fi
check_eq "the badfuse source is unchanged" "$B_HASH" "$(sha "$bsrc")"
rm -f "$bsrc"

# ---- 2. The state directory: full, read-only, turning read-only ---------
section "a state directory that fills up during fixup apply (tmpfs)"
TF=$T/tf E=$T/e4 EIMG=$T/e4.img
mkdir -p "$TF" "$E"
FS_MOUNTS+=("$TF" "$E")
pages_of() { local t=0 f s; for f in "$1"/*; do s=$(stat -c %s "$f"); t=$((t + (s + 4095) / 4096)); done; echo $t; }
base=$(pages_of "$T/S0") full=$(pages_of "$T/REF")
# From room for a little of B's data to room for all of it: the apply runs
# out of space while writing data (the first two), the index (full - 3),
# or the report (full - 1; full + 1 is enough).
for pg in $((base + 1)) $(((base + full) / 2)) $((full - 3)) $((full - 1)) $((full + 1)); do
    what="ENOSPC, $pg pages for $full"
    if ! mount -t tmpfs -o size=$((pg * 4096)),mode=0700 p2v-it-faults "$TF" || ! cp -a "$T/S0" "$TF/S"; then
        bad "$what: setting up the tmpfs failed"
        mountpoint -q "$TF" && umount "$TF"
        continue
    fi
    apply_plan "$TF/S" B
    rc=$?
    msg=$(grep -v 'writing 4096 bytes' "$T/apply.err" | head -n 2 | tr '\n' ' ')
    look "$TF/S"
    if [ $rc = 0 ]; then
        check_eq "$what: the apply succeeded, so the state shows A+B" A+B "$OUTCOME"
    else
        check "$what: exit 1, says so ($msg)" grep -q 'No space left on device' "$T/apply.err"
        if grep -q 'nothing was applied' "$T/apply.err"; then
            check_eq "$what: it says nothing was applied: the state reopens and shows A" A "$OUTCOME"
        elif grep -q 'applied and saved' "$T/apply.err"; then
            check_eq "$what: it says the fix-ups were saved but not their report: the state shows A+B" A+B "$OUTCOME"
            check "$what: and a mount warns that the old report does not describe them" \
                grep -q 'does not describe' "$T/look.err"
        else
            check "$what: the state reopens and shows A or A+B ($OUTCOME)" test "$OUTCOME" = A -o "$OUTCOME" = A+B
        fi
    fi
    mount -o remount,size=64m "$TF"
    reapply "$TF/S"
    check_eq "$what: with room, B applied again gives A+B" A+B "$OUTCOME"
    check "$what: and its report describes the overlay (no warning on mount)" \
        bash -c "! grep -q 'does not describe' '$T/look.err'"
    umount "$TF"
done

section "a read-only state directory (mount -o remount,ro before the apply)"
mount -t tmpfs -o size=64m,mode=0700 p2v-it-faults "$TF" && cp -a "$T/S0" "$TF/S" && mount -o remount,ro "$TF"
check_fails "read-only: the apply fails clearly" 'Read-only file system' \
    "$P2V" fixup apply --state "$TF/S" --plan "$P/B.plan" "$W"
look "$TF/S"
check_eq "read-only: the state still opens, showing A" A "$OUTCOME"
mount -o remount,rw "$TF"
reapply "$TF/S"
check_eq "read-only: made writable again, B gives A+B" A+B "$OUTCOME"
umount "$TF"

# A file system does not go read-only under open files by `mount -o
# remount,ro` (EBUSY), but it does when it hits an error: ext4 with
# errors=remount-ro, the error triggered through sysfs while the apply
# writes overlay.data (a random size between A's and A+B's).
section "a state directory that turns read-only during fixup apply (ext4 error)"
ext4_mount() {  # ext4_mount IMG DIR: mounts it; EDEV = its sysfs name
    mount -o loop,errors=remount-ro "$1" "$2" && EDEV=$(basename "$(findmnt -no SOURCE "$2")") \
        && [ -e "/sys/fs/ext4/$EDEV/trigger_fs_error" ]
}
ext4_repair() {  # ext4_repair IMG DIR: unmount, e2fsck, mount again
    umount "$2" || return 1
    e2fsck -fy "$1" >"$T/fsck.out" 2>&1
    [ $? -lt 4 ] || { cat "$T/fsck.out"; return 1; }
    ext4_mount "$1" "$2"
}
for round in 1 2; do
    rm -f "$EIMG"
    truncate -s 64M "$EIMG"
    if ! mkfs.ext4 -q -F "$EIMG" || ! ext4_mount "$EIMG" "$E" || ! cp -a "$T/S0" "$E/S" || ! sync; then
        bad "round $round: setting up ext4 failed"
        mountpoint -q "$E" && umount "$E"
        continue
    fi
    rnd $((D0 + 1)) "$D1"
    fault_at size "$E/S/overlay.data" "$R" 0 "echo p2v-it-faults >/sys/fs/ext4/$EDEV/trigger_fs_error" \
        --out /dev/null --err "$T/apply.err" -- "$P2V" fixup apply --state "$E/S" --plan "$P/B.plan" "$W"
    rc=$FA_RC
    what="read-only at overlay.data >= $R bytes"
    check "$what: the file system is read-only now" bash -c "! touch '$E/x' 2>/dev/null"
    finished=0
    if [ "$FA_HIT" != hit ]; then
        echo "  ..   round $round: the apply ended before the error (exit $rc)"
    elif [ "$rc" = 0 ] && ! grep -qE 'Read-only file system|Input/output error' "$T/apply.err"; then
        # The size was reached by the last writes: the error, triggered
        # from outside, landed after the apply's final commit.
        echo "  ..   round $round: the error came after the apply's last write (exit 0)"
        finished=1
    else
        check_eq "$what: the apply fails (exit 1)" 1 "$rc"
        check "$what: it says why: read-only, or the I/O error of the aborted journal ($(grep -v 'writing 4096' "$T/apply.err" | head -n 1))" \
            grep -qE 'Read-only file system|Input/output error' "$T/apply.err"
    fi
    look "$E/S"
    if [ $finished = 1 ]; then
        check_eq "$what: the apply that finished left A+B" A+B "$OUTCOME"
    elif grep -q 'nothing was applied' "$T/apply.err"; then
        check_eq "$what: the state reopens on the read-only file system and shows A (nothing was applied, it says)" A "$OUTCOME"
    else
        check "$what: the state reopens on the read-only file system, A or A+B ($OUTCOME)" test "$OUTCOME" = A -o "$OUTCOME" = A+B
    fi
    check "$what: unmounted, e2fsck, mounted again" ext4_repair "$EIMG" "$E"
    look "$E/S"
    check "$what: after the repair the state opens, A or A+B ($OUTCOME)" test "$OUTCOME" = A -o "$OUTCOME" = A+B
    reapply "$E/S"
    check_eq "$what: B applied again gives A+B" A+B "$OUTCOME"
    umount "$E"
done

# ---- 3. The commit destination: full, turning read-only -----------------
section "a commit destination that fills up or turns read-only"
MR=$T/mref
check "mount through REF (dynamic)" p2v_mount "$W" "$MR" --type dynamic --state "$T/REF"
mount -t tmpfs -o size=$((CHUNK + MiB)),mode=0700 p2v-it-faults "$TF"
check_fails "too small a destination: refused before copying, naming both numbers" \
    "$TF/d has [0-9]+ bytes free, and the copy of $MR/disk.vhd needs $IMG_SIZE more bytes there" \
    "$P2V" commit "$MR" "$TF/d"
check_eq "too small a destination: nothing left in it" "" "$(ls -A "$TF/d" 2>/dev/null)"
# Room at the start, taken by another writer part way: ENOSPC during the copy.
mount -o remount,size=$((IMG_SIZE + 64 * MiB)) "$TF"
fault_at size "$TF/d/.disk.vhd.p2v-partial" $((CHUNK + 1)) 0 "dd if=/dev/zero of=$TF/filler bs=1M status=none 2>/dev/null" \
    --out /dev/null --err "$T/n.err" -- "$P2V" commit "$MR" "$TF/d"
check_eq "full destination: the filler ran part way, the commit failed (exit 1)" "hit 1" "$FA_HIT $FA_RC"
check "full destination: says it is full, the part is kept, resume" \
    grep -qE 'the destination is full.*kept.*resume' "$T/n.err"
nj=$(journal_chunks "$TF/d/.disk.vhd.p2v-journal")
check "full destination: a chunk journaled ($nj), the partial kept, no disk.vhd" \
    bash -c "[ $nj -ge 1 ] && [ -s '$TF/d/.disk.vhd.p2v-partial' ] && [ ! -e '$TF/d/disk.vhd' ]"
rm -f "$TF/filler"
"$P2V" commit "$MR" "$TF/d" >/dev/null 2>"$T/n.err"
check_eq "with room: the rerun succeeds" 0 $?
check_eq "with room: it resumes after the journaled chunks" $((nj * CHUNK)) "$(resumed_at "$T/n.err")"
check_eq "with room: byte-identical (sha256)" "$H_IMG" "$(sha "$TF/d/disk.vhd")"
umount "$TF"
for round in 1 2; do
    rm -f "$EIMG"
    truncate -s 320M "$EIMG"
    if ! mkfs.ext4 -q -F "$EIMG" || ! ext4_mount "$EIMG" "$E"; then
        bad "commit round $round: setting up ext4 failed"
        continue
    fi
    rnd "$MiB" $((IMG_SIZE - 1))
    fault_at size "$E/d/.disk.vhd.p2v-partial" "$R" 0 "echo p2v-it-faults >/sys/fs/ext4/$EDEV/trigger_fs_error" \
        --out /dev/null --err "$T/n.err" -- "$P2V" commit -q "$MR" "$E/d"
    rc=$FA_RC
    what="destination read-only at $R bytes"
    if [ "$FA_HIT" != hit ]; then
        echo "  ..   commit round $round: the commit ended before the error (exit $rc)"
    else
        check_eq "$what: commit fails (exit 1)" 1 "$rc"
        check "$what: says so and how to resume ($(head -c 200 "$T/n.err"))" \
            grep -qE '(Read-only file system|Input/output error).*make the destination writable.*resume' "$T/n.err"
    fi
    check "$what: unmounted, e2fsck, mounted again" ext4_repair "$EIMG" "$E"
    "$P2V" commit "$MR" "$E/d" >/dev/null 2>"$T/n.err"
    check_eq "$what: the rerun succeeds (resumed at $(resumed_at "$T/n.err"))" 0 $?
    check_eq "$what: byte-identical (sha256)" "$H_IMG" "$(sha "$E/d/disk.vhd")"
    check "$what: SHA256SUMS checks out" bash -c "cd '$E/d' && sha256sum --quiet -c SHA256SUMS"
    umount "$E"
done
rm -f "$EIMG"
umount_state "$MR" "$T/REF"

# ---- 4. fusermount3 -uz under 8 readers and an rsync ----------------------
section "fusermount3 -uz while 8 readers and rsync read the view"
ML=$T/ml
mkdir -p "$ML" "$T/rs"
MOUNTS+=("$ML")
"$P2V" mount -f --type dynamic --state "$T/REF" "$W" "$ML" 2>"$T/ml.log" &
MLP=$!
BG+=("$MLP")
check "a foreground view is ready" wait_until 60 grep -q "ready: $ML" "$T/ml.log"
# Readers 6 and 7 reopen the file every 8 reads: after the unmount their
# opens fail.  The others keep their descriptor, which the kernel keeps
# serving.
REOPEN=2 start_readers 8 "$ML/disk.vhd" "$T/lr" --ref "$T/cref/disk.vhd" \
    --stop-file "$T/lr.stop" --seed "$FAULTS_SEED"
wait_until 60 readers_at_least "$T/lr" 8 20 || bad "the readers did not start reading"
rnd $((IMG_SIZE / 10)) $((IMG_SIZE * 7 / 10))
fault_at size "$T/rs/disk.vhd" "$R" 0 "fusermount3 -uz '$ML'" --out /dev/null --err "$T/rs.out" -- \
    rsync --inplace "$ML/disk.vhd" "$T/rs/"
rsrc=$FA_RC
if [ "$FA_HIT" != hit ]; then
    echo "  ..   rsync ended before $R bytes; unmounting now"
    fusermount3 -uz "$ML"
fi
check_eq "the view is detached" none "$(mnt_state "$ML")"
n0=$(readers_attempts "$T/lr" 8)
wait_until 60 readers_at_least "$T/lr" 8 $((n0 + 20)) || bad "the readers did not go on after the unmount"
touch "$T/lr.stop"
wait_readers
sum_readers "$T/lr" 8
check_eq "readers: none stopped by its watchdog" 0 "$WATCHDOG"
check_eq "readers: all 8 reported" 8 "$(sum_key "$T/lr" readers)"
check_eq "readers: no wrong bytes ($(sum_key "$T/lr" reads) reads; errors: $(sum_key "$T/lr" errors))" \
    0 "$(sum_key "$T/lr" mismatches)"
[ "$(sum_key "$T/lr" mismatches)" = 0 ] || sum_key "$T/lr" notes
if [ $rsrc = 0 ]; then
    check "rsync finished (exit 0) through its open descriptor: its copy is identical" cmp "$T/rs/disk.vhd" "$T/cref/disk.vhd"
else
    ok "rsync failed (exit $rsrc: $(tail -n 1 "$T/rs.out")), which is allowed"
fi
check "the daemon exits once the last reader let go" wait_until 60 gone "$MLP"
reap "$MLP"
check_eq "the daemon exits 0 (no crash)" 0 $?
grep -i 'error' "$T/ml.log" | head -n 3 | sed 's/^/  ..   view log: /'
check "a new mount" p2v_mount "$W" "$ML" --type dynamic --state "$T/REF"
check_eq "the new mount serves identical bytes (sha256)" "$H_IMG" "$(sha "$ML/disk.vhd")"
umount_state "$ML" "$T/REF"

# ---- 5. SIGKILL at random moments -------------------------------------------
# First the last moment of a mount's start-up, which random moments seldom
# hit: the FUSE mount is made and "ready:" is printed.  p2v mount forks
# before it mounts, so what is killed here is only the command waiting for
# its view: the view must go on serving.  Five kills the moment the line
# appears.
section "SIGKILL of p2v mount the moment it says ready"
MK=$T/mk
mkdir -p "$MK"
MOUNTS+=("$MK")
# What a view of W serves (scrubbed, so not W's own bytes).
p2v_mount "$W" "$T/mkref"
n_stale=0 n_live=0 n_none=0
for i in 1 2 3 4 5; do
    fault_at lines "$T/mk.err" 2 0 kill9 --out /dev/null --err "$T/mk.err" -- "$P2V" mount --type fixed "$W" "$MK"
    wait_until 20 mount_settled "$MK"
    case $(mnt_state "$MK") in
        none) n_none=$((n_none + 1)) ;;
        live) cmp -s -n "$(size_of "$W")" "$MK/disk.vhd" "$T/mkref/disk.raw" && n_live=$((n_live + 1)) ||
                echo "  ..   kill $i: the live view does not serve the view's bytes"
            p2v_umount "$MK" ;;
        stale) n_stale=$((n_stale + 1)); fusermount3 -uz "$MK" ;;
    esac
done
p2v_umount "$T/mkref"
echo "  ..   5 kills at the ready line: $n_stale stale mounts, $n_live live views, $n_none not mounted"
check_eq "a kill at the ready line leaves the view serving (the right bytes), never a stale mount" 5 "$n_live"
check "no p2v process left serving $MK" wait_until 20 no_view_process "$MK"

section "SIGKILL at random moments of fixup apply, mount start-up and commit"
kill_loop "${SOAK_N:-6}"

check_eq "the fixture is unchanged" "$W_HASH" "$(sha "$W")"
check_eq "nothing of this test is left mounted" "" "$(fuse_mounts_under "$T")"
((LATE == 0)) || echo "  ..   note: $LATE times the state was still locked when p2v umount returned"
finish
