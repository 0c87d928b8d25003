#!/bin/bash
# mount --writable: no disk.vhd while writable, disk.raw and partitions/N.raw
# take writes (ntfscp into the partition, dd into a free cluster of the
# disk) that land in the state directory MNT.p2v (0700, files 0600), never
# in the source; a read-only remount shows them in disk.raw, the partition
# and disk.vhd alike and refuses writes; one writable mount at a time;
# fixup discard gives back the source byte for byte.
. "$(dirname "$0")/lib.sh"

# A plain MBR disk, one NTFS partition from 1 MiB to the end.
src=$T/disk.img
truncate -s 64M "$src"
printf 'label: dos\nstart=2048, type=7\n' | sfdisk -q "$src"
sectors=$(sfdisk -d "$src" | sed -n 's/.*start= *2048, size= *\([0-9]*\).*/\1/p')
loop=$(losetup -f --show -o 1048576 --sizelimit $((sectors * 512)) "$src")
mkntfs -q -F -Q -L WRITABLE -p 2048 -H 255 -S 63 "$loop" >/dev/null 2>"$T/mkntfs.log"
rc=$?
losetup -d "$loop"
if [ "$rc" -ne 0 ]; then
    bad "mkntfs failed: $(cat "$T/mkntfs.log")"
    finish
    exit
fi
before=$(hash_of "$src")

python3 -c 'import random; random.seed(7); print("\n".join("line %d: %x" % (i, random.getrandbits(64)) for i in range(1500)))' \
    >"$T/local.txt"  # ~40 KiB: stored in clusters, not in its MFT record
repeat "P2V-WRITABLE-MARKER-0123456789ab" 128 >"$T/marker.bin"  # 4 KiB

mnt=$T/mnt
st=$T/mnt.p2v  # the default state directory of a --writable mount on $mnt
mnt2=$T/mnt2

at() {  # at FILE OFFSET: the 4 KiB of FILE at OFFSET
    dd if="$1" bs=4096 skip=$(($2 / 4096)) count=1 status=none
}

check "mount --writable" p2v_mount "$src" "$mnt" --writable
raw=$mnt/disk.raw
part=$mnt/partitions/1.raw
check "--writable: no disk.vhd until remounted read-only" test ! -e "$mnt/disk.vhd"
check_eq "--writable: disk.raw and partitions/1.raw are 0600" "600 600" \
    "$(stat -c %a "$raw" "$part" 2>&1 | tr '\n' ' ' | sed 's/ $//')"
