#!/bin/bash
# Deleted data in ext4's metadata (issue 20, its first part): small files
# written with unique markers (inline data with -O inline_data, extended
# attributes in the inode, ordinary data), some deleted, on ext4 with and
# without inline_data. The deleted files' markers appear nowhere in
# disk.raw, disk.vhd, disk.vhdx or partitions/1.raw (their inode slots and
# the empty journal's blocks read as zeros); the kept files read back the
# same through the kernel; e2fsck -fn finds the view's filesystem clean,
# and stays so after the kernel writes to a copy; info --json counts what
# was zeroed; --keep-free-space keeps every byte. An inode bitmap that
# calls a live inode free (counts adjusted to agree) is doubted: nothing
# is zeroed in the inode tables, with a warning.
# Directory-entry slack (its second part): names unlinked by libext2fs
# (debugfs rm; the kernel wipes deleted entries since 2021, libext2fs
# does not) stay in the record before them, in a small directory and in
# an htree one with interior nodes, on ext4 (metadata_csum) and ext3
# (block maps, no checksums). None appears in the view; e2fsck -fn finds
# it clean, every kept name is still listed, the kernel writes in those
# directories of a copy and e2fsck stays clean. An htree the walk cannot
# follow leaves its directory as it is, with a warning.
. "$(dirname "$0")/lib.sh"

m=$T/m
mkdir -p "$m" "$T/v"

# make_disk NAME MKE2FS-FEATURES: a 64 MiB disk with one ext4 partition.
make_disk() {
    local part=$T/$1.part
    truncate -s 48M "$part"
    mke2fs -q -F -t ext4 -E nodiscard ${2:+-O "$2"} "$part"
    mount -o loop "$part" "$m" || return 1
    for i in $(seq 1 30); do
        printf 'P2VMARK-INL-%03d' "$i" >"$m/small$i"
        setfattr -n user.p2v -v "P2VMARK-XATTR-$i" "$m/small$i"
    done
    mkdir "$m/dir-with-a-rather-long-name-to-delete"
    for i in $(seq 1 20); do
        { printf 'P2VMARK-BIG-%03d ' "$i"; head -c 3000 /dev/zero | tr '\0' y; } >"$m/dir-with-a-rather-long-name-to-delete/big$i"
    done
    sync
    rm -f "$m"/small1? && rm -rf "$m/dir-with-a-rather-long-name-to-delete"
    echo "kept" >"$m/keep.txt"
    (cd "$m" && sha256sum keep.txt small2 small25 && getfattr -d small25) >"$T/$1.kept"
    umount "$m"
    to_disk "$1"
}

# to_disk NAME: $T/NAME.part as the one partition of a 64 MiB disk, $T/NAME.img.
to_disk() {
    truncate -s 64M "$T/$1.img"
    printf 'label: dos\nstart=2048, type=83\n' | sfdisk -q "$T/$1.img"
    dd if="$T/$1.part" of="$T/$1.img" bs=1M seek=1 conv=notrunc status=none
}

# gone FILE: no deleted file's marker (small10-19, their attributes, the
# big files of the deleted directory) in FILE; prints what was found.
gone() {
    local found
    found=$(grep -a -o -E 'P2VMARK-(INL-01[0-9]|XATTR-1[0-9]|BIG-[0-9]{3})' "$1" | sort -u | head -5 | tr '\n' ' ')
    [ -z "$found" ] || { echo "found: $found"; return 1; }
}

