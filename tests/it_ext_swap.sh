#!/bin/bash
# Used blocks only for ext4 (libext2fs) and Linux swap: a deleted file's
# data reads as zeros, the remaining files are intact (the kernel mounts the
# partition of disk.raw), every block e2image -ra copies is ours too, and a
# swap partition keeps only its signature page.
. "$(dirname "$0")/lib.sh"

DEL=P2V-EXT-DELETED-MARKER SWP=P2V-SWAP-MARKER
disk=$T/disk.img part=$T/ext.img m=$T/m
truncate -s 96M "$disk"
printf 'label: dos\nstart=2048, size=131072, type=83\nstart=133120, type=82\n' | sfdisk -q "$disk"
truncate -s 64M "$part"
mkfs.ext4 -q -F -L EXTDATA "$part"
mkdir -p "$m"
mount -o loop "$part" "$m"
head -c $((2 << 20)) /dev/urandom >"$m/keep.bin"
mkdir "$m/dir" && echo "kept text" >"$m/dir/keep.txt"
repeat "$DEL" 60000 >"$m/deleted.bin"
sync; rm "$m/deleted.bin"; sync
(cd "$m" && sha256sum keep.bin dir/keep.txt) >"$T/files.sha256"
umount "$m"
dd if="$part" of="$disk" bs=1M seek=1 conv=notrunc status=none
# Swap: a signature page, then old contents.
swap=$T/swap.img
truncate -s 31M "$swap"
repeat "$SWP" 100000 | dd of="$swap" bs=1M seek=1 conv=notrunc status=none
mkswap -q -L SWAPPART "$swap" >/dev/null
dd if="$swap" of="$disk" bs=512 seek=133120 conv=notrunc status=none
before=$(hash_of "$disk")
check "control: the source holds the deleted file's data" test "$(count_marker "$DEL" "$disk")" -gt 0
check "control: the source holds old swap contents" test "$(count_marker "$SWP" "$disk")" -gt 0

json=$("$P2V" info --json -q "$disk")
check_eq "info: ext4 and swap identified and mapped" "ext4:True swap:True" \
    "$(python3 -c 'import json,sys; print(" ".join("%s:%s" % (p["filesystem"]["type"], p["filesystem"]["mapped"]) for p in json.loads(sys.argv[1])["partitions"]))' "$json")"

p2v_mount "$disk" "$T/mnt"
raw=$T/mnt/disk.raw
check_eq "disk.raw: no trace of the deleted file" 0 "$(count_marker "$DEL" "$raw")"
check_eq "disk.vhd: no trace of the deleted file" 0 "$(count_marker "$DEL" "$T/mnt/disk.vhd")"
check_eq "disk.raw: no old swap contents" 0 "$(count_marker "$SWP" "$raw")"
check "swap: the signature page is intact" \
    cmp <(dd if="$raw" bs=512 skip=133120 count=8 status=none) <(head -c 4096 "$swap")
check "qemu-img compare disk.raw with disk.vhd: identical" \
    qemu-img compare -q -f raw -F vpc "$raw" "$T/mnt/disk.vhd"
loop=$(losetup -r -f --show -o $((1 << 20)) --sizelimit $((64 << 20)) "$raw")
check "the kernel mounts the ext4 of disk.raw; files intact; fsck is clean" \
    bash -c "e2fsck -fn '$loop' >/dev/null && mount -o ro,noload '$loop' '$m' && (cd '$m' && sha256sum -c --quiet '$T/files.sha256'); rc=\$?; umount '$m'; exit \$rc"
losetup -d "$loop"
# e2image -ra copies the blocks e2fsprogs itself considers in use: each of
# them must be in disk.raw unchanged, except the slots of free inodes and
# the blocks of the (empty) journal after its superblock, which must read
# as zeros there: deleted files' inline data and attributes live on in the
# first, copies of metadata in the second (issue 20).
rm -f "$T/e2i.img"
e2image -ra "$part" "$T/e2i.img"
dd if="$raw" of="$T/ours.img" bs=1M skip=1 count=64 status=none
dumpe2fs "$part" >"$T/dumpe2fs.txt" 2>/dev/null
debugfs -R "blocks <8>" "$part" >"$T/journal.txt" 2>/dev/null
check "every block e2image -ra copies is in disk.raw: unchanged, or a free inode or journal block zeroed" \
    python3 - "$T/e2i.img" "$T/ours.img" "$T/dumpe2fs.txt" "$T/journal.txt" <<'PY'
import re, sys
img, ours = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
d = open(sys.argv[3]).read()
bs = int(re.search(r"^Block size:\s+(\d+)", d, re.M).group(1))
isz = int(re.search(r"^Inode size:\s+(\d+)", d, re.M).group(1))
ipg = int(re.search(r"^Inodes per group:\s+(\d+)", d, re.M).group(1))
first = int(re.search(r"^First inode:\s+(\d+)", d, re.M).group(1))
zeroed = []  # byte ranges that must read as zeros in ours
for g, body in re.findall(r"^Group (\d+):(.*?)(?=^Group |\Z)", d, re.M | re.S):
    g = int(g)
    table = int(re.search(r"Inode table at (\d+)", body).group(1))
    free = re.search(r"Free inodes: ([0-9, -]*)", body).group(1)
    for part in filter(None, (x.strip() for x in free.split(","))):
        a, _, b = part.partition("-")
        for ino in range(int(a), int(b or a) + 1):
            if ino >= first:
                zeroed.append((table * bs + (ino - 1 - g * ipg) * isz, isz))
jblocks = [int(x) for x in open(sys.argv[4]).read().split()]
zeroed += [(b * bs, bs) for b in jblocks[1:]]
mask = bytearray(len(img))
for off, n in zeroed:
    mask[off:off + n] = b"\1" * n
bad = []
for off in range(0, len(img), 4096):
    x, y, m = img[off:off + 4096], ours[off:off + 4096], mask[off:off + 4096]
    if y.count(0) == len(y) or (x.count(0) == len(x) and m.count(0) == len(m)):
        continue  # e2image leaves out what it does not copy (backup superblocks)
    for k in range(len(x)):
        if (m[k] and y[k] != 0) or (not m[k] and x.count(0) != len(x) and x[k] != y[k]):
            bad.append(off + k)
            break
print("blocks zeroed where they must be:", len(zeroed), "differing elsewhere:", len(bad), bad[:5])
sys.exit(bad != [] or not zeroed)
PY
p2v_umount "$T/mnt"
check_eq "source unchanged" "$before" "$(hash_of "$disk")"

# Issue 19, 1: an ext block bitmap that says every block is free (debugfs
# freeb: superblock, descriptors, bitmaps and inode tables included) is
# refused, with a warning, and the volume copied whole.
zb=$T/zerobitmap.img
truncate -s 16M "$zb"
mkfs.ext4 -q -F -b 1024 "$zb"
debugfs -w -R "freeb 1 16383" "$zb" >/dev/null 2>&1
check "control: dumpe2fs reads group 0's blocks all free" \
    bash -c "dumpe2fs '$zb' 2>/dev/null | grep -m1 '  Free blocks: ' | grep -q ' 1-8192'"
damaged_map "$zb" "ext block bitmap says block 1 (the superblock of group 0) is free, which it cannot be" \
    'd["filesystem"]' partitions/1.raw
finish
