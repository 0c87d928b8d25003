#!/bin/bash
# Snapshots: --snapshot reflink clones a source on XFS next to it
# (.NAME.p2v-snap-ID) and the view reads the clone, so later writes to the
# original do not show; the clone goes at umount unless --keep-snapshot;
# auto picks reflink on XFS and none on tmpfs and says so; the registry
# (snapshot create/list/delete, in $P2V_RUN_DIR) knows kept, mounted and
# stale snapshots; a registered snapshot as SOURCE is not cloned again.
# Without a snapshot a source in use read-write is refused, naming the
# holder, unless --allow-live.  lvm is tested where device-mapper works.
# The clone is read through the descriptor it was made with: a file renamed
# over its name, or a symbolic link there, is never served nor removed.
. "$(dirname "$0")/lib.sh"
export P2V_RUN_DIR=$T/run

XLOOP= LLOOP= VG=
teardown() {
    for m in "${MOUNTS[@]}"; do
        mountpoint -q "$m" 2>/dev/null && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; }
    done
    mountpoint -q "$T/tmpfs/extmnt" 2>/dev/null && umount "$T/tmpfs/extmnt"
    [ -n "${EXTLOOP:-}" ] && losetup -d "$EXTLOOP" 2>/dev/null
    mountpoint -q "$T/tmpfs" 2>/dev/null && umount "$T/tmpfs"
    mountpoint -q "$T/xfs" 2>/dev/null && umount_busy "$T/xfs"
    [ -n "$XLOOP" ] && losetup -d "$XLOOP" 2>/dev/null
    if [ -n "$VG" ]; then
        vgremove -ff -y "$VG" >/dev/null 2>&1
        pvremove -ff -y "$LLOOP" >/dev/null 2>&1
    fi
    [ -n "$LLOOP" ] && losetup -d "$LLOOP" 2>/dev/null
    cleanup
}
trap teardown EXIT

status() { cat "$1/status.json" >"$T/status.json" 2>&1; }   # then st KEY
st() { json_key "$T/status.json" "$1"; }
# a mount without -q: its stderr (the snapshot choice) lands in $T/mount.err
p2v_mount_v() {
    local src=$1 mnt=$2; shift 2
    mkdir -p "$mnt"
    MOUNTS+=("$mnt")
    "$P2V" mount "$@" "$src" "$mnt" >/dev/null 2>"$T/mount.err" || { cat "$T/mount.err" >&2; return 1; }
}
absent() { [ "${1#/}" != "$1" ] && [ ! -e "$1" ]; }   # an absolute path that is not there
daemon_of() {  # the p2v processes that have MNT as an argument
    local p
    for p in /proc/[0-9]*; do
        [ "$(cat "$p/comm" 2>/dev/null)" = p2v ] || continue
        { tr '\0' '\n' <"$p/cmdline"; } 2>/dev/null | grep -qxF -- "$1" && echo "${p#/proc/}"
    done
}
entries() { ls -A "$1" | paste -sd' '; }   # the names in a directory
# the list line of snapshot ID, fields normalised: "ID PROVIDER STATE ORIGIN PATH"
list_line() {
    local out
    out=$("$P2V" snapshot list 2>&1) || { echo "snapshot list failed: $out"; return; }
    echo "$out" | awk -v id="$1" '$1 == id { print $1, $2, $3, $4, $5 }'
}
only_source() { [ "$(entries "$srcdir")" = disk.img ]; }
list_json_len() {
    "$P2V" snapshot list --json 2>&1 | python3 -c 'import json,sys
try: print(len(json.load(sys.stdin)))
except Exception as e: print("not JSON: %s" % e)'
}

# --- an XFS filesystem (reflink) on a loop device ---------------------------
X=$T/xfs
truncate -s 320M "$T/xfs.img"
mkdir -p "$X"
if ! { XLOOP=$(losetup -f --show "$T/xfs.img") && mkfs.xfs -q "$XLOOP" && mount "$XLOOP" "$X"; } >"$T/setup.log" 2>&1; then
    bad "XFS on a loop device: $(cat "$T/setup.log")"
    finish
    exit
fi
srcdir=$X/src
src=$srcdir/disk.img
mkdir -p "$srcdir"
make_mixed "$src" 6 51          # 12 MiB: blocks 0 and 3 random, the rest zeros
h0=$(hash_of "$src")
mnt=$T/mnt

