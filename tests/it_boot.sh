#!/bin/bash
# Boot test: a disk with an MBR, an NTFS partition and GRUB in the post-MBR
# gap boots in QEMU from MNT/disk.vhd (format=vpc, read-only), for fixed
# and dynamic images: GRUB prints its marker on the serial port and cats a
# file from the NTFS partition.
. "$(dirname "$0")/lib.sh"

src=$T/boot.img
if ! bash tests/mkbootdisk.sh "$src" 64 >"$T/mk.log" 2>&1; then
    bad "building the boot disk failed"; cat "$T/mk.log"; finish; exit
fi
before=$(hash_of "$src")
check "the source itself boots (control)" bash tests/qemu-boot-check.sh "$src" raw
for type in dynamic fixed; do
    mnt=$T/mnt-$type
    p2v_mount "$src" "$mnt" --type "$type" || { bad "$type: mount failed"; continue; }
    check "$type: QEMU boots MNT/disk.vhd (vpc, read-only) to GRUB and reads NTFS" \
        bash tests/qemu-boot-check.sh "$mnt/disk.vhd" vpc
    p2v_umount "$mnt"
done

# A file replaced by a fix-up (in the COW overlay) is what GRUB prints.
printf 'P2V-NTFS-FILE-OK\nP2V-FIXUP-INJECTED\n' >"$T/hello.txt"
printf 'file-put hello.txt 1:/hello.txt\n' >"$T/boot.plan"
check "fix-up: replace hello.txt on partition 1" \
    "$P2V" fixup apply --state "$T/state" --plan "$T/boot.plan" "$src"
mnt=$T/mnt-fixup
p2v_mount "$src" "$mnt" --state "$T/state"
check "fix-up: QEMU boots MNT/disk.vhd and GRUB reads the fixed-up NTFS" \
    env QEMU_BOOT_LOG="$T/fixup-boot.log" bash tests/qemu-boot-check.sh "$mnt/disk.vhd" vpc
check "fix-up: GRUB printed the file the fix-up put there" grep -q -a P2V-FIXUP-INJECTED "$T/fixup-boot.log"
p2v_umount "$mnt"
check_eq "source unchanged" "$before" "$(hash_of "$src")"
finish
