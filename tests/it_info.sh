#!/bin/bash
# `p2v info`: sizes, sector size and allocated blocks agree with the source
# and with what a mount serves; --json is valid JSON.
. "$(dirname "$0")/lib.sh"

src=$T/src.img
make_mixed "$src" 30 3            # 10 non-zero blocks of 30
before=$(hash_of "$src")
json=$("$P2V" info --json "$src")
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$json" "$1"; }
check "info --json is valid JSON" python3 -c 'import json,sys; json.loads(sys.argv[1])' "$json"
check_eq "size" $((30 << 21)) "$(field size)"
check_eq "logical sector size" 512 "$(field logical_sector_size)"
check_eq "blocks allocated (dynamic)" 10 "$(field blocks_allocated)"
check_eq "blocks total" 30 "$(field blocks_total)"
check_eq "source path is canonical" "$(realpath "$src")" "$(field source)"
p2v_mount "$src" "$T/mnt"
check_eq "image size equals the mounted disk.vhd" "$(stat -c %s "$T/mnt/disk.vhd")" "$(field image_size)"
footer_id=$(tail -c 512 "$T/mnt/disk.vhd" | dd bs=1 skip=68 count=16 status=none | xxd -p)
check_eq "unique id equals the footer's" "$footer_id" "$(field unique_id | tr -d -)"
p2v_umount "$T/mnt"
json=$("$P2V" info --json --type fixed "$src")
check_eq "fixed image size" $(((30 << 21) + 512)) "$(field image_size)"
check "human output names the size" grep -q "disk size: *$((30 << 21)) bytes" <("$P2V" info "$src")

# Timestamps come from the source: the footer's is its mtime in VHD epoch
# seconds, and the view shows the same time; a new mtime is a new identity.
touch -d '2024-03-01 12:00:00 UTC' "$src"
mtime=$(stat -c %Y "$src")
old_id=$("$P2V" info --json "$src" | python3 -c 'import json,sys; print(json.load(sys.stdin)["unique_id"])')
p2v_mount "$src" "$T/mnt"
check_eq "footer timestamp = source mtime - 946684800" $((mtime - 946684800)) \
    "$((16#$(tail -c 512 "$T/mnt/disk.vhd" | dd bs=1 skip=24 count=4 status=none | xxd -p)))"
check_eq "the view's files show the source's mtime" "$mtime $mtime" \
    "$(stat -c %Y "$T/mnt/disk.vhd") $(stat -c %Y "$T/mnt/disk.raw")"
p2v_umount "$T/mnt"
touch -d '2024-03-02 12:00:00 UTC' "$src"
new_id=$("$P2V" info --json "$src" | python3 -c 'import json,sys; print(json.load(sys.stdin)["unique_id"])')
check "a changed mtime gives a new unique id" test "$old_id" != "$new_id"
check_eq "the type is part of the identity" 1 \
    "$("$P2V" info --json --type fixed "$src" | grep -c -v "$new_id")"

# Output that cannot be written is an error; odd bytes in a path still
# give valid JSON.
check_fails "info to a full device fails" "writing the output failed" \
    bash -c '"$0" info "$1" >/dev/full' "$P2V" "$src"
odd=$T/$'disk\xff\xc3\xa9.img'
cp "$src" "$odd"
check "--json stays valid for a path that is not UTF-8" \
    python3 -c 'import json,sys; json.loads(sys.stdin.buffer.read())' < <("$P2V" info --json "$odd")
# A large scan shows its progress on stderr (lines when not a terminal);
# -q silences it.
big=$T/big.img
make_mixed "$big" 150 8          # 300 MiB written (zeros too), all of it scanned
"$P2V" info "$big" 2>"$T/progress" >/dev/null
check "a large dynamic scan reports progress up to 100%" grep -q "scanning .*big.img for zero blocks: 100%" "$T/progress"
check_eq "-q: no progress" "" "$("$P2V" info -q "$big" 2>&1 >/dev/null)"

# An unknown option or a missing argument: getopt's line naming the whole
# command, then one line pointing at the help (not the help itself); exit 2.
for cmd in mount info check inspect inventory commit batch umount "fixup plan" "fixup apply" \
           "fixup discard" "vm create" "snapshot create"; do
    # shellcheck disable=SC2086
    "$P2V" $cmd --no-such-option >"$T/opt.out" 2>"$T/opt.err"
    rc=$?
    check_eq "p2v $cmd --no-such-option: exit 2, nothing on stdout, two lines naming the command" \
        "2|0|p2v $cmd: unrecognized option '--no-such-option'|Try 'p2v $cmd --help' for its options." \
        "$rc|$(wc -c <"$T/opt.out")|$(paste -sd'|' "$T/opt.err")"
done
"$P2V" info --type >/dev/null 2>"$T/opt.err"
check_eq "p2v info --type (no argument): getopt's line and the hint" \
    "p2v info: option '--type' requires an argument|Try 'p2v info --help' for its options." \
    "$(paste -sd'|' "$T/opt.err")"

# "--" ends umount's options: a mount point may start with '-'.
(cd "$T" && "$P2V" umount -- -no-such-mnt) >/dev/null 2>"$T/opt.err"
check_eq "umount -- -NAME: taken as the mount point (exit 1, not 2)" \
    "1|p2v: error: mount point -no-such-mnt: No such file or directory" "$?|$(cat "$T/opt.err")"
# A relative P2V_RUN_DIR is refused: the view's daemon runs in /.
P2V_RUN_DIR=rel "$P2V" snapshot list >/dev/null 2>"$T/rel.err"
check_eq "P2V_RUN_DIR=rel: refused (exit 1)" 1 $?
check "  saying it must be absolute" grep -q "P2V_RUN_DIR is 'rel', not an absolute path" "$T/rel.err"

# A VHD is probed through a private FUSE mount in TMPDIR: when that cannot
# be made, the message names TMPDIR, not the random directory under it.
mkdir "$T/ro"
mount -t tmpfs -o ro,size=1M tmpfs "$T/ro" && MOUNTS+=("$T/ro")
truncate -s 16M "$T/probe.img"
printf 'label: dos\nstart=2048, type=83\n' | sfdisk -q "$T/probe.img"
qemu-img convert -O vpc "$T/probe.img" "$T/probe.vhd"
TMPDIR=$T/ro "$P2V" info "$T/probe.vhd" >/dev/null 2>"$T/probe.err"
check_eq "TMPDIR read-only: info fails (exit 1)" 1 $?
check "  naming TMPDIR and the remedy" grep -qF "in $T/ro to probe the partitions: Read-only file system; set TMPDIR" "$T/probe.err"
check "  and no temporary name under it" sh -c "! grep -q 'p2v-probe' '$T/probe.err'"

check_eq "source unchanged" "$before" "$(hash_of "$src")"
finish