# --- reflink: the view reads a clone --------------------------------------
check "mount --snapshot reflink" p2v_mount "$src" "$mnt" --snapshot reflink
status "$mnt"
id=$(st snapshot.id)
clone=$(st snapshot.path)
check_eq "status.json: provider" reflink "$(st snapshot.provider)"
check_eq "status.json: source is the original" "$src" "$(st source)"
check_eq "status.json: the clone is .NAME.p2v-snap-ID in the source's directory" \
    "$srcdir/.disk.img.p2v-snap-$id" "$clone"
check_eq "status.json: read_from is the clone" "$clone" "$(st read_from)"
check_eq "status.json: not kept" false "$(st snapshot.kept)"
check_eq "status.json: not live" false "$(st live)"
check "the clone exists while mounted" test -f "$clone"
check_eq "snapshot list: mounted" "$id reflink mounted $src $clone" "$(list_line "$id")"
# Write into the original before the view is read at all (nothing cached).
dd if=/dev/urandom of="$src" bs=1M count=1 conv=notrunc status=none
dd if=/dev/urandom of="$src" bs=1M seek=3 count=3 conv=notrunc status=none
h1=$(hash_of "$src")
check "the test's write changed the original" test "$h1" != "$h0"
check_eq "the view still shows the data of mount time (disk.raw)" "$h0" "$(hash_of "$mnt/disk.raw")"
check_eq "... and so does the clone" "$h0" "$(hash_of "$clone")"
check "p2v umount" p2v_umount "$mnt"
check "the clone is gone when p2v umount returns" absent "$clone"
check_eq "the source directory holds only the source" disk.img "$(entries "$srcdir")"
check_eq "snapshot list: forgotten" "" "$(list_line "$id")"
check_eq "p2v did not write the original" "$h1" "$(hash_of "$src")"

# --- --snapshot-dir must be the caller's (issue 19, 7) ----------------------
mkdir -p "$X/theirs" "$X/open" "$X/sticky" "$X/mine"
chown 65534:65534 "$X/theirs"
chmod 777 "$X/open"
chmod 1777 "$X/sticky"
check_fails "--snapshot-dir of another user is refused" "theirs belongs to uid 65534" \
    "$P2V" mount --snapshot reflink --snapshot-dir "$X/theirs" "$src" "$mnt"
check_fails "--snapshot-dir others may write (not sticky) is refused" "open belongs to uid 0 or may be written by others" \
    "$P2V" mount --snapshot reflink --snapshot-dir "$X/open" "$src" "$mnt"
check_eq "  and no clone was made there" "" "$(entries "$X/theirs")$(entries "$X/open")"
for d in sticky mine; do
    check "--snapshot-dir $d: a clone there is served" p2v_mount "$src" "$mnt" --snapshot reflink --snapshot-dir "$X/$d"
    check "  the view is the source's bytes" cmp "$mnt/disk.raw" "$src"
    p2v_umount "$mnt"
done

# --- the clone is read by descriptor, never by its name (issue 19, 7) -------
# Another user's image ("theirs") renamed over the clone's name, by someone
# with the rights to (root here, as the attacker): the moment after the clone
# is made, through a thaw hook; then over a kept snapshot before it is
# mounted.  p2v serves the clone it made or refuses, and never removes the
# file that took the clone's name.
evil=$X/evil.img
head -c "$(stat -c %s "$src")" /dev/urandom >"$evil" && chown 65534:65534 "$evil"
he=$(hash_of "$evil")
mkdir -p "$T/hooks"
cat >"$T/hooks/swap" <<HOOK
#!/bin/sh
[ "\$1" = thaw ] || exit 0
for c in "$X/mine"/.disk.img.p2v-snap-*; do cp -p "$evil" "$X/mine/.swap" && mv -f "$X/mine/.swap" "\$c"; done
HOOK
chmod 755 "$T/hooks/swap"
check "the clone's name replaced right after it is made: mount" \
    p2v_mount "$src" "$mnt" --snapshot reflink --snapshot-dir "$X/mine" --hooks "$T/hooks"
