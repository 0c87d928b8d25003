#!/bin/bash
# Used clusters only, through libntfs-3g: a deleted file's data and the
# contents of pagefile.sys read as zeros in disk.raw and disk.vhd, every
# remaining file is intact, and the dynamic image shrinks accordingly.
# --keep-free-space and --keep-pagefile turn it off; a hibernated volume is
# refused unless --force.
. "$(dirname "$0")/lib.sh"

DEL=P2V-DELETED-FILE-MARKER PAGE=P2V-PAGEFILE-MARKER
part=$T/part.img disk=$T/disk.img m=$T/ntfs
truncate -s 63M "$part"
mkntfs -q -F -Q -L FREETEST -p 2048 "$part" >/dev/null 2>&1
mkdir -p "$m"
ntfs-3g "$part" "$m"
MOUNTS+=("$m")
head -c $((3 << 20)) /dev/urandom >"$m/keep.bin"
echo "a small kept file" >"$m/keep.txt"
repeat "$DEL" 70000 >"$m/deleted.bin"
repeat "$PAGE" 100000 >"$m/pagefile.sys"
sync
rm "$m/deleted.bin"
(cd "$m" && sha256sum keep.bin keep.txt) >"$T/files.sha256"
umount "$m"
truncate -s 64M "$disk"
printf 'label: dos\nstart=2048, type=7, bootable\n' | sfdisk -q "$disk"
dd if="$part" of="$disk" bs=1M seek=1 conv=notrunc status=none
before=$(hash_of "$disk")

check "control: the source holds the deleted file's data" test "$(count_marker "$DEL" "$disk")" -gt 0
check "control: the source holds the pagefile's data" test "$(count_marker "$PAGE" "$disk")" -gt 0

json=$("$P2V" info --json -q "$disk")
check_eq "info: the NTFS partition is mapped, pagefile bytes counted" "True True" \
    "$(python3 -c 'import json,sys; f=json.loads(sys.argv[1])["partitions"][0]["filesystem"]; print(f["mapped"], f["pagefile_bytes"] >= 1900000)' "$json")"

for type in dynamic fixed; do
    mnt=$T/mnt-$type
    p2v_mount "$disk" "$mnt" --type "$type" || { bad "$type: mount failed"; continue; }
    for f in disk.raw disk.vhd; do
        check_eq "$type $f: no trace of the deleted file" 0 "$(count_marker "$DEL" "$mnt/$f")"
        check_eq "$type $f: no trace of the pagefile's contents" 0 "$(count_marker "$PAGE" "$mnt/$f")"
    done
    check "$type: qemu-img compare disk.raw with disk.vhd: identical" \
        qemu-img compare -q -f raw -F vpc "$mnt/disk.raw" "$mnt/disk.vhd"
    loop=$(losetup -r -f --show -o $((1 << 20)) "$mnt/disk.raw")
    check "$type: ntfs-3g mounts the partition of disk.raw; files intact" \
        bash -c "ntfs-3g -o ro '$loop' '$m' && (cd '$m' && sha256sum -c --quiet '$T/files.sha256'); rc=\$?; umount '$m'; exit \$rc"
    check "$type: pagefile.sys is still there, with its size" \
        bash -c "ntfs-3g -o ro '$loop' '$m' && test \$(stat -c %s '$m/pagefile.sys') = $((19 * 100000)); rc=\$?; umount '$m'; exit \$rc"
    losetup -d "$loop"
    p2v_umount "$mnt"
done

p2v_mount "$disk" "$T/keep" --keep-free-space
check "--keep-free-space: disk.raw is the source, deleted data included" cmp "$T/keep/disk.raw" "$disk"
p2v_umount "$T/keep"
p2v_mount "$disk" "$T/keep" --keep-pagefile
check "--keep-pagefile: the pagefile's contents stay" test "$(count_marker "$PAGE" "$T/keep/disk.raw")" -gt 0
check_eq "--keep-pagefile: deleted data still gone" 0 "$(count_marker "$DEL" "$T/keep/disk.raw")"
# ntfsclone copies exactly the used clusters and the backup boot sector,
# and writes zeros for the free ones: a clone of the view's partition is
# the partition itself only if every free cluster reads as zeros.  (The
# source's clone differs from the view in the metadata p2v scrubs: slack
# of MFT records and index blocks, issue 20; the files are checked above.)
rm -f "$T/clone.img"
ntfsclone -q --overwrite "$T/clone.img" "$T/keep/partitions/1.raw" >/dev/null 2>&1
check "--keep-pagefile: the partition equals ntfsclone's raw copy of it" \
    cmp "$T/keep/partitions/1.raw" "$T/clone.img"
