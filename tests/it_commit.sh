#!/bin/bash
# p2v-test: alone (two commits race for one destination)
# p2v commit: fixed, dynamic, Windows (with fix-ups) and UEFI views copied
# to a destination whose disk.vhd/disk.vhdx is byte for byte the view's,
# with VM definitions that validate, machine.xml, the reports and a
# SHA256SUMS that sha256sum -c accepts; allocation by default, holes with
# --sparse; progress on stderr.  Interruptions: kill -9 at three random
# points, SIGINT and SIGTERM, a full destination (tmpfs), a read-only one,
# a lost view (lazy unmount; the view's process killed), a damaged or
# shortened partial, a partial of another image: the rerun resumes (or
# starts over) and ends identical.  Reruns on a complete destination, a
# different disk.vhd in the way, two commits at once, bad usage.  Sources
# are hashed before and after.
. "$(dirname "$0")/lib.sh"

MiB=$((1 << 20))
CHUNK=$((64 << 20))
TF=$T/tf          # a small tmpfs for the full and read-only destinations
BG=()             # background commits, stopped (by pid) on exit
cleanup_commit() {
    local p m
    for p in "${BG[@]}"; do alive "$p" && kill -9 "$p" 2>/dev/null; done
    for m in "${MOUNTS[@]}"; do  # a view whose process was killed is not a mountpoint any more
        grep -q " $m fuse" /proc/mounts && fusermount3 -uz "$m" 2>/dev/null
    done
    mountpoint -q "$TF" 2>/dev/null && { umount "$TF" || umount -l "$TF"; }
    cleanup
}
trap cleanup_commit EXIT

xq() { xmllint --xpath "string($2)" "$1" 2>/dev/null; }  # xq FILE XPATH
size_of() { stat -c %s "$1" 2>/dev/null || echo -1; }
mode_of() { stat -c %a "$1" 2>/dev/null || echo missing; }
leftovers() { ls -A "$1" | grep -c 'p2v-partial\|p2v-journal' || true; }  # leftovers DEST: partial/journal files
journal_chunks() { local n; n=$(grep -c '^[0-9]* ' "$1" 2>/dev/null); echo "${n:-0}"; }  # chunk lines of a journal
sums_ok() { (cd "$1" && sha256sum --quiet -c SHA256SUMS); }
# sha FILE: its sha256, as sha256sum gives it (hashlib: three times faster
# than this coreutils, which matters for hundreds of MiB read again and again).
sha() { python3 "$T/sums.py" hash "$1"; }
# identical DEST HASH [NAME]: SHA256SUMS gives HASH for NAME (disk.vhd) and
# every file in it has the hash SHA256SUMS gives (what sha256sum -c checks):
# the image's sha256 is HASH, one read of the image.
identical() {
    grep -qx "$2  ${3:-disk.vhd}" "$1/SHA256SUMS" || { echo "SHA256SUMS: $(grep " ${3:-disk.vhd}\$" "$1/SHA256SUMS")"; return 1; }
    python3 "$T/sums.py" check "$1"
}
cat >"$T/sums.py" <<'PY'
import hashlib, os, sys
def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)
if sys.argv[1] == "hash":
    print(sha(sys.argv[2]))
    sys.exit(0)
bad = 0
for line in open(os.path.join(sys.argv[2], "SHA256SUMS")):
    want, name = line.rstrip("\n").split("  ", 1)
    got = sha(os.path.join(sys.argv[2], name))
    if got != want:
        print("%s: FAILED (%s, not %s)" % (name, got, want))
        bad = 1
sys.exit(bad)
PY
# resumed_at ERRFILE: N of "p2v: resuming ... at byte N of M", or "none".
resumed_at() { sed -n 's/^p2v: resuming .* at byte \([0-9]*\) of [0-9]*.*/\1/p' "$1" | head -1 | grep . || echo none; }

# at_size FILE BYTES PID CMD...: waits until FILE has at least BYTES bytes
# (polled every millisecond), then runs CMD; prints FILE's size as it saw
# it.  Fails if PID (the commit) ended first: it was never "part way".
cat >"$T/at_size.py" <<'PY'
import os, subprocess, sys, time
path, want, pid, cmd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
def alive(p):
    try:
        s = open("/proc/%d/stat" % p).read()
    except OSError:
        return False
    return s.rsplit(")", 1)[1].split()[0] != "Z"
deadline = time.monotonic() + 90
while True:
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        size = -1
    if size >= want:
        subprocess.run(cmd, check=True)
        print(size)
        sys.exit(0)
    if not alive(pid) or time.monotonic() > deadline:
        print(size)
        sys.exit(1)
    time.sleep(0.001)
PY
at_size() { python3 "$T/at_size.py" "$@"; }

# view_pid MNT: the process serving the p2v view mounted on MNT.
view_pid() {
    python3 - "$1" <<'PY'
import os, sys
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        a = open("/proc/%s/cmdline" % p, "rb").read().split(b"\0")[:-1]
    except OSError:
        continue
    if len(a) > 2 and a[0].endswith(b"p2v") and a[1] == b"mount" and a[-1] == sys.argv[1].encode():
        print(p)
PY
}

# commit_bg OUT ERR ARGS...: p2v commit in the background; CPID is its pid.
CPID=''
commit_bg() {
    local out=$1 err=$2; shift 2
    "$P2V" commit "$@" >"$out" 2>"$err" &
    CPID=$!
    BG+=("$CPID")
}
# reap PID: its exit status (and it is no longer one to stop on exit).
reap() {
    local rc p keep=()
    wait "$1"; rc=$?
    for p in "${BG[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    BG=("${keep[@]}")
    return $rc
}

# A random point of the copy, reproducible with COMMIT_SEED.
SEED=${COMMIT_SEED:-$RANDOM}
echo "  (random kill points from COMMIT_SEED=$SEED)"
# rand_between LO HI SALT: a number in [LO, HI], the same for the same seed and salt.
rand_between() { python3 -c 'import random, sys; print(random.Random(sys.argv[1]).randint(int(sys.argv[2]), int(sys.argv[3])))' "$SEED-$3" "$1" "$2"; }

