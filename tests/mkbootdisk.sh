#!/bin/bash
# mkbootdisk.sh OUT.img [SIZE_MIB]
#
# Build a small BIOS-bootable raw disk image for boot tests:
#   - MBR with one active NTFS (0x07) partition, LBA 2048 .. end of disk
#   - NTFS filesystem holding hello.txt ("P2V-NTFS-FILE-OK")
#   - GRUB i386-pc boot.img in the MBR and core.img in the post-MBR gap; the
#     embedded config prints P2V-GRUB-BOOT-OK on serial, cats hello.txt from
#     the NTFS partition and halts (QEMU then powers off by itself).
# No loop devices, mounts, grub-install or grub-bios-setup: everything is
# written into a plain file, so it also works in containers without access
# to block devices.
set -eu

usage() { echo "usage: $0 OUT.img [SIZE_MIB (default 64, min 8)]" >&2; exit 2; }
case $# in 1|2) ;; *) usage ;; esac
out=$1
size_mib=${2:-64}
case $size_mib in ''|*[!0-9]*) usage ;; esac
[ "$size_mib" -ge 8 ] || usage

grubdir=/usr/lib/grub/i386-pc
PATH=$PATH:/usr/sbin:/sbin                   # mkntfs/ntfscp live in sbin
for t in mkntfs ntfscp grub-mkimage python3; do
    command -v "$t" >/dev/null 2>&1 || { echo "$0: missing tool $t" >&2; exit 1; }
done
[ -f "$grubdir/boot.img" ] || { echo "$0: $grubdir/boot.img missing (grub-pc-bin)" >&2; exit 1; }

part_start=2048                              # LBA; 1 MiB alignment
total_sectors=$((size_mib * 2048))
part_sectors=$((total_sectors - part_start))

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mkbootdisk.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM                   # run the EXIT trap on signals too

# --- NTFS partition, built in its own file --------------------------------
# -p/-H/-S matter: NTFS boot sectors record the partition offset and geometry,
# and NTFS boot code finds its volume via the "hidden sectors" field.
# -T zeroes timestamps to keep the image as reproducible as mkntfs allows.
truncate -s $((part_sectors * 512)) "$tmp/part.img"
# -F is needed for a plain file; its "not a block device" notice is noise,
# so stderr is shown only if mkntfs fails.
if ! mkntfs -F -Q -T -q -s 512 -p "$part_start" -H 255 -S 63 -L P2VTEST \
        "$tmp/part.img" 2>"$tmp/mkntfs.err"; then
    cat "$tmp/mkntfs.err" >&2
    exit 1
fi
printf 'P2V-NTFS-FILE-OK\n' > "$tmp/hello.txt"
t0=$(date +%s)
ntfscp -f "$tmp/part.img" "$tmp/hello.txt" hello.txt >/dev/null
t1=$(( $(date +%s) + 1 ))
# ntfscp stamps hello.txt and its directory entry with the current time and
# has no option against it. For reproducible images, rewrite every 8-byte
# aligned NTFS timestamp that falls inside the ntfscp run window to the 1970
# epoch that mkntfs -T used. Such values are all timestamps in practice; a
# value split by an MFT fixup would merely be left as is.
python3 - "$tmp/part.img" "$t0" "$t1" <<'PYEOF'
import struct, sys
EPOCH_1970 = 116444736000000000               # 1970-01-01 in 100 ns since 1601
lo, hi = (EPOCH_1970 + int(t) * 10**7 for t in sys.argv[2:4])
# Read, not mmap: Debian 12's Python 3.11.2 crashed in mmap.find here.
with open(sys.argv[1], "r+b") as f:
    data = f.read()
    # Search for the high 32 bits (C-speed find) instead of unpacking every
    # qword in Python, which is slow on big images.
    for top in range(lo >> 32, (hi >> 32) + 1):
        pat = struct.pack("<I", top)
        off = data.find(pat, 4)
        while off != -1:
            q = off - 4                       # start of the candidate qword
            if q % 8 == 0 and lo <= struct.unpack_from("<Q", data, q)[0] <= hi:
                f.seek(q)
                f.write(struct.pack("<Q", EPOCH_1970))
            off = data.find(pat, off + 1)
PYEOF

