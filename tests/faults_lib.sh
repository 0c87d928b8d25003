# Shared by tests/faults.sh, tests/soak.sh and tests/it_load.sh: source
# it after lib.sh.  Background processes (stopped by pid on exit), extra
# file systems (tmpfs, ext4 on a loop device: unmounted on exit), random
# readers (tests/randread.py), waits for a file to reach a size, and the
# SIGKILL loop over `fixup apply`, `mount` start-up and `commit`.
MiB=$((1 << 20))
CHUNK=$((64 << 20))   # p2v commit's chunk

# Random numbers from FAULTS_SEED (printed, so a run can be repeated).
# rnd LO HI sets R to a number in [LO, HI]; call it in this shell, never in
# $(...): a subshell's draws do not advance the sequence.
FAULTS_SEED=${FAULTS_SEED:-$(((RANDOM << 15) | RANDOM))}
RANDOM=$FAULTS_SEED
R=0
rnd() { R=$(($1 + (((RANDOM << 30) | (RANDOM << 15) | RANDOM) % ($2 - $1 + 1)))); }

BG=()          # background processes of this script
FS_MOUNTS=()   # tmpfs and ext4 mounts of this script
faults_cleanup() {
    local p m
    for p in "${BG[@]}"; do alive "$p" && kill -9 "$p" 2>/dev/null; done
    # A view whose daemon died is no mountpoint for mountpoint(1) any more.
    for m in "${MOUNTS[@]}"; do grep -q " $m fuse" /proc/mounts && fusermount3 -uz "$m" 2>/dev/null; done
    for m in "${FS_MOUNTS[@]}"; do mountpoint -q "$m" 2>/dev/null && { umount "$m" 2>/dev/null || umount -l "$m"; }; done
    cleanup
}
trap faults_cleanup EXIT

# reap PID: waits for a background process; its exit status.
reap() {
    local rc p keep=()
    wait "$1"; rc=$?
    for p in "${BG[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    BG=("${keep[@]}")
    return $rc
}

# sha FILE: sha256 (hashlib: three times as fast as this coreutils).
sha() {
    python3 -c '
import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    while True:
        b = f.read(4 << 20)
        if not b:
            break
        h.update(b)
print(h.hexdigest())' "$1" 2>/dev/null || echo unreadable
}
size_of() { stat -c %s "$1" 2>/dev/null || echo -1; }

# fault_at size|lines FILE N DELAY_US ACTION [--out F] [--err F] -- CMD...:
# runs CMD (stdout, stderr to F), polls FILE every 0.2 ms until it has N
# bytes (or lines), waits DELAY_US microseconds (the random moment of the
# fault), then does ACTION: "kill9" sends SIGKILL to CMD, anything else is
# run by sh -c.  Then waits for CMD.  Sets FA_HIT (hit, or missed: CMD
# ended first), FA_RC (CMD's exit status, 128+N for signal N) and FA_AT
# (what FILE had).  CMD is a child of the poller, not of this shell, so
# its pid cannot be reused before it is killed, and the poll starts at once.
cat >"$T/faultat.py" <<'PY'
import os, signal, subprocess, sys, time
args = sys.argv[1:]
opts, cmd = args[:args.index("--")], args[args.index("--") + 1:]
mode, path, want, delay, action = opts[0], opts[1], int(opts[2]), int(opts[3]), opts[4]
files = dict(zip(opts[5::2], opts[6::2]))
out = open(files["--out"], "wb") if "--out" in files else None
err = open(files["--err"], "wb") if "--err" in files else None
def measure():
    try:
        if mode == "size":
            return os.stat(path).st_size
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return -1
p = subprocess.Popen(cmd, stdout=out, stderr=err)
deadline = time.monotonic() + 300
hit = "missed"
while True:
    got = measure()
    if got >= want:
        hit = "hit"
        break
    if p.poll() is not None:
        break
    if time.monotonic() > deadline:
        p.kill()  # a watchdog: never hang the test
        hit = "timeout"
        break
    time.sleep(0.0002)
if hit == "hit":
    if delay > 0:
        time.sleep(delay / 1e6)
    if action == "kill9":
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
    else:
        subprocess.run(action, shell=True)
rc = p.wait()
print(hit, 128 - rc if rc < 0 else rc, got)
PY
FA_HIT='' FA_RC='' FA_AT=''
fault_at() {
    local out
    out=$(python3 "$T/faultat.py" "$@")
    read -r FA_HIT FA_RC FA_AT <<<"$out"
}

