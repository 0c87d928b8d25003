#!/bin/bash
# The guards SECURITY.md lists, each tried: a plan cannot copy a file its
# owner could not read into the image, nor reach outside its volume with
# "..", nor have its local files be anything but regular files; state,
# reports and copies are private; a manifest or machine configuration from
# elsewhere is validated before use.  The source is hashed before/after.
. "$(dirname "$0")/lib.sh"

src=$T/win.img
bash tests/mkwinfixture.sh "$src" 2>"$T/mk.log" || { bad "fixture: $(cat "$T/mk.log")"; finish; exit; }
before=$(hash_of "$src")

# A secret only root can read, and a plan that wants it in the image.
install -m 0600 /dev/null "$T/secret" && echo "root's secret" >"$T/secret"
mkdir -p "$T/other" && chmod 755 "$T" "$T/other"
printf 'file-put %s /stolen.txt\n' "$T/secret" >"$T/other/steal.plan"
chown 65534:65534 "$T/other/steal.plan"
check_fails "a plan owned by someone else cannot copy root's 0600 file" \
    "the plan's owner \(uid 65534\) cannot read" \
    "$P2V" fixup apply --state "$T/st1" --plan "$T/other/steal.plan" "$src"
check "nothing was written to that state" test ! -s "$T/st1/overlay.data"
chown 0:0 "$T/other/steal.plan"
check "the same plan owned by root (the file's owner) may" \
    "$P2V" fixup apply --dry-run --state "$T/st2" --plan "$T/other/steal.plan" "$src"
echo "public" >"$T/public.txt" && chmod 644 "$T/public.txt"
printf 'file-put %s /public.txt\n' "$T/public.txt" >"$T/other/pub.plan"
chown 65534:65534 "$T/other/pub.plan"
check "a file readable by everyone is allowed in anyone's plan" \
    "$P2V" fixup apply --dry-run --state "$T/st3" --plan "$T/other/pub.plan" "$src"
# Issue 19, 6: read as the plan's owner would.  A world-readable file in a
# directory closed to them is as out of reach as a 0600 one; the kernel's
# files (/proc, /sys, /dev) are refused even in root's own plan.
mkdir -m 0700 "$T/closed" && echo "behind a closed door" >"$T/closed/n.txt" && chmod 644 "$T/closed/n.txt"
printf 'file-put %s /n.txt\n' "$T/closed/n.txt" >"$T/other/closed.plan"
chown 65534:65534 "$T/other/closed.plan"
check_fails "a 644 file in root's 0700 directory is out of the plan owner's reach" \
    "the plan's owner \(uid 65534\) cannot read .*closed/n.txt" \
    "$P2V" fixup apply --dry-run --state "$T/st7" --plan "$T/other/closed.plan" "$src"
for kf in /proc/kallsyms /sys/kernel/notes /dev/shm/p2v-it-$$; do
    [ "$kf" = "/dev/shm/p2v-it-$$" ] && echo x >"$kf"
    printf 'file-put %s /k.txt\n' "$kf" >"$T/kernel.plan"
    check_fails "$kf in root's own plan is refused" "is one of the kernel's files" \
        "$P2V" fixup apply --dry-run --state "$T/st7" --plan "$T/kernel.plan" "$src"
done
rm -f "/dev/shm/p2v-it-$$"
mkfifo "$T/fifo"
printf 'file-put %s /x\n' "$T/fifo" >"$T/fifo.plan"
check_fails "a local 'file' that is a FIFO is refused" "not a regular file" \
    timeout 20 "$P2V" fixup apply --dry-run --state "$T/st4" --plan "$T/fifo.plan" "$src"

for guest in '../x.txt' 'Windows\..\..\x.txt' '/Users/../../x'; do
    printf 'file-put %s "%s"\n' "$T/public.txt" "$guest" >"$T/climb.plan"
    check_fails "guest path '$guest' is refused" "may not contain '\.\.'" \
        "$P2V" fixup apply --dry-run --state "$T/st5" --plan "$T/climb.plan" "$src"
done
printf 'file-delete "C:/a/../b"\n' >"$T/climb.plan"
check_fails "file-delete with '..' is refused" "may not contain" \
    "$P2V" fixup apply --dry-run --state "$T/st5" --plan "$T/climb.plan" "$src"

# Private by default: what p2v writes.
printf 'no-auto-reboot\n' >"$T/ok.plan"
"$P2V" fixup apply --state "$T/state" --plan "$T/ok.plan" "$src" >/dev/null 2>&1
check_eq "state directory 0700" 700 "$(stat -c %a "$T/state")"
check_eq "state files 0600" "600" "$(find "$T/state" -type f -printf '%m\n' | sort -u | tr '\n' ' ' | xargs)"
"$P2V" inventory --source "$src" -o "$T/m.xml"
check_eq "inventory -o 0600" 600 "$(stat -c %a "$T/m.xml")"
mkdir -p "$T/shared" && chmod 777 "$T/shared"
check_fails "a state directory others may write is refused" "may be written by others" \
    "$P2V" fixup apply --state "$T/shared" --plan "$T/ok.plan" "$src"
mkdir -p "$T/theirs" "$T/mnt2" && chown 65534:65534 "$T/theirs"
check_fails "a state directory of another user is refused" "belongs to uid 65534" \
    "$P2V" mount --state "$T/theirs" --writable "$src" "$T/mnt2"
