#!/bin/bash
# Bad sources and mount points get one clear line, a non-zero exit and
# nothing left mounted; a source read error during a FUSE read reaches the
# reader as EIO and the log names the byte offset.
. "$(dirname "$0")/lib.sh"

mnt=$T/mnt
mkdir -p "$mnt" "$T/dir"
good=$T/good.img
head -c $((4 << 20)) /dev/urandom >"$good"
before=$(hash_of "$good")
: >"$T/empty.img"
head -c $((4 << 20)) /dev/urandom >"$T/locked.img"
chmod 000 "$T/locked.img"
head -c $((2 << 20)) /dev/urandom >"$T/small.img"
head -c $(((4 << 20) + 100)) /dev/urandom >"$T/odd.img"
mkfifo "$T/fifo"

expect_refused() {  # what pattern args... (the last one is the mount point)
    local what=$1 pat=$2; shift 2
    check_fails "$what" "$pat" "$P2V" mount "$@"
    check_eq "$what: one line of explanation" 1 "$(wc -l <"$T/.out")"
    check "$what: nothing mounted" not_mounted "${@: -1}"
}
expect_refused "missing source" "cannot open source .*No such file" "$T/nope.img" "$mnt"
expect_refused "empty source" "is empty" "$T/empty.img" "$mnt"
expect_refused "directory source" "is a directory" "$T/dir" "$mnt"
expect_refused "fifo source" "neither a regular file nor a block device" "$T/fifo" "$mnt"
expect_refused "source under 3 MiB" "under the VHD minimum of 3 MiB" "$T/small.img" "$mnt"
expect_refused "source not a multiple of 512" "not a whole number of 512-byte sectors.*--pad" "$T/odd.img" "$mnt"
expect_refused "missing mount point" "mount point .*No such file.*mkdir" "$good" "$T/nomnt"
expect_refused "mount point is a file" "is not a directory" "$good" "$good"
chmod o+x "$T"   # let the unprivileged user reach the file, not read it
check_fails "unreadable source (as an unprivileged user)" "cannot open source .*locked.img for reading: Permission denied" \
    setpriv --reuid=65534 --regid=65534 --clear-groups "$P2V" info "$T/locked.img"
check_fails "unknown --type" "must be dynamic or fixed" "$P2V" mount --type sparse "$good" "$mnt"
check_fails "info on a missing source" "No such file" "$P2V" info "$T/nope.img"

check_fails "an unknown -o option" "unknown option" "$P2V" mount -o no_such_option "$good" "$mnt"
check "unknown -o option: nothing mounted" not_mounted "$mnt"
p2v_mount "$good" "$mnt" -o max_read=131072
check "-o options reach the mount" grep -q " $mnt .*max_read=131072" /proc/self/mountinfo
p2v_umount "$mnt"

# --pad serves the odd-sized source with its last sector zero-filled.
p2v_mount "$T/odd.img" "$mnt" --pad
check_eq "--pad: disk.raw is rounded up to a whole sector" $(((4 << 20) + 512)) "$(stat -c %s "$mnt/disk.raw")"
check "--pad: the real bytes are intact" cmp -n $(((4 << 20) + 100)) "$mnt/disk.raw" "$T/odd.img"
check_eq "--pad: the padding reads as zeros" 412 \
    "$(tail -c 412 "$mnt/disk.raw" | tr -d '\0' | wc -c | awk '{print 412 - $1}')"
p2v_umount "$mnt"

# Busy mount point: a second mount on top is refused, the first survives.
p2v_mount "$good" "$mnt"
check_fails "busy mount point" "busy.*unmount it first" "$P2V" mount "$good" "$mnt"
check "the first mount still serves" cmp "$mnt/disk.raw" "$good"
p2v_umount "$mnt"
check_fails "umount of something not mounted" "is not mounted" "$P2V" umount "$mnt"
check_fails "umount refuses a non-p2v mount" "not a p2v view" "$P2V" umount /proc

# No /dev/fuse: hide /dev in a private mount namespace, and look for a
# mount inside that namespace, where one would have been made.
check_fails "no /dev/fuse" "cannot open /dev/fuse.*modprobe fuse" \
    unshare -m sh -c 'mount -t tmpfs none /dev && "$0" mount "$1" "$2"; rc=$?
                      ! mountpoint -q "$2" || echo "MOUNTED ANYWAY"; exit $rc' "$P2V" "$good" "$mnt"
check "no /dev/fuse: nothing mounted in the namespace" bash -c "! grep -q 'MOUNTED ANYWAY' $T/.out"

# A log file that cannot be opened is refused before anything is mounted
# or announced as ready.
check_fails "unwritable --log" "cannot open log file .*/nodir/p2v.log" \
    "$P2V" mount --log "$T/nodir/p2v.log" "$good" "$mnt"