# mnt_state MNT: none (not mounted), live (the view answers) or stale (a
# FUSE mount whose daemon is gone: ENOTCONN).
mnt_state() {
    grep -q " $1 fuse" /proc/mounts || { echo none; return; }
    if stat "$1/status.json" >/dev/null 2>&1; then echo live; else echo stale; fi
}

# view_pids MNT: the processes serving a p2v view of MNT.
view_pids() {
    python3 - "$1" <<'PY'
import os, sys
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        a = open("/proc/%s/cmdline" % p, "rb").read().split(b"\0")[:-1]
        st = open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()[0]
    except OSError:
        continue
    if st != "Z" and len(a) > 2 and a[0].endswith(b"p2v") and a[1] == b"mount" and a[-1] == sys.argv[1].encode():
        print(p)
PY
}
no_view_process() { [ -z "$(view_pids "$1")" ]; }

# mount_settled MNT: a killed `p2v mount` has left a live view or nothing.
mount_settled() { [ "$(mnt_state "$1")" = live ] || no_view_process "$1"; }

# Random readers (tests/randread.py), each a process of its own under a
# timeout watchdog: one stuck in a read is a deadlock, and shows as exit 124.
# start_readers N FILE PREFIX [randread options]: results in PREFIX.rI,
# attempts so far in PREFIX.pI; HOT=K gives the first K readers --hot,
# REOPEN=K the last K --reopen-every 8.
READER_TIMEOUT=${READER_TIMEOUT:-180}
RPIDS=()
start_readers() {
    local n=$1 file=$2 pre=$3 r hot
    shift 3
    RPIDS=()
    for ((r = 0; r < n; r++)); do
        hot=()
        [ "$r" -lt "${HOT:-0}" ] && hot=(--hot)
        [ "$r" -ge $((n - ${REOPEN:-0})) ] && hot+=(--reopen-every 8)
        rm -f "$pre.p$r"
        timeout -k 5 "$READER_TIMEOUT" python3 tests/randread.py read "$file" --index "$r" \
            --progress "$pre.p$r" "${hot[@]}" "$@" >"$pre.r$r" 2>"$pre.e$r" &
        RPIDS+=($!)
        BG+=($!)
    done
}
# readers_attempts PREFIX N: the fewest attempts any of N readers has made.
readers_attempts() {
    local r v min=
    for ((r = 0; r < $2; r++)); do
        v=$(cat "$1.p$r" 2>/dev/null || echo 0)
        [ -z "$min" ] || [ "$v" -lt "$min" ] && min=$v
    done
    echo "${min:-0}"
}
readers_at_least() { [ "$(readers_attempts "$1" "$2")" -ge "$3" ]; }
# wait_readers: waits for them all; WATCHDOG = how many the timeout ended,
# RSTATUS = their exit statuses.
WATCHDOG=0
RSTATUS=''
wait_readers() {
    local p rc
    WATCHDOG=0 RSTATUS=''
    for p in "${RPIDS[@]}"; do
        reap "$p"; rc=$?
        RSTATUS="$RSTATUS $rc"
        case $rc in 124 | 137) WATCHDOG=$((WATCHDOG + 1)) ;; esac
    done
}
# sum_readers PREFIX N: the readers' results added up (JSON) into PREFIX.sum.
sum_readers() {
    local r files=()
    for ((r = 0; r < $2; r++)); do files+=("$1.r$r"); done
    python3 tests/randread.py sum "${files[@]}" >"$1.sum"
}
sum_key() { json_key "$1.sum" "$2"; }

