#!/bin/bash
# Partition tables through libblkid: MBR with primary, extended and logical
# partitions, GPT with names, filesystems and labels in each, a bare
# filesystem without a table; damaged tables are refused with a clear
# error and nothing mounted.
. "$(dirname "$0")/lib.sh"

MiB=$((1 << 20))
pjson() { "$P2V" info --json -q "$1"; }
q() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print($1)" "$2"; }

# put_fs DISK START_MiB SIZE_MiB KIND LABEL: make a filesystem in a scratch
# file, then place it in the disk (mkfs never touches the disk itself).
put_fs() {
    local part=$T/part.img
    rm -f "$part"; truncate -s "$3M" "$part"
    case $4 in
        ext4) mkfs.ext4 -q -F -L "$5" "$part" ;;
        ntfs) mkntfs -q -F -Q -L "$5" -p $(($2 * 2048)) "$part" >/dev/null 2>&1 ;;
    esac
    dd if="$part" of="$1" bs=1M seek="$2" conv=notrunc,sparse status=none
}

# MBR: 1 ext4 (active), 2 ntfs, 3 extended holding 5 ext4 and 6 (no fs).
mbr=$T/mbr.img
truncate -s 64M "$mbr"
sfdisk -q "$mbr" <<'SF'
label: dos
label-id: 0x1234abcd
start=2048, size=16384, type=83, bootable
start=18432, size=20480, type=7
start=38912, size=90112, type=5
start=40960, size=32768, type=83
start=75776, size=32768, type=83
SF
put_fs "$mbr" 1 8 ext4 BOOTFS
put_fs "$mbr" 9 10 ntfs WINDATA
put_fs "$mbr" 20 16 ext4 LOGICAL5
before=$(hash_of "$mbr")
j=$(pjson "$mbr")
check_eq "MBR: table type and disk signature" "dos 1234abcd" \
    "$(q "d['partition_table']['type'] + ' ' + d['partition_table']['id']" "$j")"
check_eq "MBR: partition numbers (primary, extended, logical)" "1 2 3 5 6" \
    "$(q "' '.join(str(p['number']) for p in d['partitions'])" "$j")"
check_eq "MBR: starts and sizes in bytes" "$((1 * MiB)):$((8 * MiB)) $((9 * MiB)):$((10 * MiB)) $((19 * MiB)):$((44 * MiB)) $((20 * MiB)):$((16 * MiB)) $((37 * MiB)):$((16 * MiB))" \
    "$(q "' '.join('%d:%d' % (p['start'], p['size']) for p in d['partitions'])" "$j")"
check_eq "MBR: types, active flag, extended container" "0x83:True:False 0x07:False:False 0x05:False:True 0x83:False:False 0x83:False:False" \
    "$(q "' '.join('%s:%s:%s' % (p['type'], p['bootable'], p['extended']) for p in d['partitions'])" "$j")"
check_eq "MBR: filesystems and labels" "ext4:BOOTFS ntfs:WINDATA : ext4:LOGICAL5 :" \
    "$(q "' '.join('%s:%s' % (p['filesystem']['type'], p['filesystem']['label']) for p in d['partitions'])" "$j")"
check "MBR: the human listing names every partition" \
    bash -c "\"$P2V\" info -q \"$mbr\" | grep -E '^  5 .* ext4 +LOGICAL5'"

# GPT with two named partitions.
gpt=$T/gpt.img
truncate -s 64M "$gpt"
sfdisk -q "$gpt" <<'SF'
label: gpt
label-id: 0D8E8A4C-8C5E-4C57-9B1C-2A4F1E5D6C7B
start=2048, size=20480, type=EBD0A0A2-B9E5-4433-87C0-68B99BC0BD67, name="Basic data", uuid=11111111-2222-3333-4444-555555555555
start=22528, size=40960, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="linux root"
SF
put_fs "$gpt" 1 10 ntfs GPTNTFS
put_fs "$gpt" 11 20 ext4 GPTROOT
j=$(pjson "$gpt")
check_eq "GPT: table type and disk GUID" "gpt 0d8e8a4c-8c5e-4c57-9b1c-2a4f1e5d6c7b" \
    "$(q "d['partition_table']['type'] + ' ' + d['partition_table']['id'].lower()" "$j")"
