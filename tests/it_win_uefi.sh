#!/bin/bash
# p2v-test: background (its fix-ups run in libguestfs's emulated appliance)
# A UEFI Windows disk without the removable-media fallback loader: GPT with
# an EFI System Partition holding \EFI\Microsoft\Boot\bootmgfw.efi and its
# BCD (made with mkfs.vfat and mtools), and the Windows volume of
# tests/mkwinfixture.sh.  inventory names the loader, check blocks on the
# missing fallback, the default plan has efi-fallback, and applying it (with
# a registry action, so the NTFS volume is written and closed before the
# appliance writes the ESP) makes \EFI\BOOT\BOOTX64.EFI a copy of
# bootmgfw.efi, as mtools and fsck.fat see it; the dry run lists the same,
# a second apply changes nothing, the source is unchanged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixup_lib.sh"

PATH=$PATH:/usr/sbin:/sbin
export MTOOLS_SKIP_CHECK=1
if ! TAR=$(bash tests/mkdebian.sh 2>"$T/mkdebian.log"); then
    bad "building the Debian 12 system (the appliance's kernel): $(tail -3 "$T/mkdebian.log")"
    finish
    exit 1
fi
use_guest_kernel "$TAR"
if ! bash tests/mkwinfixture.sh "$T/win.img" --win10 2>"$T/mk.log"; then
    bad "building the Windows fixture: $(cat "$T/mk.log")"
    finish
    exit 1
fi
# Its NTFS volume (partition 1 of the MBR fixture) moves to partition 2 of a
# GPT disk behind a 32 MiB ESP.
read -r nstart nsize < <(sfdisk -J "$T/win.img" | python3 -c 'import json,sys; p=json.load(sys.stdin)["partitiontable"]["partitions"][0]; print(p["start"], p["size"])')
src=$T/uefi-win.img
truncate -s $(( (2048 + 65536 + nsize + 2048) * 512 )) "$src"
printf 'label: gpt\nstart=2048, size=65536, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\nstart=67584, size=%d, type=EBD0A0A2-B9E5-4433-87C0-68B9B6C087C7\n' "$nsize" |
    sfdisk -q "$src"
dd if="$T/win.img" of="$src" bs=512 skip="$nstart" seek=67584 count="$nsize" conv=notrunc,sparse status=none
head -c 300000 /dev/urandom >"$T/bootmgfw.efi"
printf 'regf not a real BCD\n' >"$T/BCD"
mkfs.vfat -C -n SYSTEM "$T/esp.fat" 32768 >/dev/null &&
    mmd -i "$T/esp.fat" ::/EFI ::/EFI/Microsoft ::/EFI/Microsoft/Boot &&
    mcopy -i "$T/esp.fat" "$T/bootmgfw.efi" ::/EFI/Microsoft/Boot/bootmgfw.efi &&
    mcopy -i "$T/esp.fat" "$T/BCD" ::/EFI/Microsoft/Boot/BCD &&
    dd if="$T/esp.fat" of="$src" bs=1M seek=1 conv=notrunc status=none
check_eq "the UEFI Windows disk: vfat and NTFS where the GPT says (blkid -p)" "vfat ntfs" \
    "$(blkid -p -O 1048576 -o value -s TYPE "$src") $(blkid -p -O $((67584 * 512)) -o value -s TYPE "$src")"
before=$(hash_of "$src")

"$P2V" inventory --json --source "$src" -o "$T/m.json" 2>"$T/inv.err"
check_eq "inventory: Windows on a UEFI disk, ESP 1, no fallback, Windows Boot Manager" \
    "windows uefi 1 missing /EFI/Microsoft/Boot/bootmgfw.efi" \
    "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); e=d["efi"]; print(d["os"]["family"], d["firmware"], e["partition"], e["fallback"], e["loader"])' "$T/m.json" 2>&1)"
"$P2V" check --target virtio --json "$src" >"$T/check.json" 2>/dev/null
check_eq "check: efi-fallback is a blocker" "fail blocker" \
    "$(python3 -c 'import json,sys; r=[x for x in json.load(open(sys.argv[1]))["results"] if x["id"]=="efi-fallback"][0]; print(r["status"], r["severity"])' "$T/check.json")"
"$P2V" fixup plan --target virtio -o "$T/default.plan" "$src" 2>/dev/null
check "the default plan has efi-fallback for bootmgfw.efi" \
    grep -qx 'efi-fallback /EFI/Microsoft/Boot/bootmgfw.efi' "$T/default.plan"

printf 'no-auto-reboot\nefi-fallback /EFI/Microsoft/Boot/bootmgfw.efi\n' >"$T/plan"
apply_plan "$src" "$T/plan"
want_hash=sha256:$(sha256sum "$T/bootmgfw.efi" | cut -c1-32)
check_eq "apply copied bootmgfw.efi to the fallback path (its SHA-256 recorded)" \
    "2 efi-fallback ESP /EFI/BOOT/BOOTX64.EFI True (absent) $want_hash" \
    "$(grep efi-fallback "$T/apply.txt")"
check "and made the registry change" grep -q '^1 no-auto-reboot .* True ' "$T/apply.txt"

mnt=$T/mnt
p2v_mount "$src" "$mnt" --state "$T/st"
check "fsck.fat -n: the ESP is clean" fsck.fat -n "$mnt/partitions/1.raw"
mcopy -n -i "$mnt/partitions/1.raw" ::/EFI/BOOT/BOOTX64.EFI "$T/fallback.efi" 2>/dev/null
check "mtools: \\EFI\\BOOT\\BOOTX64.EFI is bootmgfw.efi" cmp "$T/bootmgfw.efi" "$T/fallback.efi"
check "mtools: the BCD is where it was" mdir -i "$mnt/partitions/1.raw" ::/EFI/Microsoft/Boot/BCD
check "ntfsfix -n: the Windows volume is clean" ntfsfix -n "$mnt/partitions/2.raw"
p2v_umount "$mnt"
"$P2V" inventory --json --source "$src" --state "$T/st" -o "$T/after.json" 2>/dev/null
check_eq "inventory --state: the fallback is present" present \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["efi"]["fallback"])' "$T/after.json")"
check_eq "the source is unchanged" "$before" "$(hash_of "$src")"
finish