# ---- Sources -------------------------------------------------------------
src=$T/mixed.img sparse=$T/sparse.img win=$T/win.img efi=$T/efi.img
make_mixed "$src" 192 7   # 384 MiB: the fixed VHD has 6 chunks and a 512-byte seventh
truncate -s 256M "$sparse"   # mostly empty (a sparse file: holes in the view)
head -c $MiB /dev/urandom | dd of="$sparse" conv=notrunc status=none
head -c $((4 * MiB)) /dev/urandom | dd of="$sparse" bs=1M seek=100 conv=notrunc status=none
bash tests/mkwinfixture.sh "$win" 2>"$T/mk.log" || { bad "Windows fixture: $(cat "$T/mk.log")"; finish; exit; }
bash tests/mkefidisk.sh "$efi" >"$T/mk.log" 2>&1 || { bad "EFI fixture: $(cat "$T/mk.log")"; finish; exit; }
declare -A before
for s in "$src" "$sparse" "$win" "$efi"; do before[$s]=$(sha "$s"); done

MF=$T/mf MD=$T/md
p2v_mount "$src" "$MF" --type fixed || bad "mounting the fixed view failed"
p2v_mount "$src" "$MD" || bad "mounting the dynamic view failed"
HF=$(sha "$MF/disk.vhd") SF=$(size_of "$MF/disk.vhd")
HD=$(sha "$MD/disk.vhd") SD=$(size_of "$MD/disk.vhd")
check_eq "the fixed image has 6 full chunks and a short one" $((6 * CHUNK + 512)) "$SF"
check "the dynamic image spans several chunks" test "$SD" -gt $((2 * CHUNK))

# ---- A fixed image, with --json --------------------------------------------
D=$T/dest-fixed
"$P2V" commit --json "$MF" "$D" >"$T/f.json" 2>"$T/f.err"
check_eq "fixed: exit 0" 0 $?
check_eq "fixed: sha256sum DEST/disk.vhd = the view's sha256" "$HF" "$(hash_of "$D/disk.vhd")"
check "fixed: sha256sum -c SHA256SUMS passes in DEST" sums_ok "$D"
check_eq "fixed: SHA256SUMS has the mount's hash for disk.vhd" "$HF  disk.vhd" "$(grep ' disk.vhd$' "$D/SHA256SUMS")"
check_eq "fixed: DEST was created 0700" 700 "$(mode_of "$D")"
check_eq "fixed: modes (image, machine.xml, libvirt, qemu, hyperv, status, sums)" \
    "600 600 600 700 700 600 600" \
    "$(for f in disk.vhd machine.xml p2v-vm.xml p2v-vm.sh p2v-vm.ps1 status.json SHA256SUMS; do mode_of "$D/$f"; done | xargs)"
check "fixed: machine.xml validates against machine.rng" xmllint --noout --relaxng machine/machine.rng "$D/machine.xml"
check "fixed: the libvirt domain passes virt-xml-validate" virt-xml-validate "$D/p2v-vm.xml" domain
check_eq "fixed: libvirt disk is the copy, as vpc" "vpc $(realpath "$D")/disk.vhd" \
    "$(xq "$D/p2v-vm.xml" '/domain/devices/disk/driver/@type') $(xq "$D/p2v-vm.xml" '/domain/devices/disk/source/@file')"
check "fixed: the QEMU script passes sh -n" sh -n "$D/p2v-vm.sh"
check "fixed: the Hyper-V script takes the disk beside it" grep -qF "(Join-Path \$PSScriptRoot 'disk.vhd')" "$D/p2v-vm.ps1"
check "fixed: status.json is the view's" cmp "$D/status.json" "$MF/status.json"
check_eq "fixed: no partial or journal left" 0 "$(leftovers "$D")"
check_eq "fixed: json image" "$(realpath "$D")/disk.vhd" "$(json_key "$T/f.json" image)"
check_eq "fixed: json size" "$SF" "$(json_key "$T/f.json" size)"
check_eq "fixed: json sha256" "$HF" "$(json_key "$T/f.json" sha256)"
check_eq "fixed: json resumed_at, already, verified, sparse" "0 false true false" \
    "$(for k in resumed_at already verified sparse; do json_key "$T/f.json" $k; done | xargs)"
check_eq "fixed: json files = the files in DEST" "$(ls "$D" | sort | xargs)" \
    "$(python3 -c 'import json,sys; print(" ".join(sorted(json.load(open(sys.argv[1]))["files"])))' "$T/f.json")"
check_eq "fixed: SHA256SUMS lists every other file" "$(ls "$D" | grep -vx SHA256SUMS | sort | xargs)" \
    "$(awk '{print $2}' "$D/SHA256SUMS" | sort | xargs)"
check_eq "fixed: fully allocated by default (st_blocks*512 >= size)" yes \
    "$([ $(($(stat -c %b "$D/disk.vhd") * 512)) -ge "$SF" ] && echo yes || echo "no: $(stat -c %b "$D/disk.vhd") blocks")"
# Progress: plain lines on stderr when it is not a terminal.
check "progress: 'copying' lines on stderr, up to 100%" \
    bash -c "grep -qE '^p2v: copying .*/mf/disk.vhd: +[0-9]+% \\(' '$T/f.err' && grep -qE '^p2v: copying .*: 100% ' '$T/f.err'"
check "progress: several copying lines (one per step)" test "$(grep -c '^p2v: copying' "$T/f.err")" -ge 5
check "progress: a 'verifying' pass, up to 100%" grep -qE '^p2v: verifying .*: 100% ' "$T/f.err"
check "progress: lines, not a redrawn line (no carriage returns)" bash -c "! grep -q $'\r' '$T/f.err'"
check "progress: nothing but the JSON on stdout" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/f.json"