status "$mnt"
clone=$(st snapshot.path)
check_eq "  the name now holds the other file" "$he" "$(hash_of "$clone")"
check_eq "  the view serves the clone p2v made, not that file" "$h1" "$(hash_of "$mnt/disk.raw")"
p2v_umount "$mnt" 2>"$T/umount.err"
check_eq "  umount leaves the file that took the clone's name alone" "$he" "$(hash_of "$clone")"
check_eq "  and forgets the snapshot" "" "$(list_line "$(st snapshot.id)")"
rm -f "$clone"
# kept_swapped WHAT PATTERN: a kept snapshot whose name something else
# took (WHAT: "file", another file; "link", a symbolic link to a file only
# root may read) is not mounted (the message matches PATTERN); snapshot
# delete forgets it and leaves that thing alone.
kept_swapped() {
    "$P2V" snapshot create --snapshot-dir "$X/mine" "$src" >"$T/create.txt" 2>&1
    id=$(sed -n 's/^snapshot \([^ ]*\) (reflink): .*/\1/p' "$T/create.txt")
    clone=$X/mine/.disk.img.p2v-snap-$id
    check "snapshot create --snapshot-dir" test -n "$id" -a -f "$clone"
    if [ "$1" = file ]; then cp -p "$evil" "$X/mine/.swap"; else ln -sf "$T/secret" "$X/mine/.swap"; fi
    mv -f "$X/mine/.swap" "$clone"
    check_fails "a kept snapshot whose name a $1 took is not mounted" "$2" "$P2V" mount "$clone" "$mnt"
    check "  nothing mounted" not_mounted "$mnt"
    mountpoint -q "$mnt" && p2v_umount "$mnt"
    check "snapshot delete of it" "$P2V" snapshot delete "$id"
    if [ "$1" = file ]; then
        check_eq "  leaves that file alone" "$he" "$(hash_of "$clone")"
    else
        check "  leaves the link alone" test -L "$clone"
    fi
    check_eq "  and forgets the snapshot" "" "$(list_line "$id")"
    rm -f "$clone"
}
kept_swapped file "no longer the clone p2v made"
head -c "$(stat -c %s "$src")" /dev/urandom >"$T/secret" && chmod 600 "$T/secret"
kept_swapped link "now a symbolic link"
# A user without a run directory is told what to do, not about root's.
chmod 755 "$T" && mkdir -p "$X/nobody" && chown 65534:65534 "$X/nobody" && chmod 644 "$src"
check_fails "a user without a run directory: snapshot create says to set P2V_RUN_DIR" \
    "no run directory.*P2V_RUN_DIR" env -u XDG_RUNTIME_DIR -u P2V_RUN_DIR \
    setpriv --reuid=65534 --regid=65534 --clear-groups "$P2V" snapshot create --snapshot-dir "$X/nobody" "$src"
check_eq "  without naming root's /run/p2v" "" "$(grep /run/p2v "$T/.out")"
check_eq "  and no clone is left" "" "$(entries "$X/nobody")"
chmod 700 "$T"

# --- auto picks reflink on XFS and says so ---------------------------------
check "mount (auto) on XFS" p2v_mount_v "$src" "$mnt"
check "auto says reflink" grep -q "snapshot: reflink" "$T/mount.err"
status "$mnt"
check_eq "auto: status.json provider" reflink "$(st snapshot.provider)"
clone=$(st snapshot.path)
check "auto: the clone exists" test -f "$clone"
check_eq "auto: the view shows the source" "$h1" "$(hash_of "$mnt/disk.raw")"
p2v_umount "$mnt"
check "auto: the clone is gone when p2v umount returns" absent "$clone"

# --- --keep-snapshot ---------------------------------------------------------
check "mount --keep-snapshot" p2v_mount "$src" "$mnt" --snapshot reflink --keep-snapshot
status "$mnt"
id=$(st snapshot.id)
clone=$(st snapshot.path)
check_eq "--keep-snapshot: status.json kept" true "$(st snapshot.kept)"
dpids=$(daemon_of "$mnt")
check_eq "one mount daemon" 1 "$(echo "$dpids" | grep -c .)"
check "p2v umount" p2v_umount "$mnt"
for p in $dpids; do wait_until 10 gone "$p"; done
check "--keep-snapshot: the clone remains once the daemon has exited" test -f "$clone"
check_eq "--keep-snapshot: the clone holds the source of mount time" "$h1" "$(hash_of "$clone")"
check_eq "snapshot list: kept" "$id reflink kept $src $clone" "$(list_line "$id")"
check "snapshot delete ID" "$P2V" snapshot delete "$id"
check "snapshot delete: the clone is gone" absent "$clone"
check_eq "snapshot delete: not listed" "" "$(list_line "$id")"
check_eq "after delete the source directory holds only the source" disk.img "$(entries "$srcdir")"

