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

check_eq "good source unchanged" "$before" "$(hash_of "$good")"
finish