check_eq "GPT: names, type GUIDs, partition GUID" \
    "Basic data:ebd0a0a2-b9e5-4433-87c0-68b99bc0bd67:11111111-2222-3333-4444-555555555555 linux root:0fc63daf-8483-4772-8e79-3d69d8477de4" \
    "$(q "' '.join(p['name'] + ':' + p['type'].lower() + (':' + p['uuid'] if p['number'] == 1 else '') for p in d['partitions'])" "$j")"
check_eq "GPT: filesystems" "ntfs:GPTNTFS ext4:GPTROOT" \
    "$(q "' '.join('%s:%s' % (p['filesystem']['type'], p['filesystem']['label']) for p in d['partitions'])" "$j")"
check_eq "GPT: the primary header is used" False "$(q "d['partition_table']['from_backup_gpt']" "$j")"

# Bare filesystem, no table.
bare=$T/bare.img
truncate -s 16M "$bare"
mkfs.ext4 -q -F -L BAREVOL "$bare"
j=$(pjson "$bare")
check_eq "bare volume: no table, the filesystem of the whole disk" ":ext4:BAREVOL" \
    "$(q "d['partition_table']['type'] + ':' + d['filesystem']['type'] + ':' + d['filesystem']['label']" "$j")"

# Damaged tables.
mkdir -p "$T/mnt"
refused() {  # what pattern image
    check_fails "$1: refused by info" "$2" "$P2V" info -q "$3"
    check_fails "$1: refused by mount" "$2" "$P2V" mount -q "$3" "$T/mnt"
    check "$1: nothing mounted" not_mounted "$T/mnt"
}
past=$T/past.img; cp "$mbr" "$past"; truncate -s 40M "$past"
refused "partition past the end of the disk" "partition [0-9]+ .* runs past the end of the disk" "$past"
# sfdisk will not write overlapping entries: write the MBR by hand.
over=$T/over.img; truncate -s 64M "$over"
python3 - "$over" <<'PY'
import struct, sys
mbr = bytearray(512)
for i, (start, size) in enumerate([(2048, 40960), (30720, 20480)]):
    mbr[446 + 16 * i:462 + 16 * i] = struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x83, b"\0\0\0", start, size)
mbr[440:444] = b"\x11\x22\x33\x44"
mbr[510:512] = b"\x55\xaa"
with open(sys.argv[1], "r+b") as f:
    f.write(mbr)
PY
refused "overlapping partitions" "partitions 1 and 2 overlap" "$over"
# Issue 19, 3: a partition over the MBR itself (isohybrid), and a primary
# inside the extended one; each would lose the table to --volumes.
mbr_by_hand() {  # IMAGE "type,start,size ..." [EBR-LBA "type,start,size"]
    truncate -s 64M "$1"
    python3 - "$@" <<'PY'
import struct, sys
def sector(entries):
    b = bytearray(512)
    for i, e in enumerate(entries.split()):
        t, start, size = (int(x, 0) for x in e.split(","))
        b[446 + 16 * i:462 + 16 * i] = struct.pack("<B3sB3sII", 0, b"\0\0\0", t, b"\0\0\0", start, size)
    b[510:512] = b"\x55\xaa"
    return b
with open(sys.argv[1], "r+b") as f:
    f.write(sector(sys.argv[2]))
    if len(sys.argv) > 3:
        f.seek(int(sys.argv[3]) * 512)
        f.write(sector(sys.argv[4]))
PY
}
mbr_by_hand "$T/lba0.img" "0x17,0,65536 0xef,65536,8192"
check "the LBA 0 table is one blkid reads (PTTYPE dos)" bash -c "blkid -p -o value -s PTTYPE '$T/lba0.img' | grep -qx dos"
refused "a partition starting at LBA 0" "partition 1 starts at byte 0, over the partition table" "$T/lba0.img"
mbr_by_hand "$T/inext.img" "0x05,2048,100000 0x83,60000,10000" 2048 "0x83,2048,20000"
check "the extended table is one sfdisk reads (a logical partition 5)" \
    bash -c "sfdisk -d '$T/inext.img' 2>/dev/null | grep -q 'inext.img5 : start= *4096'"