# ---- The SIGKILL loop ---------------------------------------------------
# The source: the Windows-like fixture (64 MiB, NTFS) followed by 288 MiB
# of make_mixed data, so that a dynamic mount scans for a while (over
# 256 MiB: it shows ten progress lines) and its image has two commit chunks.  S0 holds plan
# A; REF holds A then B, uninterrupted.  References: the partition as S0
# and as REF show it (H_A, H_AB), the dynamic disk.vhd through REF (H_IMG),
# and how long an undisturbed apply, mount and commit take.
kill_setup() {
    W=$T/win.img
    P=$T/plans
    mkdir -p "$P" "$T/look" "$T/km"
    if ! bash tests/mkwinfixture.sh "$W" --win8 >/dev/null 2>"$T/mk.log"; then
        bad "building the fixture failed: $(cat "$T/mk.log")"
        return 1
    fi
    make_mixed "$T/extra.img" 144 11 && cat "$T/extra.img" >>"$W" && rm -f "$T/extra.img"
    W_HASH=$(sha "$W") W_STAT=$(src_stat)
    cat >"$P/A.plan" <<'PLAN'
reg-set HKLM\SOFTWARE\P2V\Test Hello sz "hello world"
reg-set HKLM\SYSTEM\CurrentControlSet\Control\CrashControl AutoReboot dword 0
PLAN
    cat >"$P/B.plan" <<'PLAN'
reg-set HKLM\SOFTWARE\P2V\Test B1 sz "plan b, first value"
reg-set HKLM\SOFTWARE\P2V\Test B2 dword 42
reg-set HKLM\SOFTWARE\P2V\Crash Note expand "%SystemRoot%\p2v-big.bin"
reg-set HKLM\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName ComputerName sz P2V-FAULTED
disable-vendor-services
file-put big.bin %SystemRoot%\p2v-big.bin
PLAN
    python3 -c 'import random, sys; sys.stdout.buffer.write(random.Random(9).randbytes(3 << 20))' >"$P/big.bin"
    H_A=unset H_AB=unset H_IMG=unset
    apply_plan "$T/S0" A || { bad "plan A does not apply: $(cat "$T/apply.err")"; return 1; }
    cp -a "$T/S0" "$T/REF"
    local t0 t1
    t0=$(date +%s%N)
    apply_plan "$T/REF" B || { bad "plan B does not apply over A: $(cat "$T/apply.err")"; return 1; }
    t1=$(date +%s%N)
    T_APPLY_US=$(((t1 - t0) / 1000))
    D0=$(size_of "$T/S0/overlay.data") D1=$(size_of "$T/REF/overlay.data")
    look "$T/S0" raw && H_A=$LOOKED
    look "$T/REF" raw && H_AB=$LOOKED
    [ "$H_A" != unset ] && [ "$H_AB" != unset ] && [ "$H_A" != "$H_AB" ] \
        || { bad "the references: A ($H_A) and A+B ($H_AB) must open and differ"; return 1; }
    # An undisturbed dynamic mount through REF: its time, its progress lines.
    mkdir -p "$T/mref"
    MOUNTS+=("$T/mref")
    t0=$(date +%s%N)
    "$P2V" mount --type dynamic --state "$T/REF" "$W" "$T/mref" 2>"$T/mref.err" \
        || { bad "mounting through REF failed: $(cat "$T/mref.err")"; return 1; }
    t1=$(date +%s%N)
    T_MOUNT_US=$(((t1 - t0) / 1000))
    PROGRESS_LINES=$(grep -c 'scanning .* for zero blocks' "$T/mref.err")
    H_IMG=$(sha "$T/mref/disk.vhd") IMG_SIZE=$(size_of "$T/mref/disk.vhd")
    # The undisturbed commit: the reference copy (kept: the lazy unmount
    # test compares with it) and its time.
    t0=$(date +%s%N)
    "$P2V" commit -q "$T/mref" "$T/cref" >/dev/null 2>"$T/cref.err" \
        || { bad "the reference commit failed: $(cat "$T/cref.err")"; return 1; }
    t1=$(date +%s%N)
    T_COMMIT_US=$(((t1 - t0) / 1000))
    umount_state "$T/mref" "$T/REF"
    [ "$(sha "$T/cref/disk.vhd")" = "$H_IMG" ] || { bad "the reference commit is not the view's image"; return 1; }
    echo "  ..   fixture $(size_of "$W") bytes; apply of B $((T_APPLY_US / 1000)) ms (overlay.data $D0 -> $D1 bytes);" \
        "dynamic mount $((T_MOUNT_US / 1000)) ms ($PROGRESS_LINES progress lines); image $IMG_SIZE bytes," \
        "commit $((T_COMMIT_US / 1000)) ms"
    return 0
}

src_stat() { stat -c '%s %Y.%y %Z.%z %i' "$W"; }

# apply_plan STATE A|B: fixup apply, stderr in $T/apply.err.
apply_plan() { "$P2V" fixup apply --state "$1" --plan "$P/$2.plan" "$W" >/dev/null 2>"$T/apply.err"; }

# look STATE [raw]: mounts the fixture (fixed: no scan) through STATE and
# hashes partition 1, where the fix-ups are; OUTCOME = A, A+B, or what else
# (LOOKED: the hash).  Fails if the state does not open.
OUTCOME='' LOOKED=''
look() {
    OUTCOME="does not open"
    LOOKED=''
    p2v_mount "$W" "$T/look" --type fixed --state "$1" 2>"$T/look.err" || return 1
    LOOKED=$(sha "$T/look/partitions/1.raw")
    if [ "${2:-}" != raw ]; then
        case $LOOKED in
            "$H_A") OUTCOME=A ;;
            "$H_AB") OUTCOME=A+B ;;
            *) OUTCOME="neither A nor A+B ($LOOKED)" ;;
        esac
    fi
    umount_state "$T/look" "$1"
}