# ---- A dynamic image, --no-verify --name -----------------------------------
D=$T/dest-dyn
"$P2V" commit --no-verify --name dyn --json "$MD" "$D" >"$T/d.json" 2>"$T/d.err"
check_eq "dynamic: exit 0" 0 $?
check "dynamic: identical to the view (sha256), SHA256SUMS checks out" identical "$D" "$HD"
check_eq "dynamic: --name names the definitions" "600 700 700" \
    "$(for f in dyn.xml dyn.sh dyn.ps1; do mode_of "$D/$f"; done | xargs)"
check_eq "dynamic: libvirt name" dyn "$(xq "$D/dyn.xml" /domain/name)"
check "dynamic: libvirt validates" virt-xml-validate "$D/dyn.xml" domain
check "dynamic: machine.xml validates" xmllint --noout --relaxng machine/machine.rng "$D/machine.xml"
check_eq "dynamic: no partial or journal left" 0 "$(leftovers "$D")"
check_eq "dynamic: json verified false, sha256" "false $HD" \
    "$(json_key "$T/d.json" verified) $(json_key "$T/d.json" sha256)"
check "--no-verify: copying lines" grep -q '^p2v: copying' "$T/d.err"
check_eq "--no-verify: no 'verifying' line" 0 "$(grep -c verifying "$T/d.err")"

# ---- Windows fixture with fix-ups: definitions and reports -----------------
echo no-auto-reboot >"$T/win.plan"
"$P2V" fixup apply --state "$T/wstate" --plan "$T/win.plan" "$win" >/dev/null 2>&1 || bad "fixup apply failed"
MW=$T/mw
p2v_mount "$win" "$MW" --state "$T/wstate" || bad "mounting the Windows fixture failed"
HW=$(sha "$MW/disk.vhd")
D=$T/dest-win
"$P2V" commit -q --json "$MW" "$D" >"$T/w.json" 2>"$T/w.err"
check_eq "windows: exit 0" 0 $?
check_eq "windows: -q: nothing on stderr" "" "$(cat "$T/w.err")"
check "windows: image identical, SHA256SUMS checks out" identical "$D" "$HW"
check "windows: sha256sum -c SHA256SUMS passes" sums_ok "$D"
check_eq "windows: json files" \
    '["disk.vhd", "machine.xml", "P2V-TESTHOST.xml", "P2V-TESTHOST.sh", "P2V-TESTHOST.ps1", "fixups.json", "status.json", "SHA256SUMS"]' \
    "$(json_key "$T/w.json" files)"
check_eq "windows: modes of the definitions (NAME = hostname)" "600 700 700 600 600 600" \
    "$(for f in P2V-TESTHOST.xml P2V-TESTHOST.sh P2V-TESTHOST.ps1 machine.xml fixups.json status.json; do mode_of "$D/$f"; done | xargs)"
check "windows: fixups.json is the view's report" cmp "$D/fixups.json" "$MW/fixups.json"
check "windows: status.json is the view's" cmp "$D/status.json" "$MW/status.json"
check "windows: machine.xml validates" xmllint --noout --relaxng machine/machine.rng "$D/machine.xml"
check_eq "windows: machine.xml: hostname, OS family, firmware" "P2V-TESTHOST windows bios" \
    "$(xq "$D/machine.xml" /machine/hostname) $(xq "$D/machine.xml" /machine/os/@family) $(xq "$D/machine.xml" /machine/firmware/@type)"
check "windows: libvirt validates" virt-xml-validate "$D/P2V-TESTHOST.xml" domain
check_eq "windows: libvirt name, clock, disk" "P2V-TESTHOST localtime $(realpath "$D")/disk.vhd" \
    "$(xq "$D/P2V-TESTHOST.xml" /domain/name) $(xq "$D/P2V-TESTHOST.xml" /domain/clock/@offset) $(xq "$D/P2V-TESTHOST.xml" /domain/devices/disk/source/@file)"
check "windows: QEMU script names the copy" grep -qF "$(realpath "$D")/disk.vhd" "$D/P2V-TESTHOST.sh"
check "windows: Hyper-V Generation 1" grep -qF 'New-VM -Name $Name -Generation 1' "$D/P2V-TESTHOST.ps1"
# --config: the definitions take the given machine.
"$P2V" inventory --source "$win" -o "$T/cfg.xml" 2>/dev/null
python3 - "$T/cfg.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
t = ET.parse(sys.argv[1]); m = t.getroot()
cpu = m.find("cpu"); cpu.set("count", "4")
mem = ET.Element("memory", unit="KiB"); mem.text = str(3 * 1024 * 1024)
m.insert(list(m).index(cpu) + 1, mem)
t.write(sys.argv[1], encoding="UTF-8", xml_declaration=True)
PY
D2=$T/dest-win-cfg
"$P2V" commit -q --config "$T/cfg.xml" --name conv "$MW" "$D2" >/dev/null 2>&1
check_eq "--config: memory and vCPUs from the configuration" "3072 4" \
    "$(xq "$D2/conv.xml" /domain/memory) $(xq "$D2/conv.xml" /domain/vcpu)"
check_eq "--config: machine.xml keeps the given memory" 3145728 "$(xq "$D2/machine.xml" /machine/memory)"
check_eq "--config: same image bytes" "$HW" "$(sha "$D2/disk.vhd")"
echo '<machine version="1"><cpu/></machine>' >"$T/badcfg.xml"
check_fails "--config that does not validate: an error naming it" "$T/badcfg.xml" \
    "$P2V" commit -q --config "$T/badcfg.xml" "$MW" "$T/dest-badcfg"
check "--config that does not validate: refused before the copy (no disk.vhd)" test ! -e "$T/dest-badcfg/disk.vhd"