p2v_mount "$src" "$T/mnt" --state "$T/state"
check_eq "a view is the owner's only: files 0400" 400 "$(stat -c %a "$T/mnt/disk.vhd")"
check "mount options: ro, default_permissions, no allow_other" \
    sh -c "grep ' $T/mnt ' /proc/mounts | grep -q 'ro,.*default_permissions' && ! grep ' $T/mnt ' /proc/mounts | grep -q allow_other"
"$P2V" commit -q "$T/mnt" "$T/out" >/dev/null
check_eq "commit destination 0700" 700 "$(stat -c %a "$T/out")"
check_eq "commit files 0600, scripts 0700" "600 700" \
    "$(find "$T/out" -maxdepth 1 -type f -printf '%m\n' | sort -u | tr '\n' ' ' | xargs)"
p2v_umount "$T/mnt"

# --log FILE (issue 19, 8): a symlink another user planted is not followed,
# another user's file or one others may read is refused, a new one is 0600.
echo "root's file" >"$T/target.txt"
ln -s "$T/target.txt" "$T/planted.log"
check_fails "--log through a symlink is refused" "symbolic link" \
    "$P2V" mount --log "$T/planted.log" "$src" "$T/mnt"
check_eq "  and the file it points to is untouched" "root's file" "$(cat "$T/target.txt")"
install -m 0600 -o 65534 -g 65534 /dev/null "$T/theirs.log"
check_fails "--log to another user's file is refused" "belongs to another user" \
    "$P2V" mount --log "$T/theirs.log" "$src" "$T/mnt"
install -m 0644 /dev/null "$T/open.log"
check_fails "--log to a file others may read is refused" "open to other users" \
    "$P2V" mount --log "$T/open.log" "$src" "$T/mnt"
p2v_mount "$src" "$T/mnt" --log "$T/new.log"
check_eq "--log makes a new file 0600" 600 "$(stat -c %a "$T/new.log")"
p2v_umount "$T/mnt"

# The implicit state MOUNTPOINT.p2v (issue 19, 9): a symlink or a directory
# someone else put there is not used.
mkdir -p "$T/m9"
ln -s "$T/state" "$T/m9.p2v"
check_fails "a symlink at MOUNTPOINT.p2v is not followed" "m9.p2v .* is a symbolic link" \
    "$P2V" mount "$src" "$T/m9"
check "  nothing mounted" not_mounted "$T/m9"
rm "$T/m9.p2v" && mkdir "$T/m9.p2v" && chown 65534:65534 "$T/m9.p2v"
check_fails "another user's MOUNTPOINT.p2v is not used" "m9.p2v .* is another user's" \
    "$P2V" mount --writable "$src" "$T/m9"
check "  nothing mounted" not_mounted "$T/m9"

# A plan is text (issue 19, 10 and 11): a NUL would cut its line short
# unseen, an escape sequence would reach the terminal.
printf 'no-auto-reboot\nfile-delete a\0b\n' >"$T/nul.plan"
check_fails "a NUL byte in a plan is refused, naming file and line" "nul.plan line 2: byte 14 is a control character \(0x00\)" \
    "$P2V" fixup apply --dry-run --state "$T/st6" --plan "$T/nul.plan" "$src"
printf 'file-delete "\033]0;owned\007x"\n' >"$T/esc.plan"
check_fails "an escape sequence in a plan is refused" "esc.plan line 1: .* \(0x1b\)" \
    "$P2V" fixup apply --dry-run --state "$T/st6" --plan "$T/esc.plan" "$src"
check "  and the message holds no escape byte" bash -c "! grep -q \$'\\033' '$T/.out'"

# Guest strings in text output (issue 19, 10): a volume label holding an
# escape sequence (blkid reads it raw) is shown as \x1b, never as the byte.
lab=$T/label.img
truncate -s 16M "$lab"
mkfs.ext4 -q -F -L $'\e]0;pwned\a\e[2J' "$lab"
check "control: blkid reads the label with its ESC bytes" \
    bash -c "blkid -p -o value -s LABEL '$lab' | grep -q \$'\\e'"
for cmd in info inspect check; do
    "$P2V" $cmd "$lab" >"$T/lab.out" 2>&1
    check "$cmd: no ESC or BEL byte reaches the terminal" bash -c "! grep -q \$'[\\e\\a]' '$T/lab.out'"
done
"$P2V" info "$lab" >"$T/lab.out" 2>&1
check "info: the label shown escaped" grep -qF 'label \x1b]0;pwned\x07\x1b[2J' "$T/lab.out"

# Files from elsewhere are validated before anything is taken from them.
printf '<batch version="1"><job name="x"><source>/etc/shadow</source><destination>/tmp/x</destination><evil/></job></batch>' >"$T/m1.xml"
check_fails "a manifest with an unknown element is refused before any job runs" "batch manifest" \
    "$P2V" batch "$T/m1.xml"
check "no job ran" test ! -e /tmp/x/.p2v-job
printf '<!DOCTYPE m [<!ENTITY e SYSTEM "file:///etc/shadow">]><machine version="1" origin="running"><hostname>&e;</hostname><cpu/><firmware acpi="yes"/><os family="linux"/><nics/><disks/></machine>' >"$T/xxe.xml"
"$P2V" vm create --format qemu --config "$T/xxe.xml" "$src" >"$T/xxe.out" 2>&1
check "an external entity in a machine configuration is not read" sh -c "! grep -q 'root:' '$T/xxe.out'"

check_eq "source unchanged" "$before" "$(hash_of "$src")"
finish