# fuse_mounts_under DIR: FUSE mounts below DIR (a clean run leaves none).
fuse_mounts_under() { awk -v d="$1/" '$3 ~ /^fuse/ && index($2, d) == 1 { print $2 }' /proc/mounts; }

# kill_loop N: N iterations; each kills `fixup apply` (B over A), the
# dynamic mount's start-up and `commit` with SIGKILL at a random moment, and
# checks what is left, then that the operation run again gives the
# undisturbed result.
kill_loop() {
    local n=$1 i rc how S M=$T/km D st k delay
    local a_killed=0 a_done=0 a_bad=0 a_open=0 a_ab=0 a_a=0 a_reapply=0
    local m_killed=0 m_done=0 m_none=0 m_live=0 m_stale=0 m_left=0 m_rerun=0
    local c_killed=0 c_done=0 c_live=0 c_rerun=0
    local src_ok=0 fuse_left=0 t_start=$SECONDS
    for ((i = 1; i <= n; i++)); do
        S=$T/K$i D=$T/kd$i
        cp -a "$T/S0" "$S"
        # 1. fixup apply: mostly while it writes overlay.data (a random size
        # between A's and A+B's), else a random moment after its data is
        # written (sync, index, fixups.json: the last quarter or so of an
        # apply).
        rnd 1 10
        if ((R <= 7)); then
            rnd $((D0 + 1)) "$D1"; k=$R; rnd 0 $((T_APPLY_US / 20)); delay=$R
        else
            k=$D1; rnd 0 $((T_APPLY_US / 3)); delay=$R
        fi
        fault_at size "$S/overlay.data" "$k" "$delay" kill9 --out /dev/null --err "$T/ka.err" -- \
            "$P2V" fixup apply --state "$S" --plan "$P/B.plan" "$W"
        rc=$FA_RC
        case $rc in
            137) a_killed=$((a_killed + 1)); how=killed ;;
            0) a_done=$((a_done + 1)); how=finished ;;
            *) a_bad=$((a_bad + 1)); how="failed (exit $rc)"
               echo "       #$i apply: exit $rc: $(head -c 300 "$T/ka.err")" ;;
        esac
        if look "$S"; then
            a_open=$((a_open + 1))
            case $OUTCOME in
                A) a_a=$((a_a + 1)) ;;
                A+B) a_ab=$((a_ab + 1)) ;;
                *) echo "       #$i apply $how at overlay.data >= $k bytes (+$delay us): the state shows $OUTCOME" ;;
            esac
            [ "$how" = finished ] && [ "$OUTCOME" != A+B ] && \
                echo "       #$i apply finished, yet the state shows $OUTCOME" && a_bad=$((a_bad + 1))
        else
            echo "       #$i apply $how: the state does not open: $(head -c 300 "$T/look.err")"
        fi
        if apply_plan "$S" B && look "$S" && [ "$OUTCOME" = A+B ]; then
            a_reapply=$((a_reapply + 1))
        else
            echo "       #$i apply B again: $OUTCOME $(head -c 300 "$T/apply.err")"
        fi
        # 2. mount start-up: after K of the scan's progress lines (0..all)
        # and a random part of the time between two of them.
        MOUNTS+=("$M")
        rnd 0 "$PROGRESS_LINES"; k=$R
        rnd 0 $((T_MOUNT_US / (PROGRESS_LINES + 1))); delay=$R
        fault_at lines "$T/km.err" "$k" "$delay" kill9 --out /dev/null --err "$T/km.err" -- \
            "$P2V" mount --type dynamic --state "$S" "$W" "$M"
        rc=$FA_RC
        case $rc in
            137) m_killed=$((m_killed + 1)); how=killed ;;
            0) m_done=$((m_done + 1)); how=finished ;;
            *) how="failed (exit $rc)"; echo "       #$i mount: exit $rc: $(tail -n 2 "$T/km.err")" ;;
        esac
        # p2v mount forks before it mounts, and the child goes on: once
        # it has mounted (live) or ended (none), nothing changes any more.
        wait_until 20 mount_settled "$M"
        st=$(mnt_state "$M")
        case $st in
            none) m_none=$((m_none + 1)) ;;
            live) m_live=$((m_live + 1)); umount_state "$M" "$S" ;;
            stale) m_stale=$((m_stale + 1))
                echo "       #$i mount $how after $k progress lines (+$delay us): a stale mount (the daemon is gone)"
                fusermount3 -uz "$M" ;;
        esac
        if ! wait_until 20 no_view_process "$M"; then
            m_left=$((m_left + 1))
            echo "       #$i mount $how: a p2v process still serves $M: $(view_pids "$M" | tr '\n' ' ')"
        fi
        if p2v_mount "$W" "$M" --type dynamic --state "$S" 2>"$T/km.err" && [ "$(sha "$M/disk.vhd")" = "$H_IMG" ]; then
            m_rerun=$((m_rerun + 1))
        else
            echo "       #$i mount again: $(mnt_state "$M"), not the undisturbed image: $(tail -n 1 "$T/km.err")"
        fi
        # 3. commit: mostly while it copies (a random size of the partial),
        # else a random moment after the copy (verification, rename, files).
        rnd 1 10
        if ((R <= 8)); then
            rnd 1 $((IMG_SIZE - 1)); k=$R; delay=0
        else
            k=$IMG_SIZE; rnd 0 $((T_COMMIT_US / 2)); delay=$R
        fi
        fault_at size "$D/.disk.vhd.p2v-partial" "$k" "$delay" kill9 --out /dev/null --err "$T/kc.err" -- \
            "$P2V" commit -q "$M" "$D"
        rc=$FA_RC
        case $rc in
            137) c_killed=$((c_killed + 1)) ;;
            0) c_done=$((c_done + 1)) ;;
            *) echo "       #$i commit: exit $rc: $(head -c 300 "$T/kc.err")" ;;
        esac
        [ "$(mnt_state "$M")" = live ] && c_live=$((c_live + 1))
        if "$P2V" commit -q "$M" "$D" >/dev/null 2>"$T/kc.err" && [ "$(sha "$D/disk.vhd")" = "$H_IMG" ] \
            && grep -qx "$H_IMG  disk.vhd" "$D/SHA256SUMS"; then
            c_rerun=$((c_rerun + 1))
        else
            echo "       #$i commit again: not the undisturbed copy: $(head -c 300 "$T/kc.err")"
        fi
        umount_state "$M" "$S"
        # The source: its size and times every time (what p2v's guard
        # checks), its sha256 every fifth time and at the end.
        if [ "$(src_stat)" = "$W_STAT" ] && { ((i % 5)) || [ "$(sha "$W")" = "$W_HASH" ]; }; then
            src_ok=$((src_ok + 1))
        else
            echo "       #$i the source changed: $(src_stat)"
        fi
        [ -z "$(fuse_mounts_under "$T")" ] || { fuse_left=$((fuse_left + 1)); echo "       #$i left mounted: $(fuse_mounts_under "$T")"; }
        rm -rf "$S" "$D"
    done
    echo "  ..   $n iterations in $((SECONDS - t_start)) s (FAULTS_SEED=$FAULTS_SEED):" \
        "apply $a_killed killed, $a_done finished first (left A $a_a, A+B $a_ab);" \
        "mount $m_killed killed, $m_done finished first (left nothing $m_none, a live view $m_live, a stale mount $m_stale);" \
        "commit $c_killed killed, $c_done finished first"
    check_eq "apply: every run ended by the kill or finished (exit 0), and a finished one left A+B" 0 "$a_bad"
    check_eq "apply: the state opens after every kill" "$n" "$a_open"
    check_eq "apply: the state shows A or A+B after every kill, never anything else" "$n" "$((a_a + a_ab))"
    check_eq "apply: B applied again gives A+B, every time" "$n" "$a_reapply"
    check_eq "mount: no stale mount after a kill at start-up" 0 "$m_stale"
    check_eq "mount: no p2v process left serving after a kill (or its unmount)" 0 "$m_left"
    check_eq "mount: mounted again, disk.vhd is the undisturbed image, every time" "$n" "$m_rerun"
    check_eq "commit: the view stays live after every kill" "$n" "$c_live"
    check_eq "commit: run again, the copy is the undisturbed one (sha256, SHA256SUMS), every time" "$n" "$c_rerun"
    check_eq "the source is unchanged after every iteration (size and times; sha256 every fifth)" "$n" "$src_ok"
    check_eq "nothing left mounted after any iteration" 0 "$fuse_left"
    if ((n >= 5)); then
        check "the kills interrupted applies, mounts and commits (not all finished first)" \
            test "$a_killed" -gt 0 -a "$m_killed" -gt 0 -a "$c_killed" -gt 0
    fi
}