# ---- UEFI: VHDX with a Hyper-V script; VHD without -------------------------
# (libvirt has no VHDX disk format: no libvirt domain for a VHDX image.)
ME=$T/me
p2v_mount "$efi" "$ME" || bad "mounting the EFI fixture failed"
D=$T/dest-efi
"$P2V" commit --json "$ME" "$D" >"$T/e.json" 2>"$T/e.err"
check "uefi: the view's disk.vhdx is copied as disk.vhdx, SHA256SUMS checks out" identical "$D" "$(sha "$ME/disk.vhdx")" disk.vhdx
check "uefi vhdx: sha256sum -c SHA256SUMS passes" sums_ok "$D"
check "uefi vhdx: Hyper-V Generation 2 script" grep -qF -- '-Generation 2' "$D/p2v-vm.ps1"
check "uefi vhdx: the QEMU script has OVMF and the vhdx disk" \
    bash -c "grep -q pflash '$D/p2v-vm.sh' && grep -qF '$(realpath "$D")/disk.vhdx' '$D/p2v-vm.sh' && sh -n '$D/p2v-vm.sh'"
check "uefi vhdx: no libvirt domain, and it says why" \
    bash -c "test ! -e '$D/p2v-vm.xml' && grep -q 'no libvirt domain' '$T/e.err'"
check_eq "uefi vhdx: json files" '["disk.vhdx", "machine.xml", "p2v-vm.sh", "p2v-vm.ps1", "status.json", "SHA256SUMS"]' \
    "$(json_key "$T/e.json" files)"
check_eq "uefi vhdx: no partial or journal left" 0 "$(leftovers "$D")"
check_eq "uefi vhdx: machine.xml says uefi" uefi "$(xq "$D/machine.xml" /machine/firmware/@type)"
p2v_umount "$ME"
p2v_mount "$efi" "$ME" --format vhd || bad "mounting the EFI fixture as VHD failed"
D=$T/dest-efi-vhd
"$P2V" commit --json "$ME" "$D" >"$T/e.json" 2>"$T/e.err"
check "uefi vhd: image identical, SHA256SUMS checks out" identical "$D" "$(sha "$ME/disk.vhd")"
check "uefi vhd: sha256sum -c SHA256SUMS passes" sums_ok "$D"
check "uefi vhd: no Hyper-V script, and it says why" \
    bash -c "test ! -e '$D/p2v-vm.ps1' && grep -q 'no Hyper-V script' '$T/e.err'"
check_eq "uefi vhd: json files" '["disk.vhd", "machine.xml", "p2v-vm.xml", "p2v-vm.sh", "status.json", "SHA256SUMS"]' \
    "$(json_key "$T/e.json" files)"
check "uefi vhd: libvirt validates" virt-xml-validate "$D/p2v-vm.xml" domain
check_eq "uefi vhd: libvirt firmware efi, the copy as vpc" "efi vpc $(realpath "$D")/disk.vhd" \
    "$(xq "$D/p2v-vm.xml" /domain/os/@firmware) $(xq "$D/p2v-vm.xml" /domain/devices/disk/driver/@type) $(xq "$D/p2v-vm.xml" /domain/devices/disk/source/@file)"
p2v_umount "$ME"

# ---- Allocation: default vs --sparse ---------------------------------------
MS=$T/ms
p2v_mount "$sparse" "$MS" --type fixed || bad "mounting the sparse source failed"
HS=$(sha "$MS/disk.vhd") SS=$(size_of "$MS/disk.vhd")
# Commit reads status.json from the view; many short opens at once have
# the kernel's RELEASE of one open race the reply to another's read (the
# view used to free the text while replying from it: ASan aborted it).
check "status.json: 4 threads x 1000 open-read-close all read the same bytes" python3 - "$MS/status.json" <<'PY'
import sys, threading
path, want, bad = sys.argv[1], open(sys.argv[1], "rb").read(), []
def reader():
    try:
        for _ in range(1000):
            with open(path, "rb") as f:
                if f.read() != want:
                    bad.append("different bytes")
    except OSError as e:
        bad.append(str(e))