refused "a primary partition inside the extended one" "primary partition 2 .* lies inside the extended partition 1" "$T/inext.img"
both=$T/both.img; cp "$gpt" "$both"
dd if=/dev/zero of="$both" bs=512 seek=1 count=1 conv=notrunc status=none
dd if=/dev/zero of="$both" bs=512 seek=$((64 * 2048 - 1)) count=1 conv=notrunc status=none
refused "GPT with both headers destroyed" "neither the primary nor the backup GPT header is valid" "$both"

# Primary header damaged, backup intact: a warning, the backup's table.
prim=$T/prim.img; cp "$gpt" "$prim"
printf 'XXXX' | dd of="$prim" bs=1 seek=$((512 + 16)) conv=notrunc status=none   # breaks the CRC
check_eq "GPT with a damaged primary header: warned" 1 \
    "$("$P2V" info -q "$prim" 2>&1 >/dev/null | grep -c "primary GPT header is damaged; using the backup")"
check_eq "GPT with a damaged primary header: partitions from the backup" "1 2" \
    "$(q "' '.join(str(p['number']) for p in d['partitions'])" "$(pjson "$prim" 2>/dev/null)")"

# Backup GPT damaged, primary fine: a warning, the primary's table.
bk=$T/bk.img; cp "$gpt" "$bk"
printf 'XXXX' | dd of="$bk" bs=1 seek=$((64 * MiB - 512 + 16)) conv=notrunc status=none
check_eq "GPT with a damaged backup header: warned" 1 \
    "$("$P2V" info -q "$bk" 2>&1 >/dev/null | grep -c "backup GPT header at LBA .* is damaged: its header CRC does not match; using the primary")"
check_eq "GPT with a damaged backup header: flagged in JSON, partitions intact" "True 1 2" \
    "$(q "str(d['partition_table']['backup_gpt_damaged']) + ' ' + ' '.join(str(p['number']) for p in d['partitions'])" "$(pjson "$bk" 2>/dev/null)")"
be=$T/be.img; cp "$gpt" "$be"
printf 'XXXX' | dd of="$be" bs=1 seek=$((64 * MiB - 33 * 512 + 40)) conv=notrunc status=none
check_eq "GPT with damaged backup entries: warned" 1 \
    "$("$P2V" info -q "$be" 2>&1 >/dev/null | grep -c "partition entries CRC does not match")"
# Truncated GPT disk: libblkid rejects the primary, p2v says why.
tr=$T/trunc.img; cp "$gpt" "$tr"; truncate -s 62M "$tr"
refused "truncated GPT disk" "the GPT says the disk ends at LBA 131071, but it has only 126976 sectors: the image is truncated" "$tr"
check_eq "an intact GPT raises no warning" "" "$("$P2V" info -q "$gpt" 2>&1 >/dev/null)"

# A filesystem larger than its partition (shrunk without resize2fs): its
# free space past the partition's end is the next partition's data, and
# must not read as zeros.
over=$T/over.img
truncate -s 48M "$over"
sfdisk -q "$over" <<'SF'
label: dos
start=2048, size=16384, type=83
start=18432, size=32768, type=83
SF
rm -f "$T/big.ext4"; truncate -s 32M "$T/big.ext4"; mkfs.ext4 -q -F -L BIG "$T/big.ext4"
dd if="$T/big.ext4" of="$over" bs=1M seek=1 count=8 conv=notrunc status=none
python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(9<<20); f.write(b"NEXT-PARTITION-DATA" * 55000)' "$over"
mkdir -p "$T/om"
over_hash=$(hash_of "$over")
check "an ext filesystem larger than its partition: mounted" "$P2V" mount -q "$over" "$T/om"
check_eq "... the next partition reads as it is on the source" \
    "$(dd if="$over" bs=1M skip=9 count=16 status=none | sha256sum)" \
    "$(dd if="$T/om/disk.raw" bs=1M skip=9 count=16 status=none | sha256sum)"
"$P2V" umount "$T/om"
check_eq "... with a warning naming it" 1 \
    "$("$P2V" info -q "$over" 2>&1 >/dev/null | grep -c "partition 1: its filesystem reaches past the end of its partition")"
check_eq "... source unchanged" "$over_hash" "$(hash_of "$over")"

check_eq "MBR source unchanged" "$before" "$(hash_of "$mbr")"
finish
