#!/bin/bash
# A block device as the source: a read-only loop device over an image.
# Its size and sector size come from the device; a 4Kn device is refused as
# a VHD with a message naming the sector size, and becomes a VHDX by default.
. "$(dirname "$0")/lib.sh"

if ! losetup -f >/dev/null 2>&1; then
    echo "  skip: no loop devices available here"; finish; exit
fi
img=$T/disk.img
make_mixed "$img" 12 9
before=$(hash_of "$img")
LOOPS=()
trap 'umount "$T/fsmnt" 2>/dev/null; for l in "${LOOPS[@]}"; do losetup -d "$l"; done; cleanup' EXIT

dev=$(losetup -r -f --show "$img") && LOOPS+=("$dev")
json=$("$P2V" info --json "$dev")
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$json" "$1"; }
check_eq "info: kind" "block device" "$(field kind)"
check_eq "info: size from the device" "$(stat -c %s "$img")" "$(field size)"
check_eq "info: logical sector size from the device" 512 "$(field logical_sector_size)"
check_eq "info: zero blocks found on the device too" 4 "$(field blocks_allocated)"
for type in dynamic fixed; do
    p2v_mount "$dev" "$T/mnt" --type "$type"
    check "$type from $dev: qemu-img compare identical" qemu-img compare -q -f raw -F vpc "$img" "$T/mnt/disk.vhd"
    p2v_umount "$T/mnt"
done