ts = [threading.Thread(target=reader) for _ in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
sys.exit("; ".join(sorted(set(bad)))[:300] if bad or not want else 0)
PY
check_eq "status.json: the view still serves disk.vhd after them" "$HS" "$(sha "$MS/disk.vhd")"
"$P2V" commit -q "$MS" "$T/dest-alloc" >/dev/null 2>&1
blocks=$(stat -c %b "$T/dest-alloc/disk.vhd")
check "allocation: default is fully allocated ($((blocks * 512)) >= $SS)" test $((blocks * 512)) -ge "$SS"
check "allocation: default copy identical, SHA256SUMS checks out" identical "$T/dest-alloc" "$HS"
"$P2V" commit -q --sparse --json "$MS" "$T/dest-sparse" >"$T/s.json" 2>"$T/s.err"
rc=$?
check_eq "--sparse: exit 0" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/       | /' "$T/s.err" | tail -n 30
blocks=$(stat -c %b "$T/dest-sparse/disk.vhd" 2>/dev/null || echo "$SS")
check "--sparse: holes kept ($((blocks * 512)) bytes allocated of $SS, < 1/8)" test $((blocks * 512)) -lt $((SS / 8))
check "--sparse: the bytes are still equal" cmp "$T/dest-alloc/disk.vhd" "$T/dest-sparse/disk.vhd"
check "--sparse: identical to the view, SHA256SUMS checks out" identical "$T/dest-sparse" "$HS"
check_eq "--sparse: json sparse true" true "$(json_key "$T/s.json" sparse)"
rm -rf "$T/dest-alloc" "$T/dest-sparse"
p2v_umount "$MS"

# ---- kill -9 at three random points, then resume ---------------------------
for i in 1 2 3; do
    D=$T/dest-kill$i
    thr=$(rand_between $((CHUNK + 1)) $((SF - CHUNK)) $i)
    commit_bg "$T/k.out" "$T/k.err" "$MF" "$D"
    seen=$(at_size "$D/.disk.vhd.p2v-partial" "$thr" "$CPID" kill -9 "$CPID")
    ok_kill=$?
    reap "$CPID"; rc=$?
    check_eq "kill -9 #$i at $thr bytes: killed part way (exit 137)" "0 137" "$ok_kill $rc"
    check "kill -9 #$i: no disk.vhd, the partial and journal kept" \
        bash -c "test ! -e '$D/disk.vhd' && test -s '$D/.disk.vhd.p2v-partial' && test -s '$D/.disk.vhd.p2v-journal'"
    after=$(size_of "$D/.disk.vhd.p2v-partial")
    "$P2V" commit --json "$MF" "$D" >"$T/k.json" 2>"$T/k.err"
    check_eq "kill -9 #$i: the rerun succeeds" 0 $?
    at=$(resumed_at "$T/k.err")
    low=$(( (seen - 1) / CHUNK * CHUNK ))
    verdict=no
    [ "$at" != none ] && [ $((at % CHUNK)) = 0 ] && [ "$at" -ge "$low" ] && [ "$at" -ge $CHUNK ] \
        && [ "$at" -le "$after" ] && verdict=yes
    check_eq "kill -9 #$i: the rerun says resuming, at a chunk boundary in [$low, $after] (at $at)" yes "$verdict"
    check_eq "kill -9 #$i: json resumed_at = the message" "$at" "$(json_key "$T/k.json" resumed_at)"
    check "kill -9 #$i: identical to the view (sha256), SHA256SUMS checks out" identical "$D" "$HF"
    check_eq "kill -9 #$i: no partial or journal left" 0 "$(leftovers "$D")"
    rm -rf "$D"
done

# ---- SIGINT, then SIGTERM during the resumed run, then the end -------------
D=$T/dest-int
commit_bg "$T/i.out" "$T/i.err" "$MF" "$D"
at_size "$D/.disk.vhd.p2v-partial" $((2 * CHUNK + 12345)) "$CPID" kill -INT "$CPID" >/dev/null
reap "$CPID"
check_eq "SIGINT: exit 130" 130 $?
check "SIGINT: says the part copied is kept and how to resume" grep -q 'interrupted; the part copied so far is kept in .*run the same p2v commit' "$T/i.err"
check "SIGINT: partial and journal kept, no disk.vhd" \
    bash -c "test -s '$D/.disk.vhd.p2v-partial' && test -s '$D/.disk.vhd.p2v-journal' && test ! -e '$D/disk.vhd'"
first=$(journal_chunks "$D/.disk.vhd.p2v-journal")
commit_bg "$T/i.out" "$T/i.err" "$MF" "$D"
at_size "$D/.disk.vhd.p2v-partial" $((5 * CHUNK + 999)) "$CPID" kill -TERM "$CPID" >/dev/null
reap "$CPID"
check_eq "SIGTERM during the resumed run: exit 143 (128 + SIGTERM)" 143 $?
check "SIGTERM: the resumed run had said resuming" grep -q "^p2v: resuming $D/disk.vhd at byte $((first * CHUNK)) of $SF" "$T/i.err"
check "SIGTERM: the journal grew" test "$(journal_chunks "$D/.disk.vhd.p2v-journal")" -gt "$first"
"$P2V" commit "$MF" "$D" >/dev/null 2>"$T/i.err"
check_eq "after SIGINT and SIGTERM: the third run succeeds" 0 $?
check "after SIGINT and SIGTERM: it resumed" grep -q '^p2v: resuming' "$T/i.err"
check "after SIGINT and SIGTERM: identical, SHA256SUMS checks out" identical "$D" "$HF"
rm -rf "$D"

# ---- A damaged partial: a flipped byte in a journaled chunk ------------------
D=$T/dest-flip
commit_bg "$T/c.out" "$T/c.err" "$MF" "$D"
at_size "$D/.disk.vhd.p2v-partial" $((3 * CHUNK + 1)) "$CPID" kill -9 "$CPID" >/dev/null
reap "$CPID"
check "flip: chunks 0-2 are journaled" test "$(journal_chunks "$D/.disk.vhd.p2v-journal")" -ge 3
off=$(rand_between $((CHUNK)) $((2 * CHUNK - 1)) flip)
python3 - "$D/.disk.vhd.p2v-partial" "$off" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x5a]))
PY
"$P2V" commit --json "$MF" "$D" >"$T/c.json" 2>"$T/c.err"
check_eq "flip (byte $off): the rerun succeeds" 0 $?
check "flip: the damaged chunk is named and copied again" \
    grep -q "bytes $CHUNK-$((2 * CHUNK - 1)) differ from what was copied there; copying them again" "$T/c.err"
at=$(resumed_at "$T/c.err")
check "flip: only that chunk is copied again: resumes after all the journaled chunks (at $at)" \
    bash -c "[ '$at' != none ] && [ $at -ge $((3 * CHUNK)) ] && [ $at = $(json_key "$T/c.json" resumed_at) ]"
check_eq "flip: json recopied = one chunk" "$CHUNK" "$(json_key "$T/c.json" recopied)"
check "flip: identical, SHA256SUMS checks out" identical "$D" "$HF"
rm -rf "$D"

# ---- A shortened partial, then a partial of another image ---------------------
D=$T/dest-short
commit_bg "$T/c.out" "$T/c.err" "$MF" "$D"
at_size "$D/.disk.vhd.p2v-partial" $((2 * CHUNK + 1)) "$CPID" kill -9 "$CPID" >/dev/null
reap "$CPID"
check "short partial: chunks 0-1 are journaled" test "$(journal_chunks "$D/.disk.vhd.p2v-journal")" -ge 2
truncate -s $((CHUNK + 4096)) "$D/.disk.vhd.p2v-partial"
"$P2V" commit "$MF" "$D" >/dev/null 2>"$T/c.err"
check_eq "short partial: the rerun succeeds" 0 $?
check_eq "short partial: resumes at the end of the chunks still there" "$CHUNK" "$(resumed_at "$T/c.err")"
check "short partial: identical, SHA256SUMS checks out" identical "$D" "$HF"
rm -rf "$D"
D=$T/dest-other
commit_bg "$T/c.out" "$T/c.err" "$MF" "$D"
at_size "$D/.disk.vhd.p2v-partial" $((CHUNK + 1)) "$CPID" kill -9 "$CPID" >/dev/null
reap "$CPID"
check "another image's partial: a chunk of the fixed image is journaled" test "$(journal_chunks "$D/.disk.vhd.p2v-journal")" -ge 1
"$P2V" commit "$MD" "$D" >/dev/null 2>"$T/c.err"
check_eq "another image's partial: the commit of the dynamic image succeeds" 0 $?
check "another image's partial: it says so and starts over" \
    bash -c "grep -q 'holds part of another image; starting over' '$T/c.err' && ! grep -q '^p2v: resuming' '$T/c.err'"