# --- GRUB core image with an embedded early config -------------------------
# The early config runs in GRUB's kernel before normal.mod would be loaded,
# so only the listed modules' commands exist; that is all we need.
cat > "$tmp/early.cfg" <<'EOF'
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
echo P2V-GRUB-BOOT-OK
cat (hd0,msdos1)/hello.txt
halt
EOF
grub-mkimage -O i386-pc -o "$tmp/core.img" -c "$tmp/early.cfg" \
    -p '(hd0,msdos1)/boot/grub' \
    biosdisk part_msdos ntfs serial terminal terminfo echo cat halt

core_bytes=$(stat -c %s "$tmp/core.img")
core_sectors=$(( (core_bytes + 511) / 512 ))
# core.img lives at LBA 1 .. part_start-1 (the "post-MBR gap").
if [ "$core_sectors" -gt $((part_start - 1)) ]; then
    echo "$0: core.img ($core_sectors sectors) does not fit before LBA $part_start" >&2
    exit 1
fi

# --- assemble the disk ------------------------------------------------------
rm -f "$out"
truncate -s $((total_sectors * 512)) "$out"
# conv=sparse keeps OUT as sparse as the (mostly empty) partition image.
dd if="$tmp/part.img" of="$out" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$tmp/core.img" of="$out" bs=512 seek=1 conv=notrunc status=none

# MBR + the two pointers grub-bios-setup would patch (offsets from GRUB's
# include/grub/i386/pc/boot.h and util/setup.c):
#   boot.img 0x5c  u64  LBA of core.img's first sector (diskboot)   -> 1
#   boot.img 0x64  u8   boot drive, 0xff = "use DL from the BIOS"    -> 0xff
#   boot.img 0x66  jmp  NOP'd for hard disks (forces DL into 0x80..0x8f range
#                       if a buggy BIOS passes 0/1), as setup.c does
#   diskboot 0x1f4 {u64 start; u16 len; u16 segment} first blocklist entry
#                       -> start = 2, len = remaining core sectors, segment kept
python3 - "$out" "$grubdir/boot.img" "$part_start" "$part_sectors" "$core_sectors" <<'EOF'
import struct, sys
out, bootimg = sys.argv[1], sys.argv[2]
pstart, psects, csects = map(int, sys.argv[3:6])

def chs(lba, heads=255, spt=63):
    # CHS tuple as stored in an MBR entry; clamp to 1023/254/63 beyond 8 GiB.
    c, rem = divmod(lba, heads * spt)
    h, s = divmod(rem, spt)
    if c > 1023:
        c, h, s = 1023, heads - 1, spt - 1
    s += 1
    return bytes([h, ((c >> 2) & 0xC0) | s, c & 0xFF])

with open(bootimg, "rb") as f:
    boot = bytearray(f.read(512))
mbr = bytearray(512)
mbr[:440] = boot[:440]                        # boot code only, not its table
struct.pack_into("<Q", mbr, 0x5C, 1)          # kernel sector
mbr[0x64] = 0xFF                              # boot drive: take it from DL
mbr[0x66:0x68] = b"\x90\x90"                  # hard-disk drive check on
struct.pack_into("<I", mbr, 0x1B8, 0x50325621)  # fixed disk signature
entry = (bytes([0x80]) + chs(pstart) + bytes([0x07]) +
         chs(pstart + psects - 1) + struct.pack("<II", pstart, psects))
mbr[0x1BE:0x1CE] = entry                      # partition 1, active, NTFS
mbr[0x1FE:0x200] = b"\x55\xAA"

with open(out, "r+b") as f:
    f.write(mbr)
    f.seek(512)                               # core.img sector 0 = diskboot
    diskboot = bytearray(f.read(512))
    seg = struct.unpack_from("<H", diskboot, 0x1FE)[0]
    if seg != 0x820:
        sys.exit("unexpected diskboot blocklist segment 0x%x" % seg)
    # One entry covering the rest of core.img; the entry below it (0x1e8) is
    # already zero in a fresh image and terminates the list.
    struct.pack_into("<QHH", diskboot, 0x1F4, 2, csects - 1, seg)
    if any(diskboot[0x1E8:0x1F4]):
        sys.exit("diskboot: second blocklist slot not empty")
    f.seek(512)
    f.write(diskboot)
EOF

echo "$out: ${size_mib} MiB, NTFS at LBA $part_start, core.img $core_sectors sectors at LBA 1"