rm -f "$T/clone-src.img"
ntfsclone -q --overwrite "$T/clone-src.img" "$part" >/dev/null 2>&1
check "... and no cluster the source's clone holds as zeros holds data in the view" python3 -c '
import sys
a, b = open(sys.argv[1], "rb"), open(sys.argv[2], "rb")
while True:
    x, y = a.read(4096), b.read(4096)
    if not x:
        break
    if x.count(0) != len(x) and y.count(0) == len(y):
        sys.exit(1)
' "$T/keep/partitions/1.raw" "$T/clone-src.img"
p2v_umount "$T/keep"

# A hibernated volume: hiberfil.sys starting with "hibr".
ntfs-3g "$part" "$m"
{ printf 'hibr'; head -c 8188 /dev/zero; } >"$m/hiberfil.sys"
umount "$m"
hib=$T/hib.img
cp "$disk" "$hib"
dd if="$part" of="$hib" bs=1M seek=1 conv=notrunc status=none
mkdir -p "$T/hmnt"
check_fails "a hibernated volume is refused" "hibernated .*shut it down fully.*--force" \
    "$P2V" mount "$hib" "$T/hmnt"
check "hibernated: nothing mounted" not_mounted "$T/hmnt"
p2v_mount "$hib" "$T/hmnt" --force 2>"$T/force.err"
check "--force: mounted with a warning" grep -q "hibernated.*copying it whole" "$T/force.err"
check "--force: the volume is copied whole" cmp "$T/hmnt/disk.raw" "$hib"
p2v_umount "$T/hmnt"

# A damaged NTFS boot sector: a clear error, nothing mounted.
bad_img=$T/badntfs.img
cp "$disk" "$bad_img"
printf '\x00\x00\x00\x00' | dd of="$bad_img" bs=1 seek=$(((1 << 20) + 11)) conv=notrunc status=none
check_fails "damaged NTFS boot sector: the field, its offset and the remedy" \
    "NTFS boot sector at byte 1048576 is damaged: its bytes per sector \\(offset 0x0b\\) is 0.*chkdsk.*--keep-free-space" \
    "$P2V" mount "$bad_img" "$T/hmnt"
check "damaged NTFS: nothing mounted" not_mounted "$T/hmnt"

# Issue 19, 1: a damaged $Bitmap that says everything is free would zero
# the volume, $MFT and boot sector included.  The clusters $Bitmap itself
# occupies (ntfsinfo's runlist, not p2v's reading) are zeroed on a copy:
# the map is refused and the volume copied whole, with a warning.
zb=$T/zerobitmap.img
cp "$disk" "$zb"
cs=$(ntfsinfo -m "$part" 2>/dev/null | awk '/Cluster Size/ {print $3; exit}')
runs='' total=0
while read -r lcn len; do   # ntfsinfo prints them in hex
    runs+="$((lcn)):$((len)) " total=$((total + len))
    dd if=/dev/zero of="$zb" bs="$cs" seek=$(((1 << 20) / cs + lcn)) count=$((len)) conv=notrunc status=none
done < <(ntfsinfo -i 6 -v "$part" 2>/dev/null | awk '$1 ~ /^0x/ && NF == 3 {print $2, $3}')
check "control: ntfsinfo names \$Bitmap's clusters ($runs), and the copy holds zeros there" \
    bash -c "[ $total -gt 0 ] && for r in $runs; do dd if='$zb' bs=$cs skip=\$(((1 << 20) / $cs + \${r%%:*})) count=\${r#*:} status=none; done | cmp -s - <(head -c $((total * cs)) /dev/zero)"
damaged_map "$zb" "allocation bitmap says cluster [0-9]* (in .*) is free, which it cannot be" \
    'd["partitions"][0]["filesystem"]' disk.raw

check_eq "source unchanged" "$before" "$(hash_of "$disk")"
finish
