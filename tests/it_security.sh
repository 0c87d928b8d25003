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
    "neither readable by everyone nor owned by the plan's owner" \
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