check "another image's partial: the result is the dynamic image, SHA256SUMS checks out" identical "$D" "$HD"
rm -rf "$D"

# ---- Free space first; ENOSPC during the copy, read-only, then room: resume -------
mkdir -p "$TF"
mount -t tmpfs -o size=$((3 * CHUNK + MiB)),mode=0700 p2v-it-commit "$TF" || bad "mounting a tmpfs failed"
free_of() { python3 -c 'import os,sys; s=os.statvfs(sys.argv[1]); print(s.f_bavail * s.f_frsize)' "$1"; }
# The sparse source's fixed view: 256 MiB, 5 MiB of it data.
p2v_mount "$sparse" "$MS" --type fixed || bad "mounting the sparse source again failed"
avail=$(free_of "$TF")
"$P2V" commit "$MS" "$TF/pre" >"$T/n.out" 2>"$T/n.err"
check_eq "too little room: refused before copying (exit 1)" 1 $?
check "too little room: the message names the free bytes and the bytes needed, and what to do" \
    grep -qE "^p2v: error: $TF/pre has $avail bytes free, and the copy of $MS/disk.vhd needs $SS more bytes there; free at least $((SS - avail)) bytes there or commit to a directory with more room" "$T/n.err"
check "too little room: it says --sparse would fit (the view's data only)" \
    grep -qE -- "--sparse would need only the [0-9]+ bytes of data" "$T/n.err"
check_eq "too little room: nothing written (no partial, no journal, no image)" "0 no" \
    "$(leftovers "$TF/pre") $([ -e "$TF/pre/disk.vhd" ] && echo yes || echo no)"
"$P2V" commit -q --sparse "$MS" "$TF/pre" >/dev/null 2>"$T/n.err"
check_eq "--sparse counts only the data it writes: it fits (exit 0)" 0 $?
check "--sparse into the small destination: identical, SHA256SUMS checks out" identical "$TF/pre" "$HS"
p2v_umount "$MS"
rm -rf "$TF/pre"
# The room taken by another writer once the copy runs: ENOSPC part way.
mount -o remount,size=$((SF + 64 * MiB)) "$TF"
D=$TF/d
commit_bg "$T/n.out" "$T/n.err" "$MF" "$D"
at_size "$D/.disk.vhd.p2v-partial" $((CHUNK + 1)) "$CPID" bash -c \
    "kill -STOP $CPID; dd if=/dev/zero of='$TF/filler' bs=1M status=none 2>/dev/null; kill -CONT $CPID" >/dev/null
reap "$CPID"
check_eq "ENOSPC: exit 1" 1 $?
check "ENOSPC: says the destination is full, the part is kept, resume" \
    grep -qE 'the destination is full.*kept.*resume' "$T/n.err"
check "ENOSPC: the partial kept, no disk.vhd" \
    bash -c "test -s '$D/.disk.vhd.p2v-partial' && test ! -e '$D/disk.vhd'"
nj=$(journal_chunks "$D/.disk.vhd.p2v-journal")
check "ENOSPC: at least one chunk journaled ($nj)" test "$nj" -ge 1
rm -f "$TF/filler"
mkdir -p "$TF/empty"
mount -o remount,ro "$TF"
check_fails "read-only destination (with a partial): exit 1, a clear message" 'Read-only file system.*make the destination writable' \
    "$P2V" commit -q "$MF" "$D"
cp "$T/.out" "$T/ro.msg"
check "read-only destination (with a partial): the message does not say 0 bytes are kept" \
    bash -c "! grep -q 'the 0 bytes copied' '$T/ro.msg'"
check_fails "read-only destination (empty directory): exit 1, a clear message" 'Read-only file system' \
    "$P2V" commit -q "$MF" "$TF/empty"
check_fails "read-only destination (to be created): exit 1, a clear message" "cannot create $TF/new: Read-only file system" \
    "$P2V" commit -q "$MF" "$TF/new"
"$P2V" commit -q "$MF" "$TF/empty" >/dev/null 2>&1
check_eq "read-only: exit status 1" 1 $?
mount -o remount,rw,size=$((SF + 64 * MiB)) "$TF"
"$P2V" commit --json "$MF" "$D" >"$T/n.json" 2>"$T/n.err"
check_eq "after ENOSPC: with room, the rerun succeeds" 0 $?
check_eq "after ENOSPC: resumes after the journaled chunks" "$((nj * CHUNK)) $((nj * CHUNK))" \
    "$(resumed_at "$T/n.err") $(json_key "$T/n.json" resumed_at)"
check "after ENOSPC: identical, SHA256SUMS checks out" identical "$D" "$HF"
umount "$TF" || umount -l "$TF"

# ---- Lost mount ---------------------------------------------------------------
# (a) fusermount3 -uz while commit runs: the kernel keeps the view alive for
# the descriptor commit holds; commit must still give the view's bytes and
# reports.
M2=$T/mf-lazy
p2v_mount "$src" "$M2" --type fixed || bad "mounting a view to lose failed"
cp "$M2/status.json" "$T/lazy-status.json"
D=$T/dest-lazy
commit_bg "$T/l.out" "$T/l.err" "$M2" "$D"
at_size "$D/.disk.vhd.p2v-partial" $((CHUNK + 777)) "$CPID" fusermount3 -uz "$M2" >/dev/null \
    || bad "lazy unmount: commit ended before it could be unmounted"
reap "$CPID"; rc=$?
if [ $rc = 0 ]; then
    ok "lazy unmount: commit went on through its open descriptor (exit 0)"