check_eq "--writable: the state directory MNT.p2v is made" directory "$(stat -c %F "$st" 2>&1)"
check "ntfscp writes new.txt into partitions/1.raw" ntfscp "$part" "$T/local.txt" new.txt
check "new.txt reads back while mounted" cmp <(ntfscat "$part" new.txt) "$T/local.txt"
# A cluster that is free after the copy ($Bitmap is inode 6), about 3/4 into
# the volume: 4 KiB clusters (the mkntfs default at this size).
ntfscat -i 6 "$part" >"$T/bitmap" 2>"$T/ntfscat.err"
cl=$(python3 - "$T/bitmap" $(((sectors - 1) * 512 / 4096)) <<'PY'
import sys
bm, n = open(sys.argv[1], "rb").read(), int(sys.argv[2])
free = [c for c in range(n) if not bm[c // 8] >> (c % 8) & 1]
print(min(free, key=lambda c: abs(c - n * 3 // 4)) if free else "")
PY
)
check "a free cluster for the marker (\$Bitmap read: $(cat "$T/ntfscat.err"))" test -n "$cl"
moff=$(((1 << 20) + ${cl:-0} * 4096))
echo "  ..   marker at byte $moff of disk.raw (cluster ${cl:-?} of the partition)"
check "dd writes 4 KiB into disk.raw (conv=notrunc)" \
    dd if="$T/marker.bin" of="$raw" bs=4096 seek=$((moff / 4096)) conv=notrunc status=none
check "the marker reads back through disk.raw" cmp <(at "$raw" "$moff") "$T/marker.bin"
check "... and through partitions/1.raw (one view, no stale cache)" \
    cmp <(at "$part" $((moff - (1 << 20)))) "$T/marker.bin"
check_eq "disk.raw keeps its size" $((64 << 20)) "$(stat -c %s "$raw")"
check_fails "a second --writable mount of the same state is refused" "in use" \
    p2v_mount "$src" "$mnt2" --writable --state "$st"
check_fails "a read-only mount of the same state is refused too" "in use" \
    p2v_mount "$src" "$mnt2" --state "$st"
check_fails "fixup discard is refused while mounted" "in use" "$P2V" fixup discard --state "$st"
check "unmount the writable view" umount_state "$mnt" "$st"
check_eq "the state directory is 0700" 700 "$(stat -c %a "$st" 2>&1)"
check_eq "the state files are 0600" "lock 600, overlay.data 600, overlay.index 600" \
    "$(cd "$st" 2>/dev/null && stat -c '%n %a' -- * | sort | paste -sd, | sed 's/,/, /g')"
check_eq "the source is unchanged" "$before" "$(hash_of "$src")"

# Read-only, with the state found beside the mount point.
check "remount read-only: MNT.p2v is used by default" p2v_mount "$src" "$mnt"
check "new.txt is in the partition" cmp <(ntfscat "$part" new.txt) "$T/local.txt"
check "the marker is in disk.raw" cmp <(at "$raw" "$moff") "$T/marker.bin"
check "disk.vhd is back" test -f "$mnt/disk.vhd"
check_eq "qemu-img compare: disk.vhd = disk.raw, marker and all" "Images are identical." \
    "$(qemu-img compare -f vpc -F raw "$mnt/disk.vhd" "$raw" 2>&1)"
check_eq "read-only: disk.raw and partitions/1.raw are 0400" "400 400" \
    "$(stat -c %a "$raw" "$part" 2>&1 | tr '\n' ' ' | sed 's/ $//')"
at "$raw" 65536 >"$T/pre1"
at "$part" 65536 >"$T/pre2"
check_fails "read-only: dd into disk.raw fails" "read-only|permission" \
    dd if="$T/marker.bin" of="$raw" bs=4096 seek=16 conv=notrunc status=none
check_fails "read-only: dd into partitions/1.raw fails" "read-only|permission" \
    dd if="$T/marker.bin" of="$part" bs=4096 seek=16 conv=notrunc status=none
check "the refused writes changed nothing" \
    bash -c "cmp -s '$T/pre1' <(dd if='$raw' bs=4096 skip=16 count=1 status=none) &&
             cmp -s '$T/pre2' <(dd if='$part' bs=4096 skip=16 count=1 status=none)"
check "unmount the read-only view" umount_state "$mnt" "$st"
check_eq "the source is still unchanged" "$before" "$(hash_of "$src")"

# Discard: the state is empty again.
check "fixup discard" "$P2V" fixup discard --state "$st"
check "discard removed the overlay" test ! -e "$st/overlay.index" -a ! -e "$st/overlay.data"
check "remount with the discarded state" p2v_mount "$src" "$mnt" --state "$st"
# The source as p2v serves it without a state (deleted data in the NTFS
# metadata scrubbed, so not the source byte for byte).
p2v_mount "$src" "$T/base"
check "after discard, disk.raw is the view without a state byte for byte" cmp "$raw" "$T/base/disk.raw"
p2v_umount "$T/base"
check "after discard, new.txt is gone" bash -c "! ntfscat '$part' new.txt >/dev/null 2>&1"
check "unmount" umount_state "$mnt" "$st"

# A relative --state: the daemon changes to /, the writes must still land.
mkdir -p "$mnt2"
(cd "$T" && "$P2V" mount -q --writable --state rel.p2v "$src" "$mnt2") && MOUNTS+=("$mnt2")
dd if="$T/marker.bin" of="$mnt2/disk.raw" bs=4096 seek=$((moff / 4096)) conv=notrunc status=none
check "unmount the view with a relative --state" umount_state "$mnt2" "$T/rel.p2v"
check "a relative --state keeps the writes" test -e "$T/rel.p2v/overlay.index"

check_eq "the state was free every time p2v umount returned" 0 "$LATE"
check_eq "the source is unchanged at the end" "$before" "$(hash_of "$src")"
finish