check "unwritable --log: no ready line" bash -c "! grep -q ready $T/.out"
check "unwritable --log: nothing mounted" not_mounted "$mnt"

# A view whose daemon died leaves a dead mount point: the message says so
# and how to clear it, and p2v umount clears it.
p2v_mount "$good" "$mnt"
pkill -KILL -f "p2v mount -q $good $mnt"
check_fails "dead view: clear message" "view that was mounted there has died.*p2v umount" \
    "$P2V" mount "$good" "$mnt"
check "dead view: p2v umount clears it" "$P2V" umount "$mnt"
check "dead view: mounting works again" p2v_mount "$good" "$mnt"
p2v_umount "$mnt"

# A read error in the source during a FUSE read: shrink a copy of the
# source under the mount; the reader gets EIO and the log the offset.
victim=$T/victim.img
cp "$good" "$victim"
p2v_mount "$victim" "$mnt" --type fixed --log "$T/p2v.log"
truncate -s $((1 << 20)) "$victim"
check_fails "read past the shrunk source gives EIO to the reader" "Input/output error" \
    dd if="$mnt/disk.raw" of=/dev/null bs=4096 skip=768 count=1 iflag=direct
check "the log names the source and the byte offset" \
    grep -qE "source .*victim.img: unexpected end of data at byte offset 3145728" "$T/p2v.log"
# The source changed under the view: from now on every read fails rather
# than mix old and new data, and the log says why.
check_fails "reads before the damage fail too, since the source changed" "Input/output error" \
    dd if="$mnt/disk.raw" of=/dev/null bs=4096 count=1 iflag=direct
check "the log says the source changed" grep -q "victim.img changed since it was opened" "$T/p2v.log"
p2v_umount "$mnt"

# Issue 19: each message gives the cause and the remedy.
# A plan is checked before the source is opened: names longer than NTFS
# or the registry holds, and NTFS's own files, are refused with the line.
plan_refused() {  # what pattern plan-line
    printf '%s\n' "$3" >"$T/p.plan"
    check_fails "$1" "$2" "$P2V" fixup apply --dry-run --state "$T/pst" --plan "$T/p.plan" "$good"
}
long=$(printf 'a%.0s' $(seq 300))
plan_refused "file-put of a 300-character name" \
    "p.plan line 1: file-put: the name 'a+\.\.\.' in guest path .* is 300 UTF-16 units long, over the 255 NTFS allows" \
    "file-put x.txt \"1:/$long\""
plan_refused "file-delete of a 300-character name" "line 1: file-delete: .* 300 UTF-16 units long, over the 255 NTFS" \
    "file-delete \"%SystemRoot%\\$long\""
plan_refused "a registry key name of 300 characters" \
    "line 1: reg-set: .*registry key.* 300 UTF-16 units long, over the 255 the registry allows" \
    "reg-set \"HKLM\\SOFTWARE\\$long\" v dword 1"
plan_refused "file-delete of \$MFT" "line 1: file-delete: '1:/\\\$MFT' is NTFS's own \\\$MFT.*remove the line" 'file-delete 1:/$MFT'
plan_refused "file-delete of the volume's root" "line 1: file-delete: '1:/' is the volume's root, not a file" 'file-delete 1:/'
plan_refused "file-put over a file under \$Extend" "file-put: .* is NTFS's own \\\$Extend \(or under it\)" \
    'file-put x.txt 1:/$Extend/$Quota'

# A damaged $MFT record 0 is named, with its offset, apart from the boot
# sector (here a torn write: the record's second sector lost its update
# sequence number; libblkid still calls it NTFS).
ntfs=$T/ntfs.img
truncate -s 16M "$ntfs" && mkntfs -q -F -Q "$ntfs" >/dev/null 2>&1
mft=$(( $(od -An -tu8 -j48 -N8 "$ntfs") * $(od -An -tu2 -j11 -N2 "$ntfs") * $(od -An -tu1 -j13 -N1 "$ntfs") ))
printf 'XY' | dd of="$ntfs" bs=1 seek=$((mft + 1022)) conv=notrunc status=none
echo no-auto-reboot >"$T/nar.plan"
check_fails "a damaged \$MFT record 0 is named, with its offset and the remedy" \
    "\\\$MFT record 0 at offset $mft of the volume .*is damaged: sector 1 of it was not written whole.*boot sector is sound.*chkdsk /f on the source machine.*ntfsfix" \
    "$P2V" fixup apply --dry-run --keep-free-space --state "$T/nst" --plan "$T/nar.plan" "$ntfs"