# --- determinism --------------------------------------------------------------
vhd=()
for i in 1 2; do
    p2v_mount "$src" "$mnt" --snapshot reflink
    vhd+=("$(hash_of "$mnt/disk.vhd")")
    p2v_umount "$mnt"
done
check_eq "two reflink mounts of an unchanged source: the same disk.vhd" "${vhd[0]}" "${vhd[1]}"
p2v_mount "$src" "$mnt" --snapshot none
check_eq "a mount without a snapshot gives that disk.vhd too" "${vhd[0]}" "$(hash_of "$mnt/disk.vhd")"
p2v_umount "$mnt"
check "no clone left" wait_until 10 only_source

# --- snapshot create / list / delete -----------------------------------------
t0=$(date +%s)
check "snapshot create --json" bash -c "'$P2V' snapshot create --json '$src' >'$T/create.json'"
t1=$(date +%s)
id=$(json_key "$T/create.json" id)
clone=$(json_key "$T/create.json" path)
check "create: id is a non-empty string" python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))["id"]; sys.exit(not (isinstance(v, str) and v))' "$T/create.json"
check_eq "create: provider" reflink "$(json_key "$T/create.json" provider)"
check_eq "create: origin" "$src" "$(json_key "$T/create.json" origin)"
check_eq "create: path" "$srcdir/.disk.img.p2v-snap-$id" "$clone"
created=$(json_key "$T/create.json" created)
check "create: created is the unix time of creation ($created in $t0..$t1)" \
    test "$created" -ge "$t0" -a "$created" -le "$t1"
check_eq "create: the snapshot holds the source" "$h1" "$(hash_of "$clone")"
check_eq "snapshot list: kept" "$id reflink kept $src $clone" "$(list_line "$id")"
check_eq "snapshot list --json: the snapshot with its fields" "reflink kept $src $clone" \
    "$("$P2V" snapshot list --json 2>&1 | python3 -c 'import json,sys
try:
    s = [x for x in json.load(sys.stdin) if x.get("id") == sys.argv[1]]
    print(" ".join(str(s[0].get(k)) for k in ("provider", "state", "origin", "path")) if len(s) == 1 else "%d entries" % len(s))
except Exception as e: print("not JSON: %s" % e)' "$id")"
check_eq "two files in the source directory" 2 "$(ls -A "$srcdir" | wc -l)"
check "mount the snapshot (auto)" p2v_mount_v "$clone" "$mnt"
check "auto: already a snapshot ($(grep -m1 snapshot "$T/mount.err"))" grep -qiE "already a (p2v )?snapshot|snapshot already" "$T/mount.err"
check_eq "no second clone while mounted" 2 "$(ls -A "$srcdir" | wc -l)"
status "$mnt"
check_eq "snapshot as source: provider none" none "$(st snapshot.provider)"
check_eq "snapshot as source: read as is" "$clone" "$(st read_from)"
check_eq "snapshot as source: the view shows it" "$h1" "$(hash_of "$mnt/disk.raw")"
p2v_umount "$mnt"
check "the snapshot stays after that mount" test -f "$clone"
check_eq "... and is still listed as kept" "$id reflink kept $src $clone" "$(list_line "$id")"
check "snapshot delete ID" "$P2V" snapshot delete "$id"
check "snapshot delete: the file is gone" absent "$clone"
check_eq "snapshot list --json: empty" 0 "$(list_json_len)"
"$P2V" snapshot create "$src" >"$T/create.txt" 2>"$T/create.err"
line=$(cat "$T/create.txt")
id=$(echo "$line" | sed -n 's/^snapshot \([^ ]*\) (reflink): .*/\1/p')
check_eq "snapshot create (text)" "snapshot $id (reflink): $srcdir/.disk.img.p2v-snap-$id" "$line"
check "snapshot create (text): the file exists" test -n "$id" -a -f "$srcdir/.disk.img.p2v-snap-$id"
check "snapshot delete ID" "$P2V" snapshot delete "$id"
check_eq "the source directory holds only the source" disk.img "$(entries "$srcdir")"

