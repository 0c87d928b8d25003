#!/bin/bash
# --volumes keeps the disk's layout and includes only the chosen
# partitions' data: the others read as zeros, their table entries, the disk
# signature and every offset stay; a bad list is refused.
. "$(dirname "$0")/lib.sh"

disk=$T/disk.img
truncate -s 48M "$disk"
printf 'label: dos\nlabel-id: 0xcafe1234\nstart=2048, size=16384, type=83\nstart=18432, size=16384, type=83\nstart=34816, type=83\n' | sfdisk -q "$disk"
for n in 1 2 3; do
    repeat "P2V-VOLUME-$n-" 100000 |
        dd of="$disk" bs=512 seek=$((2048 + (n - 1) * 16384)) conv=notrunc status=none
done
before=$(hash_of "$disk")

p2v_mount "$disk" "$T/mnt" --volumes 1,3
raw=$T/mnt/disk.raw
check "volume 1 kept" test "$(count_marker P2V-VOLUME-1- "$raw")" -gt 0
check_eq "volume 2 left out: reads as zeros" 0 "$(count_marker P2V-VOLUME-2- "$raw")"
check "volume 3 kept" test "$(count_marker P2V-VOLUME-3- "$raw")" -gt 0
check "the partition table and signature are unchanged" cmp -n 512 "$raw" "$disk"
layout() { sfdisk -d "$1" | grep -E 'label-id| : ' | sed 's/^[^:]*://'; }
check_eq "the layout is unchanged" "$(layout "$disk")" "$(layout "$raw")"
check "the kept partitions are byte-identical" cmp <(dd if="$raw" bs=512 skip=34816 status=none) <(dd if="$disk" bs=512 skip=34816 status=none)
check "disk.vhd agrees with disk.raw" qemu-img compare -q -f raw -F vpc "$raw" "$T/mnt/disk.vhd"
p2v_umount "$T/mnt"
# --drop-unselected: the entries go too (MBR here, GPT below).
p2v_mount "$disk" "$T/mnt" --volumes 1,3 --drop-unselected
check_eq "MBR --drop-unselected: entry 2 is gone, 1 and 3 stay where they were" \
    "0xcafe1234 start= 2048, size= 16384, type=83 start= 34816, size= 63488, type=83" \
    "$(layout "$T/mnt/disk.raw" | tr '\n' ' ' | tr -s ' ' | sed 's/^ //; s/ $//')"
p2v_umount "$T/mnt"
gpt=$T/gpt.img
truncate -s 48M "$gpt"
printf 'label: gpt\nstart=2048, size=16384, name=one\nstart=18432, size=16384, name=two\nstart=34816, size=16384, name=three\n' | sfdisk -q "$gpt"
gbefore=$(hash_of "$gpt")
p2v_mount "$gpt" "$T/mnt" --volumes 2 --drop-unselected
check "GPT --drop-unselected: sfdisk verifies both headers" sfdisk -V "$T/mnt/disk.raw"
check_eq "GPT --drop-unselected: only partition 2 is listed, at its place" "start=18432,size=16384,name=\"two\"" \
    "$(sfdisk -d "$T/mnt/disk.raw" | grep ' : ' | sed 's/.*: //; s/, type=[^,]*//; s/, uuid=[^,]*//; s/ //g')"
check_eq "GPT --drop-unselected: libblkid reads it without falling back to the backup" "False False" \
    "$("$P2V" info --json -q "$T/mnt/disk.raw" | python3 -c 'import json,sys; t=json.load(sys.stdin)["partition_table"]; print(t["from_backup_gpt"], t["backup_gpt_damaged"])')"
p2v_umount "$T/mnt"
check_eq "GPT source unchanged" "$gbefore" "$(hash_of "$gpt")"
mkdir -p "$T/m2"
check_fails "--drop-unselected needs --volumes" "goes with --volumes" "$P2V" info --drop-unselected "$disk"
mkdir -p "$T/m2"
check_fails "a partition that does not exist is refused" "'7' is not a data partition" \
    "$P2V" mount --volumes 1,7 "$disk" "$T/m2"
check_fails "a malformed list is refused" "'x' is not a data partition" \
    "$P2V" info --volumes x "$disk"
check "nothing mounted" not_mounted "$T/m2"
check_eq "source unchanged" "$before" "$(hash_of "$disk")"
finish
