#!/bin/bash
# mkefidisk.sh OUT.img [SIZE_MIB]
#
# Build a small UEFI-bootable raw disk image for boot tests:
#   - GPT (fixed disk and partition GUIDs)
#     1: EFI System Partition, LBA 2048, 34 MiB, FAT32
#     2: Linux filesystem, ext4 up to the last MiB (backup GPT lives there),
#        holding hello.txt ("P2V-EFI-FILE-OK")
#   - /EFI/BOOT/BOOTX64.EFI on the ESP: a standalone GRUB x86_64-efi image
#     whose embedded config prints P2V-EFI-BOOT-OK on serial, finds the ext4
#     partition by filesystem UUID, cats hello.txt and halts (under OVMF that
#     is an EFI ResetSystem(shutdown), so QEMU exits by itself).
# No loop devices, mounts or grub-install: each filesystem is built in its
# own file (mtools for FAT, mkfs.ext4 -d for ext4) and copied into the disk
# file, so it also works in containers without access to block devices.
# tests/qemu-boot-check.sh --efi boots the result with OVMF.
set -eu

# min 44: 1 MiB gap + 34 MiB ESP + 8 MiB ext4 (mke2fs's minimum for a
# journal with 4 KiB blocks) + 1 MiB for the backup GPT.
usage() { echo "usage: $0 OUT.img [SIZE_MIB (default 64, min 44)]" >&2; exit 2; }
case $# in 1|2) ;; *) usage ;; esac
out=$1
size_mib=${2:-64}
case $size_mib in ''|*[!0-9]*) usage ;; esac
[ "$size_mib" -ge 44 ] || usage

grubdir=/usr/lib/grub/x86_64-efi
PATH=$PATH:/usr/sbin:/sbin                   # sfdisk/mkfs.* live in sbin
for t in sfdisk mkfs.vfat mkfs.ext4 debugfs mmd mcopy grub-mkimage python3; do
    command -v "$t" >/dev/null 2>&1 || { echo "$0: missing tool $t" >&2; exit 1; }
done
[ -f "$grubdir/kernel.img" ] || { echo "$0: $grubdir missing (grub-efi-amd64-bin)" >&2; exit 1; }

# Fixed identifiers, so the image is reproducible and the GRUB config can
# search for the ext4 filesystem by UUID.
disk_guid=50325621-0000-4000-8000-000000000000
esp_guid=50325621-0000-4000-8000-000000000001
root_guid=50325621-0000-4000-8000-000000000002
esp_volid=50325621                           # FAT volume id (hex)
ext4_uuid=50325621-e474-4000-8000-000000000004
ext4_hash_seed=50325621-e474-4000-8000-0000000000a5
# Fixed timestamps: mtools honours SOURCE_DATE_EPOCH for the entries it
# creates (mcopy -m keeps the source mtime, set below). FAT cannot store
# times before 1980 and stores local time, hence 1980-01-01 and TZ=UTC.
# mke2fs 1.47.0 has no such knob; its times are reset to the 1970 epoch
# after the fact (see the ext4 section).
fat_epoch=315532800                          # 1980-01-01 00:00:00 UTC
export SOURCE_DATE_EPOCH=$fat_epoch TZ=UTC

# ESP: a valid FAT32 needs >= 65525 clusters; with fewer, fsck.fat warns and
# implementations that go by the cluster count (as the FAT spec says) would
# take it for FAT16. With 512-byte clusters 32 MiB gives only 64496, so the
# ESP is 34 MiB (68528 clusters).
esp_start=2048                               # LBA; 1 MiB alignment
esp_sectors=$((34 * 2048))
root_start=$((esp_start + esp_sectors))
total_sectors=$((size_mib * 2048))
# ext4 ends one MiB before the end of the disk: the backup GPT needs the last
# 33 sectors, and whole MiB keep the ext4 block count round.
root_sectors=$((total_sectors - 2048 - root_start))

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mkefidisk.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM                   # run the EXIT trap on signals too

# --- GRUB EFI image with an embedded config --------------------------------
# The embedded config runs in GRUB's kernel before normal.mod would be loaded,
# so only the listed modules' commands (plus kernel built-ins such as set)
# exist. The boot marker is assembled from two variables, so neither the
# config text nor anything echoing it can contain the marker; the file marker
# exists only inside hello.txt on the ext4 partition.
cat > "$tmp/early.cfg" <<EOF
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set p2v_a=P2V-EFI
set p2v_b=BOOT-OK
echo "\${p2v_a}-\${p2v_b}"
search --no-floppy --fs-uuid --set=root $ext4_uuid
cat (\$root)/hello.txt
halt
EOF
grub-mkimage -O x86_64-efi -d "$grubdir" -o "$tmp/BOOTX64.EFI" \
    -c "$tmp/early.cfg" -p /EFI/BOOT \
    part_gpt fat ext2 search search_fs_uuid serial terminal terminfo \
    echo cat halt

# --- ESP (FAT32), built in its own file -------------------------------------
# -F 32 -s 1: FAT32 with 512-byte clusters (see above). --invariant fixes the
# remaining time/random based fields; -i (after it) sets our volume id.
truncate -s $((esp_sectors * 512)) "$tmp/esp.img"
mkfs.vfat -F 32 -S 512 -s 1 --invariant -i "$esp_volid" -n P2V-ESP \
    -h "$esp_start" "$tmp/esp.img" >/dev/null