for variant in plain inline; do
    features=''; [ $variant = inline ] && features=inline_data
    check "$variant: the test disk is made" make_disk $variant "$features"
    src=$T/$variant.img before=$(hash_of "$T/$variant.img")
    check "$variant: control: the source holds the deleted markers" bash -c "$(declare -f gone); ! gone '$src' >/dev/null"
    json=$("$P2V" info --json -q "$src")
    counts=$(python3 -c 'import json,sys; s=json.loads(sys.argv[1])["partitions"][0]["filesystem"]["scrubbed"]; print(s["ext_free_inode_bytes"] > 0, s["ext_journal_bytes"] > 0)' "$json")
    check_eq "$variant: info --json counts free inodes and journal bytes zeroed" "True True" "$counts"
    check "$variant: mount" p2v_mount "$src" "$T/v"
    check "$variant: disk.raw holds no deleted marker" gone "$T/v/disk.raw"
    check "$variant: disk.vhd holds no deleted marker" gone "$T/v/disk.vhd"
    check "$variant: partitions/1.raw holds no deleted marker" gone "$T/v/partitions/1.raw"
    cp "$T/v/partitions/1.raw" "$T/$variant.view"
    p2v_umount "$T/v"
    check "$variant: mount --format vhdx" p2v_mount "$src" "$T/v" --format vhdx
    check "$variant: disk.vhdx holds no deleted marker" gone "$T/v/disk.vhdx"
    p2v_umount "$T/v"
    check "$variant: e2fsck -fn finds the view's filesystem clean" e2fsck -fn "$T/$variant.view"
    check "$variant: the kept files, and an attribute, read back the same" \
        bash -c "mount -o ro,loop '$T/$variant.view' '$m' && (cd '$m' && sha256sum keep.txt small2 small25 && getfattr -d small25) | cmp - '$T/$variant.kept'; rc=\$?; umount '$m'; exit \$rc"
    check "$variant: the kernel writes to a copy of it, then e2fsck -fn is clean" \
        bash -c "mount -o loop '$T/$variant.view' '$m' && for i in \$(seq 1 200); do echo n > '$m'/new\$i; done && rm -f '$m'/new1* && umount '$m' && e2fsck -fn '$T/$variant.view' >/dev/null"
    check "$variant: --keep-free-space keeps every byte" \
        bash -c "'$P2V' mount -q --keep-free-space '$src' '$T/v' && cmp '$T/v/disk.raw' '$src'; rc=\$?; '$P2V' umount '$T/v'; exit \$rc"
    check_eq "$variant: the source is unchanged" "$before" "$(hash_of "$src")"
done

# A live inode the bitmap calls free, with the group's free count made to
# agree (debugfs): doubted, nothing zeroed in the inode tables.
bad=$T/bad.part
cp "$T/plain.part" "$bad"
fc=$(dumpe2fs "$bad" 2>/dev/null | grep -A8 '^Group 0:' | grep -o '[0-9]* free inodes' | cut -d' ' -f1)
debugfs -w -R "freei /keep.txt" "$bad" >/dev/null 2>&1
printf 'set_bg 0 free_inodes_count %s\nset_bg 0 checksum calc\n' $((fc + 1)) | debugfs -w -f - "$bad" >/dev/null 2>&1
check "control: the damaged bitmap's group count agrees with it" \
    bash -c "dumpe2fs '$bad' 2>/dev/null | grep -A8 '^Group 0:' | grep -q '$((fc + 1)) free inodes'"
"$P2V" info --json -q --volume "$bad" >"$T/bad.json" 2>"$T/bad.err"
check "a free inode with links: warned, naming it" grep -qE "calls inode [0-9]+ free, yet it has links" "$T/bad.err"
check_eq "  nothing counted as zeroed in the inode tables" 0 \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["filesystem"]["scrubbed"]["ext_free_inode_bytes"])' "$T/bad.json")"
check "  the view keeps the deleted markers (the tables copied as they are)" \
    bash -c "$(declare -f gone); '$P2V' mount -q --volume '$bad' '$T/v' 2>/dev/null && ! gone '$T/v/partitions/1.raw' >/dev/null; rc=\$?; '$P2V' umount '$T/v'; exit \$rc"
# make_dirs NAME MKE2FS-ARGS: a disk whose filesystem (1 KiB blocks) has
# /small (24 names) and /big (3000 long names: an htree with interior
# nodes), the kernel writing them; then debugfs unlinks every third
# (P2VDEL-*), which leaves the names in the slack. $T/NAME.ls: the listing
# of what is kept (entries with an inode; debugfs also shows an emptied
# first entry of a block, with its old name).
make_dirs() {
    local part=$T/$1.part
    truncate -s 48M "$part"
    mke2fs -q -F -b 1024 -E nodiscard $2 "$part"
    mount -o loop "$part" "$m" || return 1
    mkdir "$m/small" "$m/big"
    python3 - "$m" "$T/$1.rm" <<'PY'
import sys
m, rm = sys.argv[1], open(sys.argv[2], "w")
for d, n, fmt in (("small", 24, "%s-s%02d"), ("big", 3000, "%s-a-long-name-to-fill-the-htree-blocks-%04d")):
    for i in range(n):
        name = fmt % ("P2VDEL" if i % 3 == 1 else "keep", i)
        open("%s/%s/%s" % (m, d, name), "w").close()
        if i % 3 == 1:
            rm.write("rm /%s/%s\n" % (d, name))
PY
    umount "$m"
    debugfs -w -f "$T/$1.rm" "$part" >/dev/null 2>&1
    listing "$part" >"$T/$1.ls"
    to_disk "$1"
}