# info too (the layout's probe, where libblkid no longer calls it NTFS once
# the record's signature is gone).
ntfs2=$T/ntfs-magic.img
truncate -s 16M "$ntfs2" && mkntfs -q -F -Q "$ntfs2" >/dev/null 2>&1
printf 'XXXX' | dd of="$ntfs2" bs=1 seek="$mft" conv=notrunc status=none
check_fails "info: a damaged \$MFT record 0 is not called a damaged boot sector" \
    "\\\$MFT record 0 at offset $mft of the volume .*signature is \"XXXX\".*boot sector is sound" \
    "$P2V" info "$ntfs2"

# An ext superblock checksum error reads as libext2fs's text, not a code.
ext=$T/ext.img
truncate -s 16M "$ext" && mke2fs -q -t ext4 -O metadata_csum "$ext"
printf 'ZZ' | dd of="$ext" bs=1 seek=$((1024 + 0x78)) conv=notrunc status=none  # the label, unsummed
check_fails "an ext superblock checksum error is named in words" \
    "ext2/3/4 filesystem cannot be opened \(Superblock checksum does not match superblock\)" \
    "$P2V" info "$ext"
check "  and not as an unknown code" bash -c "! grep -q 'Unknown code' $T/.out"

# VHD and VHDX sources: what is wrong, at which offset.
qemu-img convert -f raw -O vpc "$good" "$T/dyn.vhd"
qemu-img convert -f raw -O vpc -o subformat=fixed "$good" "$T/fix.vhd"
qemu-img convert -f raw -O vhdx "$good" "$T/d.vhdx"
poke() { printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }  # FILE OFFSET BYTES
dsize=$(stat -c %s "$T/dyn.vhd") fsize=$(stat -c %s "$T/fix.vhd")
cp "$T/dyn.vhd" "$T/dyn-cookie.vhd" && poke "$T/dyn-cookie.vhd" $((dsize - 512)) X
check_fails "a dynamic VHD's footer cookie is named, and its sound copy at 0 offered" \
    "damaged VHD: the footer at offset $((dsize - 512)) starts with \"Xonectix\", not the cookie \"conectix\"; its copy at offset 0 is sound: .*dd if=" \
    "$P2V" info "$T/dyn-cookie.vhd"
cp "$T/fix.vhd" "$T/fix-sum.vhd" && poke "$T/fix-sum.vhd" $((fsize - 512 + 64)) X
check_fails "a fixed VHD's footer checksum is named with its offset" \
    "damaged VHD: the footer's checksum at offset $((fsize - 512 + 64)) is 0x58[0-9a-f]{6}, but the footer sums to 0x" \
    "$P2V" info "$T/fix-sum.vhd"
# A differencing VHD whose header names no parent says so, not "unknown error".
python3 "$(dirname "$0")/mkdiffvhd.py" "$T/dyn.vhd" "$T/child.vhd" --seed 3 >/dev/null
python3 - "$T/child.vhd" <<'PY'
import struct, sys
f = bytearray(open(sys.argv[1], 'rb').read())
h = 512                                   # the dynamic header: no parent name, no locators
f[h + 64:h + 64 + 512] = bytes(512)
f[h + 576:h + 576 + 24 * 8] = bytes(24 * 8)
f[h + 36:h + 40] = bytes(4)
f[h + 36:h + 40] = struct.pack('>I', ~sum(f[h:h + 1024]) & 0xffffffff)
open(sys.argv[1], 'wb').write(f)
PY
check_fails "a differencing VHD naming no parent says what to do" \
    "records no parent file name .*so its parent cannot be found. Convert the chain where it is whole" \
    "$P2V" info "$T/child.vhd"
check "  without an 'unknown error'" bash -c "! grep -q 'unknown error' $T/.out"
# A file named .vhdx or .vhd without its signature is served raw, with a
# warning naming what was expected where, and how to be explicit.
cp "$T/d.vhdx" "$T/sig.vhdx" && poke "$T/sig.vhdx" 0 X
"$P2V" info "$T/sig.vhdx" >"$T/sig.out" 2>&1
check "a .vhdx without its signature: warned, served raw" grep -q \
    "warning: .*sig.vhdx is named .vhdx but does not start with the VHDX signature \"vhdxfile\" (offset 0 holds \"Xhdxfile\"): serving it as a raw disk.*--source-format raw" "$T/sig.out"
cp "$T/fix.vhd" "$T/cookie.vhd" && poke "$T/cookie.vhd" $((fsize - 512)) X
"$P2V" info "$T/cookie.vhd" >"$T/sig.out" 2>&1
check "a .vhd without its cookie: warned, served raw" grep -q \
    "warning: .*cookie.vhd is named .vhd but holds no VHD cookie \"conectix\" at offset $((fsize - 512)) (its footer: \"Xonectix\")" "$T/sig.out"
"$P2V" info --source-format raw "$T/cookie.vhd" >"$T/sig.out" 2>&1
check "  --source-format raw: no warning" bash -c "! grep -q warning $T/sig.out"

check_eq "good source unchanged" "$before" "$(hash_of "$good")"
finish
