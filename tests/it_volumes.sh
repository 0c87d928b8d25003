#!/bin/bash
# --volumes keeps the disk's layout and includes only the chosen
# partitions' data: the others read as zeros, their table entries, the disk
# signature and every offset stay; a bad list is refused.
. "$(dirname "$0")/lib.sh"

disk=$T/disk.img
truncate -s 48M "$disk"
printf 'label: dos\nlabel-id: 0xcafe1234\nstart=2048, size=16384, type=83\nstart=18432, size=16384, type=83\nstart=34816, type=83\n' | sfdisk -q "$disk"
for n in 1 2 3; do
    python3 -c "import sys; sys.stdout.write(('P2V-VOLUME-%s-' % sys.argv[1]) * 100000)" $n |
        dd of="$disk" bs=512 seek=$((2048 + (n - 1) * 16384)) conv=notrunc status=none
done
before=$(hash_of "$disk")
count() { grep -c -a -o "$1" "$2" 2>/dev/null || true; }

p2v_mount "$disk" "$T/mnt" --volumes 1,3
raw=$T/mnt/disk.raw
check "volume 1 kept" test "$(count P2V-VOLUME-1- "$raw")" -gt 0
check_eq "volume 2 left out: reads as zeros" 0 "$(count P2V-VOLUME-2- "$raw")"
check "volume 3 kept" test "$(count P2V-VOLUME-3- "$raw")" -gt 0
check "the partition table and signature are unchanged" cmp -n 512 "$raw" "$disk"
layout() { sfdisk -d "$1" | grep -E 'label-id| : ' | sed 's/^[^:]*://'; }
check_eq "the layout is unchanged" "$(layout "$disk")" "$(layout "$raw")"
check "the kept partitions are byte-identical" cmp <(dd if="$raw" bs=512 skip=34816 status=none) <(dd if="$disk" bs=512 skip=34816 status=none)
check "disk.vhd agrees with disk.raw" qemu-img compare -q -f raw -F vpc "$raw" "$T/mnt/disk.vhd"
p2v_umount "$T/mnt"
mkdir -p "$T/m2"
check_fails "a partition that does not exist is refused" "'7' is not a data partition" \
    "$P2V" mount --volumes 1,7 "$disk" "$T/m2"
check_fails "a malformed list is refused" "'x' is not a data partition" \
    "$P2V" info --volumes x "$disk"
check "nothing mounted" not_mounted "$T/m2"
check_eq "source unchanged" "$before" "$(hash_of "$disk")"
finish
