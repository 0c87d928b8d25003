#!/bin/bash
# Four readers at random offsets agree with a reference, on fixed and
# dynamic images and on disk.raw; SEEK_DATA/SEEK_HOLE find exactly the
# zero blocks; st_blocks tells the truth; the view is read-only and
# owner-only (tests/it_private.sh covers other users).
. "$(dirname "$0")/lib.sh"

src=$T/src.img
make_mixed "$src" 96 7          # blocks 1,2,4,5,... are zero
before=$(hash_of "$src")

# The reference is one sequential copy of disk.vhd, which qemu-img must
# read back as the source; the parallel readers must then agree with it.
for type in fixed dynamic; do
    mnt=$T/mnt-$type
    p2v_mount "$src" "$mnt" --type "$type" || { bad "$type: mount failed"; continue; }
    cp "$mnt/disk.vhd" "$T/ref-$type.vhd"
    check "$type: the reference copy reads back as the source" \
        qemu-img compare -q -f raw -F vpc "$src" "$T/ref-$type.vhd"
    check "$type: 4 parallel readers on disk.vhd agree with the reference" \
        python3 tests/parallel_read.py "$mnt/disk.vhd" "$T/ref-$type.vhd" 4 400 1
    check "$type: 4 parallel readers on disk.raw agree with the source" \
        python3 tests/parallel_read.py "$mnt/disk.raw" "$src" 4 400 2
    p2v_umount "$mnt"
done

# The other read paths: the source through the page cache instead of
# O_DIRECT, and a view without page cache (--direct-io).
for opt in --source-cache --direct-io; do
    mnt=$T/mnt-opt
    p2v_mount "$src" "$mnt" --type dynamic "$opt" || { bad "$opt: mount failed"; continue; }
    check "$opt: 4 parallel readers on disk.vhd agree with the reference" \
        python3 tests/parallel_read.py "$mnt/disk.vhd" "$T/ref-dynamic.vhd" 4 200 3
    check "$opt: disk.raw is the source" cmp "$mnt/disk.raw" "$src"
    p2v_umount "$mnt"
done

# SEEK_DATA / SEEK_HOLE: disk.raw of a dynamic mount shows a hole for
# every zero block; disk.vhd of a fixed mount keeps the source's holes.
sparse=$T/sparse.img
truncate -s 64M "$sparse"
printf 'boot' | dd of="$sparse" conv=notrunc status=none
printf 'data' | dd of="$sparse" bs=1M seek=40 conv=notrunc status=none
mkdir -p "$T/seek"
cat >"$T/seek.py" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
size, out, off = os.fstat(fd).st_size, [], 0
while off < size:
    try:
        d = os.lseek(fd, off, os.SEEK_DATA)
    except OSError:
        break
    h = os.lseek(fd, d, os.SEEK_HOLE)
    out.append("%d-%d" % (d, h))
    off = h
print(" ".join(out), os.fstat(fd).st_blocks)
PY
p2v_mount "$src" "$T/seek" --type dynamic
# The source's non-zero blocks are 0, 3, 6, ...: one data run each.
want=$(python3 -c 'M=2<<20; print(" ".join("%d-%d" % (b*M, (b+1)*M) for b in range(0, 96, 3)), 32*M//512)')
check_eq "dynamic disk.raw: data runs are exactly the non-zero blocks, st_blocks counts them" \
    "$want" "$(python3 "$T/seek.py" "$T/seek/disk.raw")"
check_eq "disk.vhd mode and owner" "400 $(id -u)" "$(stat -c '%a %u' "$T/seek/disk.vhd")"
check_eq "mount root mode" "500" "$(stat -c '%a' "$T/seek")"
check_fails "writes are refused (read-only view)" "Read-only file system" \
    dd if=/dev/zero of="$T/seek/disk.raw" bs=512 count=1 conv=notrunc
check "the mount is not allow_other" bash -c "! grep -E ' $T/seek .*allow_other' /proc/self/mountinfo"
p2v_umount "$T/seek"

p2v_mount "$sparse" "$T/seek" --type fixed
M=$((1 << 20)) PAGE=4096
check_eq "fixed disk.vhd over a sparse source: data where the source has data, then the footer" \
    "0-$PAGE $((40 * M))-$((40 * M + PAGE)) $((64 * M))-$((64 * M + 512)) 17" \
    "$(python3 "$T/seek.py" "$T/seek/disk.vhd")"
p2v_umount "$T/seek"

check_eq "source unchanged" "$before" "$(hash_of "$src")"
finish