touch -d @$fat_epoch "$tmp/BOOTX64.EFI"
mmd -i "$tmp/esp.img" ::/EFI ::/EFI/BOOT
mcopy -m -i "$tmp/esp.img" "$tmp/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI

# --- ext4 partition, built in its own file ----------------------------------
# -d populates from a directory without mounting, copying modes and owners;
# root_owner=0:0 keeps the root directory from getting the caller's uid/gid
# (hello.txt's owner is reset with debugfs below), chmod undoes the umask.
mkdir "$tmp/root"
printf 'P2V-EFI-FILE-OK\n' > "$tmp/root/hello.txt"
chmod 755 "$tmp/root"
chmod 644 "$tmp/root/hello.txt"
touch -d @0 "$tmp/root/hello.txt" "$tmp/root"
truncate -s $((root_sectors * 512)) "$tmp/root.img"
mkfs.ext4 -q -F -b 4096 -L P2V-ROOT -U "$ext4_uuid" \
    -E "root_owner=0:0,hash_seed=$ext4_hash_seed" \
    -d "$tmp/root" "$tmp/root.img"
# mke2fs stamps the inodes it creates (root, lost+found, journal, ...) and the
# superblocks with the current time. Inode times are reset with debugfs,
# which keeps the inode checksums right. The inodes are the ones mke2fs -d
# creates here: 1 bad blocks, 2 root, 7 resize, 8 journal, 11 lost+found,
# 12 hello.txt. debugfs exits 0 even when a command fails, so any output
# besides its banner and the echoed commands counts as an error.
{
    for ino in 1 2 7 8 11 12; do
        for f in atime ctime mtime crtime; do echo "sif <$ino> $f 0"; done
    done
    echo "sif <12> uid 0"
    echo "sif <12> gid 0"
} > "$tmp/debugfs.cmd"
if ! debugfs -w -f "$tmp/debugfs.cmd" "$tmp/root.img" >"$tmp/debugfs.out" 2>&1 ||
        grep -v -e '^debugfs [0-9]' -e '^debugfs: sif ' "$tmp/debugfs.out" | grep -q .; then
    cat "$tmp/debugfs.out" >&2
    exit 1
fi
# debugfs stamps the primary superblock's write time again when it closes,
# and the backups keep mke2fs's times, so the superblock times are zeroed here
# in every copy (found by magic and UUID at each block group's start), with
# the metadata_csum superblock checksum recomputed (crc32c, ext4 convention:
# seed ~0, no final inversion).
python3 - "$tmp/root.img" <<'PYEOF'
import struct, sys

def crc32c_raw(data, crc=0xFFFFFFFF):
    for b in data:
        crc = TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc

TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    TABLE.append(c)

TIME_FIELDS = (0x2C, 0x30, 0x40, 0x108)       # mtime wtime lastcheck mkfs_time
TIME_HI = (0x274, 0x275, 0x276, 0x277)        # their high bytes

with open(sys.argv[1], "r+b") as f:
    f.seek(1024)
    primary = f.read(1024)
    magic, = struct.unpack_from("<H", primary, 0x38)
    if magic != 0xEF53:
        sys.exit("ext4 primary superblock not found")
    uuid = primary[0x68:0x78]
    bsize = 1024 << struct.unpack_from("<I", primary, 0x18)[0]
    first_data, = struct.unpack_from("<I", primary, 0x14)
    blocks, = struct.unpack_from("<I", primary, 0x04)
    bpg, = struct.unpack_from("<I", primary, 0x20)
    csum = (struct.unpack_from("<I", primary, 0x64)[0] & 0x400 and
            primary[0x175] == 1)              # metadata_csum, crc32c
    offsets = [1024]
    for g in range(1, (blocks - first_data + bpg - 1) // bpg):
        offsets.append((first_data + g * bpg) * bsize)
    for off in offsets:
        f.seek(off)
        sb = bytearray(f.read(1024))
        if (len(sb) < 1024 or struct.unpack_from("<H", sb, 0x38)[0] != 0xEF53
                or sb[0x68:0x78] != uuid):
            continue                          # no backup in this group
        for o in TIME_FIELDS:
            struct.pack_into("<I", sb, o, 0)
        for o in TIME_HI:
            sb[o] = 0
        if csum:
            struct.pack_into("<I", sb, 0x3FC, crc32c_raw(sb[:0x3FC]))
        f.seek(off)
        f.write(sb)
PYEOF

# --- assemble the disk ------------------------------------------------------
rm -f "$out"
truncate -s $((total_sectors * 512)) "$out"
# sfdisk writes the protective MBR, the primary GPT and the backup GPT into the
# plain file (no kernel partition table to re-read).
sfdisk --quiet --no-reread --no-tell-kernel "$out" <<EOF
label: gpt
label-id: $disk_guid
unit: sectors

start=$esp_start, size=$esp_sectors, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=$esp_guid, name="EFI System Partition"
start=$root_start, size=$root_sectors, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=$root_guid, name="P2V root"
EOF
# Both partitions start on a MiB boundary. conv=sparse keeps OUT as sparse as
# the (mostly empty) filesystem images.
dd if="$tmp/esp.img" of="$out" bs=1M seek=$((esp_start / 2048)) conv=notrunc,sparse status=none
dd if="$tmp/root.img" of="$out" bs=1M seek=$((root_start / 2048)) conv=notrunc,sparse status=none

echo "$out: ${size_mib} MiB GPT, ESP (FAT32) at LBA $esp_start, ext4 at LBA $root_start"
