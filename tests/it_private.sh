#!/bin/bash
# Private by default: a view mounted by an ordinary user is readable by that
# user only -- not by other users, not even by root; files are 0400 and owned
# by the mounting user.  --allow-other opens it to others for reading (files
# 0444), and default_permissions still keeps them from writing.
#
# Runs in a private mount namespace: there /dev/fuse is replaced by a 0666
# node (Debian's default mode; this machine's is 0600) and /etc/fuse.conf by
# one with user_allow_other, so that nothing on the host is changed.
#
# Issue 19: such a user is never told about root's run directory (/run/p2v),
# and a view's lock file in the run directory goes when the view ends.
. "$(dirname "$0")/lib.sh"

U=(setpriv --reuid=65534 --regid=65534 --clear-groups)
chmod 755 "$T"
mkdir -p "$T/mnt" "$T/dev" "$T/nrun"
head -c $((4 << 20)) /dev/urandom >"$T/src.img"
chown -R 65534:65534 "$T/src.img" "$T/mnt" "$T/nrun"
chmod 700 "$T/nrun"
before=$(hash_of "$T/src.img")
printf 'user_allow_other\n' >"$T/fuse.conf"

cat >"$T/inner.sh" <<INNER
set -u
mount -t tmpfs none "$T/dev" && mknod -m 666 "$T/dev/fuse" c 10 229 \
    && mount --bind "$T/dev/fuse" /dev/fuse && mount --bind "$T/fuse.conf" /etc/fuse.conf \
    || { echo "setup failed"; exit 1; }
say() { echo "\$1=\$2"; }
unset XDG_RUNTIME_DIR P2V_RUN_DIR   # a user without a login session
${U[*]} "$P2V" mount -q "$T/src.img" "$T/mnt" 2>>"$T/nobody.err"; say mount \$?
say owner "\$(${U[*]} stat -c '%u %a' "$T/mnt/disk.vhd")"
${U[*]} cmp -s "$T/mnt/disk.raw" "$T/src.img"; say user_reads \$?
cat "$T/mnt/disk.raw" >/dev/null 2>&1; say root_reads \$?
${U[*]} "$P2V" umount "$T/mnt" 2>>"$T/nobody.err"; say umount \$?
${U[*]} "$P2V" snapshot list >"$T/list.out" 2>>"$T/nobody.err"; say list "\$? \$(wc -c <"$T/list.out")"
P2V_RUN_DIR=$T/nrun ${U[*]} "$P2V" mount -q "$T/src.img" "$T/mnt"; say mount_rd \$?
say locks_mounted "\$(ls "$T/nrun" | grep -c '^view-.*\.lock\$')"
P2V_RUN_DIR=$T/nrun ${U[*]} "$P2V" umount "$T/mnt"; say umount_rd \$?
say locks_after "\$(ls "$T/nrun" | grep -c '^view-.*\.lock\$')"
${U[*]} "$P2V" mount -q --allow-other "$T/src.img" "$T/mnt"; say mount_ao \$?
cmp -s "$T/mnt/disk.raw" "$T/src.img"; say root_reads_ao \$?
setpriv --reuid=65533 --regid=65533 --clear-groups cmp -s "$T/mnt/disk.raw" "$T/src.img"; say other_reads_ao \$?
say mode_ao "\$(stat -c '%a' "$T/mnt/disk.vhd") \$(stat -c '%a' "$T/mnt")"
setpriv --reuid=65533 --regid=65533 --clear-groups sh -c 'echo x >"$T/mnt/disk.raw"' 2>/dev/null; say other_writes_ao \$((\$? != 0))
${U[*]} "$P2V" umount "$T/mnt"; say umount_ao \$?
INNER
out=$(unshare -m --propagation private bash "$T/inner.sh" 2>&1)
val() { sed -n "s/^$1=//p" <<<"$out"; }
check_eq "an ordinary user mounts a view" 0 "$(val mount)"
check_eq "files are owned by that user, mode 0400" "65534 400" "$(val owner)"
check_eq "that user reads the disk" 0 "$(val user_reads)"
check_eq "root cannot read another user's view" 1 "$(val root_reads)"
check_eq "the user unmounts it (fusermount3)" 0 "$(val umount)"
check_eq "without a run directory: mount and umount say nothing of root's /run/p2v" "" \
    "$(grep -h /run/p2v "$T/nobody.err" 2>/dev/null)"
check_eq "without a run directory: snapshot list lists nothing, quietly" "0 0" "$(val list)"
check_eq "with P2V_RUN_DIR: mount" 0 "$(val mount_rd)"
check_eq "  the view's lock file is there while it lives" 1 "$(val locks_mounted)"
check_eq "  umount" 0 "$(val umount_rd)"
check_eq "  and the lock file is gone when the view ends" 0 "$(val locks_after)"
check_eq "--allow-other mount" 0 "$(val mount_ao)"
check_eq "--allow-other: root reads it" 0 "$(val root_reads_ao)"
check_eq "--allow-other: other users read it" 0 "$(val other_reads_ao)"
check_eq "--allow-other: files 0444, directory 0555" "444 555" "$(val mode_ao)"
check_eq "--allow-other: other users cannot write" 1 "$(val other_writes_ao)"
check_eq "unmounted again" 0 "$(val umount_ao)"
[ "$FAILED" -eq 0 ] || echo "$out" | sed 's/^/       | /'
check_eq "source unchanged" "$before" "$(hash_of "$T/src.img")"
finish