# --- lvm ------------------------------------------------------------------------
check_fails "--snapshot lvm on a regular file is refused" "lvm|logical volume" \
    "$P2V" mount --snapshot lvm "$src" "$mnt"
check "--snapshot lvm refused: nothing mounted" not_mounted "$mnt"
if ! dmsetup version >"$T/dm.log" 2>&1 || [ ! -c /dev/mapper/control ]; then
    echo "SKIP lvm: device-mapper not available ($(grep -m1 -iE 'fail|no such|error' "$T/dm.log"))"
else
    VG=p2vit$$
    truncate -s 256M "$T/lvm.img"
    if ! { LLOOP=$(losetup -f --show "$T/lvm.img") && pvcreate -q -y "$LLOOP" &&
           vgcreate -q -y "$VG" "$LLOOP" && lvcreate -q -y -L 32M -n src "$VG"; } >"$T/lvm.log" 2>&1; then
        bad "lvm setup: $(cat "$T/lvm.log")"
    else
        lv=/dev/$VG/src
        make_mixed "$lv" 16 52
        sync
        hl=$(hash_of "$lv")
        nlv() { lvs --noheadings -o lv_name "$VG" 2>/dev/null | grep -c .; }
        one_lv() { [ "$(nlv)" = 1 ]; }
        check "mount --snapshot lvm" p2v_mount "$lv" "$mnt" --snapshot lvm
        status "$mnt"
        check_eq "lvm: status.json provider" lvm "$(st snapshot.provider)"
        snap=$(st snapshot.path)
        check "lvm: the snapshot is a block device" test -b "$snap"
        check_eq "lvm: a snapshot LV exists" 2 "$(nlv)"
        dd if=/dev/urandom of="$lv" bs=1M count=2 seek=1 conv=notrunc,fsync oflag=direct status=none
        check "lvm: the test's write changed the LV" test "$(hash_of "$lv")" != "$hl"
        check_eq "lvm: the view shows the LV of mount time" "$hl" "$(hash_of "$mnt/disk.raw")"
        p2v_umount "$mnt"
        check "lvm: the snapshot LV is removed at umount" wait_until 15 one_lv
        check "mount (auto) of an LV" p2v_mount_v "$lv" "$mnt"
        check "auto on an LV says lvm" grep -q "snapshot: lvm" "$T/mount.err"
        p2v_umount "$mnt"
        check "auto lvm: the snapshot LV is removed at umount" wait_until 15 one_lv
    fi
fi

# --- tmpfs cannot clone ------------------------------------------------------------
TF=$T/tmpfs
mkdir -p "$TF"
mount -t tmpfs -o size=128M p2v-it "$TF"
tsrc=$TF/plain/disk.img
mkdir -p "$TF/plain"
make_mixed "$tsrc" 3 53
ht=$(hash_of "$tsrc")
check_fails "--snapshot reflink on tmpfs fails" "reflink|clone" \
    "$P2V" mount --snapshot reflink "$tsrc" "$mnt"
check "reflink on tmpfs: nothing mounted" not_mounted "$mnt"
check_eq "reflink on tmpfs: no clone left" disk.img "$(entries "$TF/plain")"
check "mount (auto) on tmpfs" p2v_mount_v "$tsrc" "$mnt"
check "auto on tmpfs says none" grep -q "snapshot: none" "$T/mount.err"
status "$mnt"
check_eq "auto on tmpfs: status.json provider none" none "$(st snapshot.provider)"
check_eq "auto on tmpfs: status.json path null" null "$(st snapshot.path)"
check_eq "auto on tmpfs: read_from is the source" "$tsrc" "$(st read_from)"
p2v_umount "$mnt"

# --- a source in use read-write -------------------------------------------------
no4() { "$@" 4>&-; }   # p2v must not inherit the test's write descriptor
exec 4<>"$tsrc"
check_fails "--snapshot none: a source open for writing is refused, naming the holder" \
    "in use.*pid $$ \($(cat /proc/$$/comm)\)" no4 "$P2V" mount --snapshot none "$tsrc" "$mnt"
check "held source: nothing mounted" not_mounted "$mnt"
check "--allow-live proceeds" no4 p2v_mount_v "$tsrc" "$mnt" --snapshot none --allow-live
check "--allow-live: a warning" grep -qiE "in use|live" "$T/mount.err"
status "$mnt"
check_eq "--allow-live: status.json live" true "$(st live)"
p2v_umount "$mnt"
exec 4>&-
check_eq "the tmpfs source is unchanged" "$ht" "$(hash_of "$tsrc")"