else
    check "lazy unmount: commit failed with a message to mount again" grep -q 'mount it again' "$T/l.err"
    p2v_mount "$src" "$M2" --type fixed
    "$P2V" commit "$M2" "$D" >/dev/null 2>"$T/l.err"
    check "lazy unmount: the rerun resumes" grep -q '^p2v: resuming' "$T/l.err"
fi
check "lazy unmount: identical, SHA256SUMS checks out" identical "$D" "$HF"
check "lazy unmount: status.json is the view's (as for any commit)" cmp "$D/status.json" "$T/lazy-status.json"
mountpoint -q "$M2" && p2v_umount "$M2"
rm -rf "$D"

# (b) the view's process dies (a lost FUSE connection): reads fail.
M3=$T/mf-lost
p2v_mount "$src" "$M3" --type fixed || bad "mounting a view to lose failed"
vp=$(view_pid "$M3")
check "lost view: its process found (one pid)" grep -qx '[0-9][0-9]*' <<<"$vp"
grep -qx '[0-9][0-9]*' <<<"$vp" || vp=999999999  # never "kill 0" (the whole group)
D=$T/dest-lost
commit_bg "$T/l.out" "$T/l.err" "$M3" "$D"
at_size "$D/.disk.vhd.p2v-partial" $((2 * CHUNK + 4242)) "$CPID" kill -9 "$vp" >/dev/null
reap "$CPID"
check_eq "lost view: commit fails (exit 1)" 1 $?
check "lost view: the message says to mount again and resume" \
    grep -qE "reading $M3/disk.vhd at byte [0-9]+ failed: .*mount it again .*resumes" "$T/l.err"
check "lost view: the partial kept, no disk.vhd" \
    bash -c "test -s '$D/.disk.vhd.p2v-partial' && test ! -e '$D/disk.vhd'"
"$P2V" commit "$M3" "$D" >/dev/null 2>"$T/l2.err"
check_eq "lost view: a commit from the dead mount fails (exit 1)" 1 $?
check "lost view: it says the view is gone, to unmount and mount again" \
    bash -c 'grep -qF "$1" "$2" || { cat "$2"; exit 1; }' _ \
    "the view mounted on $M3 is gone (its process ended): run 'p2v umount $M3', mount the source again" "$T/l2.err"
fusermount3 -uz "$M3"
wait_until 20 gone "$vp" || bad "lost view: its process did not end"
p2v_mount "$src" "$M3" --type fixed || bad "mounting the view again failed"
"$P2V" commit --json "$M3" "$D" >"$T/l.json" 2>"$T/l.err"
check_eq "lost view: the rerun on the new mount succeeds" 0 $?
at=$(resumed_at "$T/l.err")
check "lost view: it resumed (at $at)" bash -c "[ '$at' != none ] && [ $at -ge $((2 * CHUNK)) ]"
check "lost view: identical, SHA256SUMS checks out" identical "$D" "$HF"
p2v_umount "$M3"
rm -rf "$D"

# ---- Reruns on a complete destination, something else in the way --------------
D=$T/dest-fixed
ino=$(stat -c '%i %Y' "$D/disk.vhd")
"$P2V" commit --json "$MF" "$D" >"$T/r.json" 2>"$T/r.err"
check_eq "rerun on a complete DEST: exit 0" 0 $?
check_eq "rerun: json already true, resumed_at 0, sha256" "true 0 $HF" \
    "$(json_key "$T/r.json" already) $(json_key "$T/r.json" resumed_at) $(json_key "$T/r.json" sha256)"
check "rerun: verified again" grep -qE '^p2v: verifying .*: 100% ' "$T/r.err"
check_eq "rerun: the image was not copied again (same inode and mtime)" "$ino" "$(stat -c '%i %Y' "$D/disk.vhd")"
check "rerun: identical, SHA256SUMS checks out" identical "$D" "$HF"
"$P2V" commit "$MF" "$D" >"$T/r.out" 2>/dev/null
check "rerun: the text output says already there" grep -q '(already there)' "$T/r.out"

O=$T/dest-otherfile   # (with the smaller dynamic image)
mkdir -p "$O"
head -c 3000000 /dev/urandom >"$O/disk.vhd"
oh=$(sha "$O/disk.vhd")
check_fails "a different disk.vhd in DEST: refused" 'exists and is not this image' "$P2V" commit -q "$MD" "$O"
"$P2V" commit -q "$MD" "$O" >/dev/null 2>&1
check_eq "a different disk.vhd: exit 1" 1 $?
check_eq "a different disk.vhd: left as it was, no partial" "$oh 0" "$(sha "$O/disk.vhd") $(leftovers "$O")"
cp "$T/dest-dyn/disk.vhd" "$O/disk.vhd"
printf '\x01' | dd of="$O/disk.vhd" bs=1 seek=1000 conv=notrunc status=none
check_fails "same size, a changed first MiB: not this image" 'exists and is not this image' "$P2V" commit -q "$MD" "$O"
cp "$T/dest-dyn/disk.vhd" "$O/disk.vhd"
printf '\x01' | dd of="$O/disk.vhd" bs=1 seek=$((SD / 2 + 3)) conv=notrunc status=none
check_fails "same size and ends, a changed middle: verification fails" 'differs from .* in bytes' \
    "$P2V" commit -q "$MD" "$O"
"$P2V" commit -q --no-verify "$MD" "$O" >/dev/null 2>&1
rc=$?
check "same size and ends, a changed middle, --no-verify: not passed off as the view's image (exit $rc)" \
    bash -c "[ $rc != 0 ] || grep -qx '$HD  disk.vhd' '$O/SHA256SUMS'"
rm -rf "$O" "$T/dest-dyn"

# ---- Two commits into one destination ----------------------------------------
D=$T/dest-two
commit_bg "$T/t.out" "$T/t.err" "$MD" "$D"
pid1=$CPID
at_size "$D/.disk.vhd.p2v-partial" 1 "$pid1" true >/dev/null
check_fails "a second commit into the same DEST: refused" 'another p2v commit is writing' "$P2V" commit -q "$MD" "$D"
reap "$pid1"
check_eq "the first commit finishes" 0 $?
check "the first commit's image is identical" identical "$D" "$HD"
rm -rf "$D"