# Identity of a device comes from the disk, not the node: another image on
# the same loop device gets another id; the same image again, the same id.
uid() { "$P2V" info --json -q "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["unique_id"])'; }
id1=$(uid "$dev")
other=$T/other.img
make_mixed "$other" 12 10
losetup -d "$dev"
dev=$(losetup -r -f --show "$other") && LOOPS[0]=$dev
id2=$(uid "$dev")
losetup -d "$dev"
dev=$(losetup -r -f --show "$img") && LOOPS[0]=$dev
check "another disk behind the same device node gets another unique id" test "$id1" != "$id2"
check_eq "the same disk again gets the same unique id" "$id1" "$(uid "$dev")"

# A device with a mounted filesystem: p2v refuses it, naming the mount,
# unless it is read live on purpose.
fsimg=$T/fs.img
truncate -s 64M "$fsimg"
mkfs.ext4 -q -F "$fsimg"
fsdev=$(losetup -f --show "$fsimg") && LOOPS+=("$fsdev")
mkdir -p "$T/fsmnt"
mount "$fsdev" "$T/fsmnt"
check_fails "a mounted device is refused, naming the mount" \
    "is in use read-write: .* is mounted read-write at $T/fsmnt" "$P2V" info -q "$fsdev"
check_eq "--allow-live reads it, with a warning" 1 \
    "$("$P2V" info -q --allow-live "$fsdev" 2>&1 >/dev/null | grep -c "in use read-write.*--allow-live")"
umount "$T/fsmnt"
check_eq "once unmounted, no warning" 0 "$("$P2V" info -q "$fsdev" 2>&1 >/dev/null | grep -c "in use")"

dev4k=$(losetup -r -f --show --sector-size 4096 "$img") && LOOPS+=("$dev4k")
mkdir -p "$T/mnt"
check_fails "a 4Kn device is refused as a VHD" "4096-byte logical sectors; VHD has 512-byte sectors only" \
    "$P2V" mount --format vhd "$dev4k" "$T/mnt"
check "4Kn: nothing mounted" not_mounted "$T/mnt"
if p2v_mount "$dev4k" "$T/mnt"; then
    check "4Kn: auto shows disk.vhdx" test -f "$T/mnt/disk.vhdx"
    check "4Kn: vhdiinfo sees 4096-byte sectors" grep -q "Bytes per sector.*4096" <(vhdiinfo "$T/mnt/disk.vhdx")
    p2v_umount "$T/mnt"
else
    bad "4Kn: the default mount (VHDX) failed"
fi

# ---- Identity: a device changed by a mount of its filesystem ------------------
# An ext4 partition in the middle of the disk; a file in it rewritten in
# place changes neither the disk's first nor last MiB nor which blocks hold
# data, but the mount that did it changed the filesystem's superblock
# (write time, mount and write counts): another unique id.
MiB=$((1 << 20))
pimg=$T/parted.img
truncate -s 96M "$pimg"
printf 'label: dos\nstart=2048, size=63488, type=83\nstart=65536, size=126976, type=83\n' | sfdisk -q "$pimg"
head -c $((31 * MiB)) /dev/urandom | dd of="$pimg" bs=1M seek=1 conv=notrunc status=none
mkfs.ext4 -q -F -E offset=$((32 * MiB)),lazy_itable_init=0,lazy_journal_init=0 "$pimg" 62M
# in_fs CMD: runs CMD with the partition's filesystem mounted (read-write) on $T/fsmnt.
in_fs() {
    local p r
    p=$(losetup -f --show -o $((32 * MiB)) --sizelimit $((62 * MiB)) "$pimg") || return 1
    mount "$p" "$T/fsmnt" && { "$@"; r=$?; umount "$T/fsmnt"; }
    losetup -d "$p"
    return ${r:-1}
}
in_fs bash -c "head -c $((4 * MiB)) /dev/urandom >'$T/fsmnt/data'" || bad "writing a file into the ext4 partition failed"
ends() { head -c $MiB "$pimg" | sha256sum; tail -c $MiB "$pimg" | sha256sum; }
ends_a=$(ends)
dev=$(losetup -r -f --show "$pimg") && LOOPS+=("$dev")
id_a=$(uid "$dev")
losetup -d "$dev"
in_fs dd if=/dev/urandom of="$T/fsmnt/data" bs=1M count=4 conv=notrunc,fsync status=none \
    || bad "rewriting the file in place failed"
check_eq "the rewrite left the disk's first and last MiB alone" "$ends_a" "$(ends)"
dev=$(losetup -r -f --show "$pimg") && LOOPS[${#LOOPS[@]} - 1]=$dev
id_b=$(uid "$dev")
check "a filesystem changed in the middle of the device: another unique id ($id_a, $id_b)" \
    test -n "$id_a" -a "$id_a" != "$id_b"
check_eq "the changed disk again: the same unique id" "$id_b" "$(uid "$dev")"
losetup -d "$dev"
unset 'LOOPS[${#LOOPS[@]}-1]'

# ---- A commit resumed after the device changed between two mounts -----------
# Raw bytes changed in the middle (data for data: the same blocks hold
# data) are a change the identity does not see: the resumed commit compares
# what it copied with the view and copies again what differs.
CHUNK=$((64 << 20))
rimg=$T/resume.img
make_mixed "$rimg" 192 21   # 384 MiB: six chunks of the fixed image; block 33 (66 MiB) holds data
rdev=$(losetup -f --show "$rimg") && LOOPS+=("$rdev")  # read-write: the test changes it
RM=$T/rm D1=$T/rd1 D2=$T/rd2
p2v_mount "$rdev" "$RM" --type fixed || bad "mounting $rdev failed"
cat >"$T/at_size.py" <<'PY'
import os, subprocess, sys, time
path, want, pid, cmd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
deadline = time.monotonic() + 90
while time.monotonic() < deadline:
    try:
        if os.stat(path).st_size >= want:
            sys.exit(subprocess.run(cmd).returncode)
    except FileNotFoundError:
        pass
    try:
        if open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] == "Z":
            break
    except OSError:
        break
    time.sleep(0.001)
sys.exit(1)
PY
"$P2V" commit -q "$RM" "$D1" >/dev/null 2>"$T/r.err" &
cpid=$!
python3 "$T/at_size.py" "$D1/.disk.vhd.p2v-partial" $((3 * CHUNK + 1)) "$cpid" kill -9 "$cpid"
check_eq "commit from $rdev killed part way" 0 $?
wait "$cpid"
cp -a "$D1" "$D2"
p2v_umount "$RM"
id_a=$(uid "$rdev")
python3 - "$rdev" $((66 * MiB + 4096)) <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_SYNC)
b = os.pread(fd, 65536, int(sys.argv[2]))
os.pwrite(fd, bytes(x ^ 0xFF for x in b), int(sys.argv[2]))
os.close(fd)
PY
check_eq "the raw change in the middle keeps the unique id (what the resume check is for)" "$id_a" "$(uid "$rdev")"
p2v_mount "$rdev" "$RM" --type fixed || bad "mounting $rdev again failed"
"$P2V" commit --json "$RM" "$D1" >"$T/r.json" 2>"$T/r.err"
check_eq "resumed commit of the changed device: exit 0" 0 $?
check "resumed commit: it names the bytes that changed and copies chunk 1 again" \
    grep -qF "bytes $((66 * MiB + 4096))-$((66 * MiB + 4096 + 65535)) (65536 bytes) of the view are not what was copied from it (the source changed between two mounts); copying chunk 1 " "$T/r.err"
at=$(sed -n 's/^p2v: resuming .* at byte \([0-9]*\) of .*/\1/p' "$T/r.err")
check "resumed commit: it resumed after the journaled chunks (at ${at:-none})" test "${at:-0}" -ge $((3 * CHUNK))
check "resumed commit: the copy is the view of the changed device (cmp)" cmp "$D1/disk.vhd" "$RM/disk.vhd"
check "resumed commit: sha256sum -c SHA256SUMS" bash -c "cd '$D1' && sha256sum --quiet -c SHA256SUMS"
"$P2V" commit -q --no-verify "$RM" "$D2" >/dev/null 2>"$T/r.err"
check_eq "resumed commit --no-verify: exit 0" 0 $?
check "resumed commit --no-verify: the copy is the view of the changed device, not a mix (cmp)" \
    cmp "$D2/disk.vhd" "$RM/disk.vhd"
p2v_umount "$RM"
rm -rf "$D1" "$D2" "$rimg"
check_eq "image unchanged" "$before" "$(hash_of "$img")"
finish