truncate -s 32M "$TF/ext.img"
mkfs.ext4 -q -F "$TF/ext.img"
he=$(hash_of "$TF/ext.img")
mkdir -p "$TF/extmnt"
EXTLOOP=$(losetup -f --show "$TF/ext.img")
mount "$EXTLOOP" "$TF/extmnt"
check_fails "--snapshot none: a file behind a loop device mounted read-write is refused, naming the mount" \
    "in use.*${EXTLOOP#/dev/}.*read-write at $TF/extmnt" "$P2V" mount --snapshot none "$TF/ext.img" "$mnt"
check "loop-mounted source: nothing mounted" not_mounted "$mnt"
check "--allow-live proceeds" p2v_mount_v "$TF/ext.img" "$mnt" --snapshot none --allow-live
status "$mnt"
check_eq "--allow-live: status.json live" true "$(st live)"
p2v_umount "$mnt"
umount "$TF/extmnt"
losetup -d "$EXTLOOP" && EXTLOOP=
check_eq "the loop-mounted image was written only by its own mount (fsck clean)" 0 \
    "$(e2fsck -fn "$TF/ext.img" >/dev/null 2>&1; echo $?)"
[ "$he" = "$(hash_of "$TF/ext.img")" ] && echo "  ..   (the ext4 image was not even touched by its mount)"

# --- stale records ------------------------------------------------------------------
check "mount --snapshot reflink" p2v_mount "$src" "$mnt" --snapshot reflink
status "$mnt"
id=$(st snapshot.id)
clone=$(st snapshot.path)
dpids=$(daemon_of "$mnt")
check_eq "one mount daemon" 1 "$(echo "$dpids" | grep -c .)"
for p in $dpids; do kill -KILL "$p"; done
for p in $dpids; do wait_until 10 gone "$p"; done
fusermount3 -uz "$mnt"
check "the daemon is gone" not_mounted "$mnt"
check "the clone of a dead mount stays" test -f "$clone"
check_eq "snapshot list: stale" "$id reflink stale $src $clone" "$(list_line "$id")"
check "snapshot delete --stale" "$P2V" snapshot delete --stale
check "snapshot delete --stale: the clone is gone" absent "$clone"
check_eq "snapshot list --json: empty" 0 "$(list_json_len)"

# --- a damaged VHD read through its clone: messages name the file given -------
vd=$X/vhd
mkdir -p "$vd"
truncate -s 8M "$T/v.raw"
qemu-img convert -f raw -O vpc "$T/v.raw" "$vd/d.vhd"
vs=$(stat -c %s "$vd/d.vhd")
printf X | dd of="$vd/d.vhd" bs=1 seek=$((vs - 512)) conv=notrunc status=none  # the footer's cookie
mkdir -p "$T/vmnt"
"$P2V" mount --snapshot reflink "$vd/d.vhd" "$T/vmnt" >/dev/null 2>"$T/vclone.err"
check_eq "a damaged VHD through a reflink clone: refused (exit 1)" 1 $?
check "  the message names the VHD given" grep -q "^p2v: error: $vd/d.vhd: damaged VHD" "$T/vclone.err"
check "  never the clone's descriptor" sh -c "! grep -q /proc/self/fd '$T/vclone.err'"
check "  and its dd line names it too" grep -q "dd if=$vd/d.vhd of=$vd/d.vhd bs=512" "$T/vclone.err"

# --- a name with a line break cannot add fields to a snapshot record --------
nl=$X/$'a\nprovider=lvm'
mkdir -p "$nl" && cp "$T/v.raw" "$nl/disk.img"
"$P2V" snapshot create --snapshot reflink "$nl/disk.img" >/dev/null 2>"$T/nl.err"
check_eq "a source path holding a line break: snapshot create refused (exit 1)" 1 $?
check "  saying the name holds a line break" grep -q "holds a line break; rename it" "$T/nl.err"
check "  no record was left" sh -c "! grep -rqs 'provider=lvm' \"\${P2V_RUN_DIR:-/run/p2v}\""

check_eq "the source directory holds only the source at the end" disk.img "$(entries "$srcdir")"
check_eq "p2v never wrote the original" "$h1" "$(hash_of "$src")"
finish