# listing PART: debugfs's long listing of /, /small and /big, live entries only.
listing() {
    local d
    for d in / /small /big; do debugfs -R "ls -l $d" "$1" 2>/dev/null | awk 'NF && $1 != 0'; done
}

# no_del FILE: no unlinked name in FILE.
no_del() { ! grep -a -q -m1 P2VDEL "$1"; }

for variant in ext4 ext3; do
    args='-t ext4'; [ $variant = ext3 ] && args='-t ext3'
    check "$variant dirs: the test disk is made" make_dirs $variant-dirs "$args"
    src=$T/$variant-dirs.img part=$T/$variant-dirs.part before=$(hash_of "$T/$variant-dirs.img")
    check "$variant dirs: control: /big is an htree with interior nodes" \
        bash -c "debugfs -R 'htree /big' '$part' 2>/dev/null | grep -q 'Indirect levels: 1'"
    check "$variant dirs: control: the source holds unlinked names" bash -c "$(declare -f no_del); ! no_del '$src'"
    check_eq "$variant dirs: control: the kept names are listed" 2025 "$(wc -l <"$T/$variant-dirs.ls")"
    slack=$("$P2V" info --json -q "$src" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitions"][0]["filesystem"]["scrubbed"]["ext_dirent_slack_bytes"])')
    check "$variant dirs: info --json counts dirent slack bytes ($slack)" test "$slack" -gt 0
    check "$variant dirs: mount" p2v_mount "$src" "$T/v"
    check "$variant dirs: disk.raw holds no unlinked name" no_del "$T/v/disk.raw"
    check "$variant dirs: disk.vhd holds no unlinked name" no_del "$T/v/disk.vhd"
    check "$variant dirs: partitions/1.raw holds no unlinked name" no_del "$T/v/partitions/1.raw"
    cp "$T/v/partitions/1.raw" "$T/$variant-dirs.view"
    p2v_umount "$T/v"
    check "$variant dirs: mount --format vhdx" p2v_mount "$src" "$T/v" --format vhdx
    check "$variant dirs: disk.vhdx holds no unlinked name" no_del "$T/v/disk.vhdx"
    p2v_umount "$T/v"
    view=$T/$variant-dirs.view
    check "$variant dirs: e2fsck -fn finds the view's filesystem clean" e2fsck -fn "$view"
    check "$variant dirs: every kept name is listed as in the source" \
        bash -c "$(declare -f listing); listing '$view' | cmp - '$T/$variant-dirs.ls'"
    check "$variant dirs: the kernel writes in the scrubbed directories of a copy, then e2fsck -fn is clean" \
        bash -c "mount -o loop '$view' '$m' && for i in \$(seq 1 150); do : >'$m'/small/new\$i; : >'$m'/big/new-name-\$i; done && rm -f '$m'/small/new1* '$m'/big/new-name-1* '$m'/big/keep-*-00[0-4]? && umount '$m' && e2fsck -fn '$view' >/dev/null"
    check_eq "$variant dirs: the source is unchanged" "$before" "$(hash_of "$src")"
done

# An htree deeper than the kernel allows (indirect_levels 3): /big is left
# out whole, with a warning; /small is still scrubbed.
bad=$T/badtree.part
cp "$T/ext4-dirs.part" "$bad"
root=$(debugfs -R "bmap /big 0" "$bad" 2>/dev/null)
printf '\003' | dd of="$bad" bs=1 seek=$((root * 1024 + 30)) conv=notrunc status=none
"$P2V" info --json -q --volume "$bad" >/dev/null 2>"$T/badtree.err"
check "a malformed htree: warned, naming its inode" \
    grep -qE "entries of 1 ext directory .*\(the first: inode [0-9]+, its htree is deeper" "$T/badtree.err"
check "  its names are kept, the other directory's are not" \
    bash -c "'$P2V' mount -q --volume '$bad' '$T/v' 2>/dev/null && grep -a -q P2VDEL-a-long '$T/v/partitions/1.raw' && ! grep -a -q P2VDEL-s '$T/v/partitions/1.raw'; rc=\$?; '$P2V' umount '$T/v'; exit \$rc"
finish
