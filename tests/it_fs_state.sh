#!/bin/bash
# p2v-test: background (most of its time is libguestfs's appliance, one emulated CPU)
# check's fs-state rule on XFS and ext4 volumes left clean or unclean by the
# host's own kernel: mkfs, a mount that writes and unmounts, and a mount
# shut down with its log flushed but no unmount (xfs_io's shutdown -f, the
# ioctl XFS and ext4 both have: a crash with everything in the journal).
# XFS is tried fresh from mkfs, with a log written past its end (cycle 2),
# with 4 KiB log sectors, inside partitions and as a bare volume.  What p2v
# says is compared with xfs_logprint -t (CLEAN or DIRTY) and dumpe2fs
# (needs_recovery), not with p2v.  The images are hashed before and after.
. "$(dirname "$0")/lib.sh"

PATH=$PATH:/usr/sbin:/sbin
have_fs() { grep -qw "$1" /proc/filesystems || modprobe "$1" 2>/dev/null; }
if ! have_fs xfs || ! have_fs ext4 || ! losetup -f >/dev/null 2>&1; then
    echo "  skip: this kernel cannot mount XFS and ext4 on a loop device (the volumes are made by it)"
    finish
    exit 0
fi

# mkvol NAME FS fresh|clean|dirty [MKFS OPTION...]: a volume (XFS's
# smallest, 300 MiB; ext4 64 MiB) with files.
mkvol() {
    local img=$T/$1.img fs=$2 how=$3 m=$T/mnt
    shift 3
    truncate -s "$([ "$fs" = xfs ] && echo 300M || echo 64M)" "$img"
    "mkfs.$fs" -q "$@" "$img" >/dev/null 2>&1 || { bad "mkfs.$fs $* ($img)"; return 1; }
    [ "$how" = fresh ] && return 0
    mkdir -p "$m"
    mount -o loop "$img" "$m" || { bad "mounting $img"; return 1; }
    local i
    for i in $(seq 1 40); do mkdir "$m/d$i"; done
    # CHURN=N: N rounds of 30000 files made and removed, 16 MiB of log each
    python3 -c 'import os, sys
for r in range(int(sys.argv[2])):
    for op in (lambda p: os.close(os.open(p, os.O_CREAT | os.O_WRONLY)), os.unlink):
        for i in range(30000):
            op("%s/f%d" % (sys.argv[1], i))
        os.sync()' "$m" "${CHURN:-0}"
    echo data >"$m/d1/f"
    sync
    echo late >"$m/late"
    [ "$how" = dirty ] && xfs_io -x -c "shutdown -f" "$m"
    umount "$m"
}
# oracle NAME FS: what the filesystem's own tools say, as fs-state would.
oracle() {
    case $2 in
        xfs) xfs_logprint -t "$T/$1.img" 2>/dev/null | grep -q 'state: <CLEAN>' && echo clean || echo unclean ;;
        ext4) dumpe2fs -h "$T/$1.img" 2>/dev/null | grep -q '^Filesystem features:.*needs_recovery' &&
                  echo unclean || echo clean ;;
    esac
}

# One disk with every case as a partition: one inventory, one appliance
# (it looks for Linux on XFS), instead of one each.
cases=(
    "xfs-fresh xfs fresh"
    "xfs-dirty xfs dirty"
    "xfs-4k-dirty xfs dirty -s size=4096"
    "xfs-wrap-clean xfs clean"
    "xfs-wrap-dirty xfs dirty"
    "ext4-clean ext4 clean"
    "ext4-dirty ext4 dirty"
)
names=() want='' n=0
for c in "${cases[@]}"; do
    read -r name fs how opts <<<"$c"
    churn=0
    case $name in xfs-wrap-*) churn=5 ;; esac  # past the 64 MiB log: it wraps
    # shellcheck disable=SC2086
    CHURN=$churn mkvol "$name" "$fs" "$how" $opts || continue
    n=$((n + 1))
    names+=("$name")
    [ "$(oracle "$name" "$fs")" = unclean ] && want+="${want:+, }partition $n ($fs)"
    eval "o_${name//-/_}=$(oracle "$name" "$fs")"
