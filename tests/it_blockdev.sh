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
check_eq "image unchanged" "$before" "$(hash_of "$img")"
finish
