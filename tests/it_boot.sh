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
check_eq "source unchanged" "$before" "$(hash_of "$src")"
finish
