#!/bin/bash
# A bare volume becomes a bootable disk: p2v's MBR (its own 16-bit
# chain-loader) with one active partition at 1 MiB (or --offset), the NTFS
# boot sectors told their new place (hidden sectors, geometry) in primary
# and backup, the table valid for sfdisk, the filesystem mountable, and
# QEMU booting disk.vhd runs the volume's own boot code through our MBR.
. "$(dirname "$0")/lib.sh"

vol=$T/vol.img
truncate -s 40M "$vol"
mkntfs -q -F -Q -L BAREVOL "$vol" >/dev/null 2>&1
echo "bare volume file" >"$T/hello.txt"
ntfscp -q "$vol" "$T/hello.txt" hello.txt
# Boot code that proves it ran (tests/fixtures/marker_vbr.S) at 0x54.
as --32 -o "$T/vbr.o" tests/fixtures/marker_vbr.S
ld -m elf_i386 -Ttext=0x7c54 -o "$T/vbr.elf" "$T/vbr.o"
objcopy -O binary -j .text "$T/vbr.elf" "$T/vbr.bin"
dd if="$T/vbr.bin" of="$vol" bs=1 seek=$((0x54)) conv=notrunc status=none
before=$(hash_of "$vol")
le32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }

p2v_mount "$vol" "$T/mnt"
raw=$T/mnt/disk.raw
check_eq "the disk is the volume plus 1 MiB in front" $(((40 + 1) << 20)) "$(stat -c %s "$raw")"
check "sfdisk accepts the table" sfdisk -V "$raw"
check_eq "one active NTFS partition at 1 MiB covering the volume" \
    "start=2048,size=81920,type=7,bootable" \
    "$(sfdisk -d "$raw" | grep ' : ' | sed 's/.*: //; s/ //g')"
check "the MBR boot code is p2v's (\"p2v: no active partition\" message)" grep -q -a "p2v: no active partition" <(head -c 440 "$raw")
check_eq "primary boot sector: hidden sectors = 2048" 2048 "$(le32 "$raw" $(((1 << 20) + 0x1c)))"
check_eq "backup boot sector: hidden sectors = 2048" 2048 "$(le32 "$raw" $(((41 << 20) - 512 + 0x1c)))"
le16() { od -An -tu2 -j "$2" -N2 "$1" | tr -d ' '; }
foot=$T/footer.bin
tail -c 512 "$T/mnt/disk.vhd" >"$foot"
check_eq "boot sector geometry = the VHD's advertised geometry (sectors/track, heads)" \
    "$(od -An -tu1 -j 59 -N1 "$foot" | tr -d ' ') $(od -An -tu1 -j 58 -N1 "$foot" | tr -d ' ')" \
    "$(le16 "$raw" $(((1 << 20) + 0x18))) $(le16 "$raw" $(((1 << 20) + 0x1a)))"
check "the boot sectors are otherwise unchanged" cmp -i 0:0 \
    <(dd if="$raw" bs=1 skip=$(((1 << 20) + 0x20)) count=$((512 - 0x20)) status=none) \
    <(dd if="$vol" bs=1 skip=$((0x20)) count=$((512 - 0x20)) status=none)
mkdir -p "$T/m"
loop=$(losetup -r -f --show -o $((1 << 20)) "$raw")
check "ntfs-3g mounts the partition; the file is intact" \
    bash -c "ntfs-3g -o ro '$loop' '$T/m' && cmp '$T/m/hello.txt' '$T/hello.txt'; rc=\$?; umount '$T/m'; exit \$rc"
losetup -d "$loop"
# Boot: SeaBIOS -> p2v's MBR -> the volume's boot sector, which prints
# its marker and exits QEMU with status 99.
boot() {
    timeout 120 qemu-system-x86_64 -nographic -no-reboot -m 64 -accel tcg \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
        -drive "file=$1,format=vpc,readonly=on,if=virtio" </dev/null >"$T/boot.log" 2>&1
}
boot "$T/mnt/disk.vhd"
check_eq "QEMU: our MBR chain-loads the volume's boot sector (exit 99)" 99 "$?"
check "QEMU: the volume's boot code printed its marker" grep -q -a P2V-VBR-CHAINLOADED "$T/boot.log"
p2v_umount "$T/mnt"