# ---- The image changing: during a copy, and between two runs ---------------------
# An image file named directly: its copy is bound to its size and its first
# and last bytes, so bytes changed in the middle keep the journal.
chg=$T/chg.img
make_mixed "$chg" 96 11   # 192 MiB: three chunks; block 3 (6 MiB) holds data
hchg=$(sha "$chg")
# flip FILE OFFSET: inverts 4096 bytes (every one of them differs).
cat >"$T/flip.py" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(4096); f.seek(int(sys.argv[2])); f.write(bytes(x ^ 0xFF for x in b))
PY
flip() { python3 "$T/flip.py" "$1" "$2"; }
off=$((6 * MiB + 5 * 4096))
D=$T/dest-chg
commit_bg "$T/v.out" "$T/v.err" "$chg" "$D"
at_size "$D/.chg.img.p2v-partial" $((2 * CHUNK + 1)) "$CPID" bash -c \
    "kill -STOP $CPID; python3 '$T/flip.py' '$chg' $off; kill -CONT $CPID" >/dev/null
reap "$CPID"
check_eq "changed during the copy: verification fails (exit 1)" 1 $?
check "changed during the copy: the message names the range (offset, length) and says to run again" \
    grep -qF "verifying: $D/.chg.img.p2v-partial differs from $chg in bytes $off-$((off + 4095)) (4096 bytes at offset $off, in chunk 0); the view changed during the copy, or the destination's storage returned other bytes than were written: run the same p2v commit again" "$T/v.err"
"$P2V" commit --json "$chg" "$D" >"$T/v.json" 2>"$T/v.err"
check_eq "changed during the copy: the rerun succeeds" 0 $?
check "changed during the copy: the rerun names the chunk it copies again" \
    grep -qF "$chg: bytes $off-$((off + 4095)) (4096 bytes) of the view are not what was copied from it (the source changed between two mounts); copying chunk 0 (bytes 0-$((CHUNK - 1))) again" "$T/v.err"
check_eq "changed during the copy: json resumed_at (all chunks) and recopied (one chunk)" "$((3 * CHUNK)) $CHUNK" \
    "$(json_key "$T/v.json" resumed_at) $(json_key "$T/v.json" recopied)"
check "changed during the copy: the copy is the image as it is now" cmp "$D/chg.img" "$chg"
check "changed during the copy: SHA256SUMS checks out" identical "$D" "$(sha "$chg")" chg.img
rm -rf "$D"
# Changed between two runs: the resumed copy, even unverified, is the new image.
D=$T/dest-chg2
commit_bg "$T/v.out" "$T/v.err" --no-verify "$chg" "$D"
at_size "$D/.chg.img.p2v-partial" $((2 * CHUNK + 1)) "$CPID" kill -9 "$CPID" >/dev/null
reap "$CPID"
check "changed between runs: chunks 0-1 are journaled" test "$(journal_chunks "$D/.chg.img.p2v-journal")" -ge 2
flip "$chg" $((CHUNK + 3 * MiB))
"$P2V" commit --no-verify --json "$chg" "$D" >"$T/v.json" 2>"$T/v.err"
check_eq "changed between runs, --no-verify: the rerun succeeds" 0 $?
check_eq "changed between runs: chunk 1 copied again" "$CHUNK" "$(json_key "$T/v.json" recopied)"
check "changed between runs, --no-verify: the copy is the image as it is now (not a mix)" cmp "$D/chg.img" "$chg"
check "changed between runs: SHA256SUMS checks out" identical "$D" "$(sha "$chg")" chg.img
check "changed between runs: the source was changed indeed" test "$hchg" != "$(sha "$chg")"
rm -rf "$D" "$chg"

# ---- DEST that is no directory --------------------------------------------------
check_fails "DEST /dev/null: refused, saying what it is and that a directory is wanted" \
    "^p2v: error: /dev/null is a character device, not a directory: p2v commit writes the image and the files beside it into DEST_DIR; name a directory" \
    "$P2V" commit -q "$MF" /dev/null
"$P2V" commit -q "$MF" /dev/null >/dev/null 2>&1
check_eq "DEST /dev/null: exit 1" 1 $?
check "DEST /dev/null: still the null device" test -c /dev/null
: >"$T/afile"
check_fails "DEST a file: refused" "$T/afile is a file, not a directory" "$P2V" commit -q "$MF" "$T/afile"
check_eq "DEST a file: left empty" 0 "$(size_of "$T/afile")"

# ---- Usage ---------------------------------------------------------------------
"$P2V" commit >/dev/null 2>&1; check_eq "no arguments: exit 2" 2 $?
"$P2V" commit "$MF" >/dev/null 2>&1; check_eq "one argument: exit 2" 2 $?
"$P2V" commit "$MF" "$T/x" "$T/y" >/dev/null 2>&1; check_eq "three arguments: exit 2" 2 $?
"$P2V" commit --bogus "$MF" "$T/x" >/dev/null 2>&1; check_eq "unknown option: exit 2" 2 $?
check_fails "bad usage prints the usage" 'usage: p2v commit' "$P2V" commit
check_fails "missing MNT: a message" "$T/nothing.*No such file" "$P2V" commit "$T/nothing" "$T/x"
"$P2V" commit "$T/nothing" "$T/x" >/dev/null 2>&1; check_eq "missing MNT: exit 1" 1 $?
check "missing MNT: DEST is not created" test ! -e "$T/x"
mkdir -p "$T/plain-dir"
check_fails "a directory that is no view: exit 1, a message" 'without disk.vhd or disk.vhdx' "$P2V" commit "$T/plain-dir" "$T/x"
check_fails "DEST under a missing directory: a message" "cannot create $T/no/such" "$P2V" commit -q "$MF" "$T/no/such"

for s in "$src" "$sparse" "$win" "$efi"; do check_eq "source $(basename "$s") unchanged" "${before[$s]}" "$(sha "$s")"; done
finish