done
for w in clean dirty; do
    check "xfs-wrap-$w: the log wrapped (xfs_logprint: records of cycle 2)" \
        bash -c "xfs_logprint -d '$T/xfs-wrap-$w.img' 2>/dev/null | grep -q 'HEADER Cycle 2 '"
done
# The oracles must tell the cases apart, or this proves nothing.
check_eq "xfs_logprint: mkfs, shutdown, shutdown (4 KiB sectors), wrapped: CLEAN DIRTY DIRTY CLEAN DIRTY" \
    "clean unclean unclean clean unclean" \
    "${o_xfs_fresh:-} ${o_xfs_dirty:-} ${o_xfs_4k_dirty:-} ${o_xfs_wrap_clean:-} ${o_xfs_wrap_dirty:-}"
check_eq "dumpe2fs: needs_recovery only after the shutdown" "clean unclean" "${o_ext4_clean:-} ${o_ext4_dirty:-}"

disk=$T/disk.img
truncate -s 2G "$disk"
for name in "${names[@]}"; do echo "size=$(($(stat -c %s "$T/$name.img") / 1048576))M, type=linux"; done |
    sfdisk -q --label gpt "$disk" >/dev/null
i=0
for start in $(sfdisk -J "$disk" | python3 -c 'import json,sys; print(*(p["start"] for p in json.load(sys.stdin)["partitiontable"]["partitions"]))'); do
    dd if="$T/${names[$i]}.img" of="$disk" bs=1M seek=$((start / 2048)) conv=notrunc,sparse status=none
    i=$((i + 1))
done
before=$(hash_of "$disk")
bare_before=$(hash_of "$T/ext4-dirty.img")
# One inventory each (libguestfs looks for Linux on the XFS volumes);
# check reads the configurations it wrote.
"$P2V" inventory --source "$disk" -o "$T/disk.xml" 2>"$T/disk.err"
check_eq "inventory of the disk exits 0" 0 $?
"$P2V" check --json --config "$T/disk.xml" >"$T/disk.json" 2>/dev/null
r=$(python3 -c 'import json,sys; r=[x for x in json.load(open(sys.argv[1]))["results"] if x["id"]=="fs-state"][0]; print(r["status"] + "|" + r["message"] + "|" + r["severity"])' "$T/disk.json")
check_eq "fs-state fails, a warning" "fail warning" "$(cut -d'|' -f1 <<<"$r") $(cut -d'|' -f3 <<<"$r")"
check_eq "it names exactly the partitions the filesystems' tools call unclean" "$want" \
    "$(cut -d'|' -f2 <<<"$r" | sed 's/ not unmounted cleanly.*//')"
got='' exp=''
for i in $(seq 1 "$n"); do
    name=${names[$((i - 1))]}
    got+="$name=$(xmllint --xpath "string(//disk[1]/table/partition[$i]/filesystem/@state)" "$T/disk.xml" 2>/dev/null) "
    exp+="$name=$(oracle "$name" "${name%%-*}") "
done
check_eq "inventory: each partition's state" "$exp" "$got"

# A bare volume: the whole disk is the filesystem.
"$P2V" inventory --source "$T/ext4-dirty.img" -o "$T/bare.xml" 2>/dev/null
"$P2V" check --json --config "$T/bare.xml" >"$T/bare.json" 2>/dev/null
r=$(python3 -c 'import json,sys; r=[x for x in json.load(open(sys.argv[1]))["results"] if x["id"]=="fs-state"][0]; print(r["status"], r["message"])' "$T/bare.json")
check_eq "a bare unclean ext4 volume: fs-state fails" fail "${r%% *}"
case $r in *"the ext4 volume ext4-dirty.img not unmounted"*) ok "  and names the volume" ;; *) bad "bare message: $r" ;; esac

check_eq "the disk was not written" "$before" "$(hash_of "$disk")"
check_eq "the bare volume was not written" "$bare_before" "$(hash_of "$T/ext4-dirty.img")"
finish