# --gpt: a protective MBR with p2v's GPT boot code, both GPT copies, the
# partition legacy-BIOS-bootable, the disk rounded to whole MiBs with room
# for the backup array.
p2v_mount "$vol" "$T/mnt" --gpt
raw=$T/mnt/disk.raw
check_eq "--gpt: 40 MiB volume + 1 MiB + backup GPT, in whole MiBs" $((42 << 20)) "$(stat -c %s "$raw")"
check "--gpt: sfdisk verifies the GPT (both headers, CRCs)" sfdisk -V "$raw"
check_eq "--gpt: one basic-data partition at 1 MiB, legacy BIOS bootable, named after the label" \
    'start=2048,size=81920,type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7,name="BAREVOL",attrs="LegacyBIOSBootable"' \
    "$(sfdisk -d "$raw" | grep ' : ' | sed 's/.*: //; s/ //g; s/uuid=[^,]*,//')"
check_eq "--gpt: libblkid sees a GPT" gpt "$(blkid -p -o value -s PTTYPE "$raw")"
check "--gpt: the MBR boot code is p2v's GPT loader" grep -q -a "p2v: no bootable partition" <(head -c 440 "$raw")
check_eq "--gpt: primary boot sector: hidden sectors = 2048" 2048 "$(le32 "$raw" $(((1 << 20) + 0x1c)))"
check_eq "--gpt: backup boot sector: hidden sectors = 2048" 2048 "$(le32 "$raw" $(((41 << 20) - 512 + 0x1c)))"
loop=$(losetup -r -f --show -o $((1 << 20)) --sizelimit $((40 << 20)) "$raw")
check "--gpt: ntfs-3g mounts the partition; the file is intact" \
    bash -c "ntfs-3g -o ro '$loop' '$T/m' && cmp '$T/m/hello.txt' '$T/hello.txt'; rc=\$?; umount '$T/m'; exit \$rc"
losetup -d "$loop"
check "--gpt: qemu-img compare: disk.vhd = disk.raw" qemu-img compare -q -f vpc -F raw "$T/mnt/disk.vhd" "$raw"
check_eq "--gpt: p2v info --json names the new table" '"wrap_table": "gpt"' \
    "$("$P2V" info --json --gpt "$vol" | grep -o '"wrap_table": "[a-z]*"')"
h1=$(hash_of "$T/mnt/disk.vhd")
boot "$T/mnt/disk.vhd"
check_eq "--gpt QEMU: our GPT loader chain-loads the volume's boot sector (exit 99)" 99 "$?"
check "--gpt QEMU: the volume's boot code printed its marker" grep -q -a P2V-VBR-CHAINLOADED "$T/boot.log"
p2v_umount "$T/mnt"
p2v_mount "$vol" "$T/mnt" --gpt
check_eq "--gpt: the same disk (GUIDs included) on every mount" "$h1" "$(hash_of "$T/mnt/disk.vhd")"
p2v_umount "$T/mnt"
check_fails "--gpt with --disk-signature is refused" "leave out one of" \
    "$P2V" info --gpt --disk-signature 1234 "$vol"
check_fails "--gpt with an --offset inside the table is refused" "needs the first 17408 bytes" \
    "$P2V" info --gpt --offset 4096 "$vol"

p2v_mount "$vol" "$T/mnt" --offset $((4 << 20)) --disk-signature 12345678
check_eq "--offset: the partition starts there" "start=8192" \
    "$(sfdisk -d "$T/mnt/disk.raw" | grep ' : ' | sed 's/.*: //; s/,.*//; s/ //g')"
check_eq "--offset: hidden sectors follow" 8192 "$(le32 "$T/mnt/disk.raw" $(((4 << 20) + 0x1c)))"
check_eq "--disk-signature" 305419896 "$(le32 "$T/mnt/disk.raw" 440)"
p2v_umount "$T/mnt"
check_fails "a bad --offset is refused" "multiple of 512" "$P2V" info --offset 1000 "$vol"

# ext4 as a bare volume: type 0x83, the kernel mounts the partition.
ext=$T/ext.img
truncate -s 24M "$ext"
mkfs.ext4 -q -F -L BAREEXT "$ext"
ebefore=$(hash_of "$ext")
p2v_mount "$ext" "$T/mnt"
check_eq "ext4 bare volume: a Linux partition" "start=2048,size=49152,type=83,bootable" \
    "$(sfdisk -d "$T/mnt/disk.raw" | grep ' : ' | sed 's/.*: //; s/ //g')"
loop=$(losetup -r -f --show -o $((1 << 20)) "$T/mnt/disk.raw")
check "ext4 bare volume: e2fsck is clean on the partition" e2fsck -fn "$loop"
losetup -d "$loop"
p2v_umount "$T/mnt"

check_eq "NTFS volume unchanged" "$before" "$(hash_of "$vol")"
check_eq "ext4 volume unchanged" "$ebefore" "$(hash_of "$ext")"
finish
