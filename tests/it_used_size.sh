#!/bin/bash
# The dynamic VHD of a 25%-full NTFS volume holds little more than the used
# clusters: at most the 2 MiB blocks that hold used clusters (counted from
# ntfsclone's raw copy, an independent reader of $Bitmap), plus 0.2%.
. "$(dirname "$0")/lib.sh"

part=$T/part.img disk=$T/disk.img m=$T/m
# Random bytes first, then a quick format: the free space is full of old
# data, as on a used disk, and must not count.
head -c $((255 << 20)) /dev/urandom >"$part"
mkntfs -q -F -Q -p 2048 "$part" >/dev/null 2>&1
mkdir -p "$m"
ntfs-3g "$part" "$m"
MOUNTS+=("$m")
for i in $(seq 16); do head -c $((4 << 20)) /dev/urandom >"$m/f$i.bin"; done   # 64 MiB: 25%
umount "$m"
truncate -s 256M "$disk"
printf 'label: dos\nstart=2048, type=7\n' | sfdisk -q "$disk"
dd if="$part" of="$disk" bs=1M seek=1 conv=notrunc status=none
before=$(hash_of "$disk")
ntfsclone -q --overwrite "$T/clone.img" "$part" >/dev/null 2>&1
used_blocks=$(python3 - "$T/clone.img" <<'PY'
import sys
# The partition starts 1 MiB into the disk: block b of the disk covers
# partition bytes [b*2M - 1M, (b+1)*2M - 1M); block 0 also holds the MBR.
M = 1 << 20
data = open(sys.argv[1], "rb").read()
blocks = {0}
for off in range(0, len(data), 4096):
    chunk = data[off:off + 4096]
    if chunk.count(0) != len(chunk):
        blocks.add((off + M) // (2 * M))
print(len(blocks))
PY
)
p2v_mount "$disk" "$T/mnt"
size=$(stat -c %s "$T/mnt/disk.vhd")
limit=$(python3 -c "print(int($used_blocks * 2 * 2**20 * 1.002) + 512 + 1024 + 1024)")
check "dynamic VHD ($size bytes) <= used blocks ($used_blocks x 2 MiB) + 0.2%  ($limit)" test "$size" -le "$limit"
check "structure check" python3 tests/vhdcheck.py "$T/mnt/disk.vhd"
check "qemu-img compare with disk.raw: identical" qemu-img compare -q -f raw -F vpc "$T/mnt/disk.raw" "$T/mnt/disk.vhd"
p2v_umount "$T/mnt"
p2v_mount "$disk" "$T/mnt" --keep-free-space
check "control: with --keep-free-space the image is much larger" test "$(stat -c %s "$T/mnt/disk.vhd")" -gt $((200 << 20))
p2v_umount "$T/mnt"
check_eq "source unchanged" "$before" "$(hash_of "$disk")"
finish
