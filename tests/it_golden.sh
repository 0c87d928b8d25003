#!/bin/bash
# Byte-identical outputs across changes of the code: a fixed set of sources,
# built reproducibly (fixed clock through faketime, fixed UUIDs and seeds),
# placed at fixed paths (the image identity hashes a file's canonical path
# and mtime), mounted and queried with a fixed set of options.  The SHA-256
# of every image file, partition file, report, command output and committed
# file is compared with tests/golden/sha256s, which was taken with the code
# as it was before a restructuring.
#
#   tests/it_golden.sh            compare (part of make check)
#   tests/it_golden.sh --record   write tests/golden/sha256s anew: only when a
#                                 change is meant to change output bytes, and
#                                 the commit says which and why
#
# The fixed paths live under /mnt, on a tmpfs mounted in a private mount
# namespace of this script's own (unshare -m), so nothing outside sees them
# and nothing outside can plant files there.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -z "${P2V_GOLDEN_NS:-}" ]; then
    P2V_GOLDEN_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
. "$HERE/lib.sh"
cd "$HERE/.."

RECORD=0
[ "${1:-}" = --record ] && RECORD=1
GOLDEN=$HERE/golden/sha256s
export TZ=UTC LC_ALL=C
umask 022
CLOCK='2024-01-01 00:00:00'
fixed() { faketime -f "$CLOCK" "$@"; }
EXTU=5b0a1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d

if ! command -v faketime >/dev/null; then
    bad "faketime is not installed (make deps installs it)"; finish; exit
fi
G=/mnt/p2v-golden
mount -t tmpfs -o mode=0700 p2v-golden /mnt || { bad "tmpfs on /mnt in a private namespace"; finish; exit; }
mkdir -p "$G/src" "$G/mnt" "$G/state" "$G/out" "$G/dest"
RESULTS=$T/results
: >"$RESULTS"
# put NAME FILE: records FILE's hash under NAME.
put() {
    if [ -f "$2" ]; then echo "$(hash_of "$2")  $1" >>"$RESULTS"
    else echo "MISSING  $1" >>"$RESULTS"; fi
}
# out NAME command...: records the command's stdout and exit status.
out() {
    local name=$1 rc; shift
    "$@" >"$G/out/$name" 2>"$G/out/$name.err"; rc=$?
    { echo "exit $rc"; echo "stderr:"; cat "$G/out/$name.err"; } >>"$G/out/$name"
    put "out/$name" "$G/out/$name"
}
SOURCES=()
# place NAME BUILT: moves a built source to its fixed path and fixed mtime.
place() {
    mv "$2" "$G/src/$1" && touch -d @1700000000 "$G/src/$1" && SOURCES+=("$G/src/$1")
    put "src/$1" "$G/src/$1"
}

# --- Sources -----------------------------------------------------------------
B=$T/build
mkdir -p "$B"
# ext_settle IMG[?offset=N]: mke2fs -d copies each file's times, which the
# kernel set by its own clock: make them fixed on every inode in use, and
# the hash seed too.
ext_settle() {
    local n
    for n in $(seq 1 256); do echo "testi <$n>"; done | debugfs -f - "$1" 2>/dev/null |
        sed -n 's/^Inode \([0-9]*\) is marked in use$/\1/p' | while read -r n; do
            for f in atime ctime mtime; do echo "sif <$n> $f @1600000000"; echo "sif <$n> ${f}_extra 0"; done
        done >"$B/sif"
    echo "ssv hash_seed $EXTU" >>"$B/sif"
    fixed debugfs -w -f "$B/sif" "$1" >/dev/null 2>&1
}
fixed bash tests/mkwinfixture.sh "$B/win7.img" --size 48 2>"$B/log" && place win7.img "$B/win7.img"
fixed bash tests/mkwinfixture.sh "$B/win8.img" --win8 --size 40 2>"$B/log" && place win8.img "$B/win8.img"
fixed bash tests/mkwinfixture.sh "$B/hiber.img" --hiberfil --size 24 2>"$B/log" && place hiber.img "$B/hiber.img"
fixed bash tests/mklinuxfixture.sh "$B/linux.img" --size 40 2>"$B/log" &&
    ext_settle "$B/linux.img?offset=1048576" && place linux.img "$B/linux.img"
fixed bash tests/mkefidisk.sh "$B/efi.img" 48 >"$B/log" 2>&1 && place efi.img "$B/efi.img"
fixed bash tests/mkbootdisk.sh "$B/boot.img" 24 >"$B/log" 2>&1 && place boot.img "$B/boot.img"
make_mixed "$B/mixed.raw" 24 7 && place mixed.raw "$B/mixed.raw"

# A bare ext4 volume and a bare NTFS volume (no table: wrapped by p2v).
mkdir -p "$B/tree/dir" && echo 'golden file' >"$B/tree/dir/a.txt" && head -c 300000 /dev/zero | tr '\0' 'x' >"$B/tree/b.bin"
# The volumes are made over a byte pattern, not zeros (no discard, quick
# format), so their free space holds "deleted data" that p2v must not show.
garbage() { head -c "$(($2 << 20))" /dev/zero | tr '\0' '\132' >"$1"; }
mkext() {  # mkext FILE MiB LABEL
    # Reading the tree moves its atimes (to the kernel's clock): set them anew.
    touch -d @1600000000 "$B/tree/dir/a.txt" "$B/tree/b.bin" "$B/tree/dir" "$B/tree"
    garbage "$1" "$2" &&
        fixed mkfs.ext4 -q -F -b 4096 -U "$EXTU" -E "root_owner=0:0,hash_seed=$EXTU,nodiscard" \
            -L "$3" -d "$B/tree" "$1" && ext_settle "$1"
}
mkntfsvol() {  # mkntfsvol FILE MiB LABEL START_SECTOR
    garbage "$1" "$2" && fixed mkntfs -q -F -Q -T -L "$3" -s 512 -p "$4" -H 255 -S 63 "$1" >/dev/null 2>&1
}
mkext "$B/bare-ext.img" 24 BAREEXT && place bare-ext.img "$B/bare-ext.img"
mkntfsvol "$B/bare-ntfs.img" 20 BARENTFS 0 && place bare-ntfs.img "$B/bare-ntfs.img"

# Disks with several partitions: MBR with an extended partition (NTFS, ext4,
# swap in a logical one) and GPT (ext4, NTFS, swap).
mkswapvol() { truncate -s "$2M" "$1" && mkswap -q -U 11111111-2222-4333-8444-555555555555 -L SW "$1" >/dev/null; }
mkmulti() {  # mkmulti OUT dos|gpt
    local out=$1 label=$2
    truncate -s 64M "$out"
    if [ "$label" = dos ]; then
        printf 'label: dos\nlabel-id: 0x600dd15c\nstart=2048, size=20480, type=7, bootable\nstart=22528, size=24576, type=83\nstart=47104, type=5\nstart=49152, size=8192, type=82\n' | sfdisk -q "$out"
    else
        printf 'label: gpt\nlabel-id: 0E0D0C0B-0A09-4807-8605-040302010000\nfirst-lba: 2048\nstart=2048, size=24576, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=11111111-1111-4111-8111-111111111111\nstart=26624, size=20480, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, uuid=22222222-2222-4222-8222-222222222222\nstart=47104, size=8192, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, uuid=33333333-3333-4333-8333-333333333333\n' | sfdisk -q "$out"
    fi || return 1
    local p s
    while read -r p s; do  # each partition's filesystem is made in a file, then copied in
        local n=${p##*[!0-9]} f=$B/part
        local start size type
        start=$(sfdisk -d "$out" | sed -n "s|^$p : start= *\([0-9]*\).*|\1|p")
        size=$(sfdisk -d "$out" | sed -n "s|^$p : .*size= *\([0-9]*\).*|\1|p")
        rm -f "$f"
        case $s in
            ntfs) mkntfsvol "$f" $((size / 2048)) "NT$n" "$start" ;;
            ext4) mkext "$f" $((size / 2048)) "EXT$n" ;;
            swap) mkswapvol "$f" $((size / 2048)) ;;
        esac || return 1
        dd if="$f" of="$out" bs=512 seek="$start" conv=notrunc status=none || return 1
    done < <(if [ "$label" = dos ]; then printf '%s\n' "$out""1 ntfs" "$out""2 ext4" "$out""5 swap"
             else printf '%s\n' "$out""1 ext4" "$out""2 ntfs" "$out""3 swap"; fi)
}
mkmulti "$B/multi-mbr.img" dos && place multi-mbr.img "$B/multi-mbr.img"
mkmulti "$B/multi-gpt.img" gpt && place multi-gpt.img "$B/multi-gpt.img"

# V2V sources: VHD and VHDX files made by qemu-img from the mixed disk, and a
# differencing VHD over the dynamic one.  Their headers carry random UUIDs,
# which p2v does not show; what it shows is the disk they hold.
qemu-img convert -f raw -O vpc -o subformat=dynamic "$G/src/mixed.raw" "$B/in.vhd" &&
    touch -d @1700000000 "$B/in.vhd" && mv "$B/in.vhd" "$G/src/in.vhd" && SOURCES+=("$G/src/in.vhd")
qemu-img convert -f raw -O vhdx "$G/src/mixed.raw" "$B/in.vhdx" &&
    touch -d @1700000000 "$B/in.vhdx" && mv "$B/in.vhdx" "$G/src/in.vhdx" && SOURCES+=("$G/src/in.vhdx")
python3 tests/mkdiffvhd.py "$G/src/in.vhd" "$G/src/child.vhd" --seed 5 >/dev/null &&
    touch -d @1700000000 "$G/src/child.vhd" && SOURCES+=("$G/src/child.vhd")

declare -A BEFORE
for s in "${SOURCES[@]}"; do BEFORE[$s]=$(hash_of "$s"); done

# --- Views -------------------------------------------------------------------
M=$G/mnt/view
# view NAME SOURCE [OPTIONS]: mounts, records every file of the view, unmounts.
view() {
    local name=$1 src=$2 f; shift 2
    if ! p2v_mount "$src" "$M" "$@" 2>"$G/out/$name.mount.err"; then
        echo "MOUNT-FAILED  view/$name" >>"$RESULTS"; return
    fi
    for f in disk.vhd disk.vhdx disk.raw fixups.json status.json; do
        [ -e "$M/$f" ] && put "view/$name/$f" "$M/$f"
    done
    if [ -d "$M/partitions" ]; then
        for f in "$M"/partitions/*; do put "view/$name/partitions/${f##*/}" "$f"; done
    fi
    p2v_umount "$M"
}
S=$G/src
view win7 "$S/win7.img"
view win7-fixed "$S/win7.img" -t fixed
view win7-vhdx "$S/win7.img" --format vhdx
view win7-vhdx-1m "$S/win7.img" --format vhdx --block-size 1M
view win7-vhdx-fixed "$S/win7.img" --format vhdx -t fixed
view win7-keepfree "$S/win7.img" --keep-free-space
view win8 "$S/win8.img"
view hiber-force "$S/hiber.img" --force
view hiber-pagefile "$S/hiber.img" --force --keep-pagefile
view linux "$S/linux.img"
view efi "$S/efi.img"
view efi-vhd "$S/efi.img" --format vhd
view boot "$S/boot.img"
view mixed "$S/mixed.raw"
view mixed-fixed "$S/mixed.raw" -t fixed
view mixed-vhdx-256m "$S/mixed.raw" --format vhdx --block-size 256M
view bare-ext "$S/bare-ext.img" --volume
view bare-ext-gpt "$S/bare-ext.img" --volume --gpt
view bare-ext-offset "$S/bare-ext.img" --volume --offset 2097152 --disk-signature 0xdeadbeef
view bare-ntfs "$S/bare-ntfs.img" --volume
view bare-ntfs-vhdx "$S/bare-ntfs.img" --volume --format vhdx
view multi-mbr "$S/multi-mbr.img"
view multi-mbr-v1 "$S/multi-mbr.img" --volumes 1
view multi-mbr-v2-drop "$S/multi-mbr.img" --volumes 2 --drop-unselected
view multi-gpt "$S/multi-gpt.img"
view multi-gpt-v2-drop "$S/multi-gpt.img" --volumes 2 --drop-unselected
view in-vhd "$S/in.vhd"
view in-vhdx "$S/in.vhdx"
view mixed-raw-format "$S/mixed.raw" --source-format raw --bad-sectors zero
view child-vhd "$S/child.vhd"

# Block devices: their identity is the loop device's backing file, the
# size, the allocation and the first and last MiB.  The loop device gets a
# node at a fixed path (its own name depends on which one is free).  One
# with 4096-byte sectors (a VHDX by default); fixed images of them pass the
# extents of the layers below through (the allocation is folded into the
# identity).
LOOPS=()
trap 'cleanup; for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done' EXIT
blockdev() {  # blockdev NAME FILE [losetup options]: $G/dev/NAME
    local name=$1 file=$2 loop; shift 2
    loop=$(losetup -f --show -r "$@" "$file" 2>/dev/null) || return 1
    LOOPS+=("$loop")
    mkdir -p "$G/dev" && mknod "$G/dev/$name" b $((0x$(stat -c %t "$loop"))) $((0x$(stat -c %T "$loop")))
}
if blockdev mixed4k "$S/mixed.raw" -b 4096 && blockdev multi "$S/multi-mbr.img"; then
    view loop-4k "$G/dev/mixed4k"
    view loop-multi "$G/dev/multi"
    view loop-multi-fixed "$G/dev/multi" -t fixed
    view loop-multi-fixed-vhdx "$G/dev/multi" -t fixed --format vhdx
    out info-json-loop-multi "$P2V" info -q --json "$G/dev/multi"
else
    echo "  note: no loop device here; the block device cases are left out"
    echo "SKIPPED  view/loop" >>"$RESULTS"
fi

# --- Fix-ups -----------------------------------------------------------------
# The fix-up record dates each apply: SOURCE_DATE_EPOCH (which nothing else
# in p2v reads) makes the date the same on every run.  Exported from here
# on only, so the tools that built the sources above never saw it.
export SOURCE_DATE_EPOCH=1700000000
P=$G/plans
mkdir -p "$P/drivers"
make_driver "$P/drivers/viostor.sys" x86_64 'golden viostor'
make_driver "$P/storahci.sys" x86_64 'golden storahci'
printf '[Version]\r\nSignature="$Windows NT$"\r\nClass=SCSIAdapter\r\n' >"$P/drivers/viostor.inf"
echo 'golden note' >"$P/note.txt"
printf '@echo off\r\necho golden\r\n' >"$P/first.cmd"
touch -d @1600000000 "$P"/drivers/* "$P"/note.txt "$P"/first.cmd "$P"/storahci.sys
for w in win7 win8; do
    for t in virtio qemu-sata qemu-ide hyperv; do
        out "plan-$w-$t" "$P2V" fixup plan --target "$t" "$S/$w.img"
    done
    plan=$P/$w.plan
    "$P2V" fixup plan --target virtio "$S/$w.img" >"$plan"
    cat >>"$plan" <<'PLAN'
file-put storahci.sys %SystemRoot%\System32\drivers\storahci.sys
enable-driver storahci
disable-service intelide
reg-set HKLM\SOFTWARE\P2V\Golden Hello sz "hello world"
reg-set HKLM\SYSTEM\CurrentControlSet\Services\atapi Extra multi one "two words"
reg-set HKLM\SYSTEM\CurrentControlSet\Services\atapi Bin binary 0102ff
reg-set HKLM\SYSTEM\CurrentControlSet\Services\atapi Q qword 0x1122334455667788
reg-delete HKLM\SYSTEM\CurrentControlSet\Services\vm3dmp
file-put note.txt %SystemRoot%\p2v\note.txt
file-delete /hello.txt
firstboot first.cmd
PLAN
    out "apply-dry-$w" "$P2V" fixup apply --state "$G/state/$w" --plan "$plan" --dry-run --json "$S/$w.img"
    out "apply-$w" "$P2V" fixup apply --state "$G/state/$w" --plan "$plan" --json "$S/$w.img"
    out "apply-again-$w" "$P2V" fixup apply --state "$G/state/$w" --plan "$plan" "$S/$w.img"
    put "state/$w/fixups.json" "$G/state/$w/fixups.json"
    view "$w-fixed-up" "$S/$w.img" --state "$G/state/$w"
    view "$w-fixed-up-vhdx" "$S/$w.img" --state "$G/state/$w" --format vhdx
    out "inspect-state-$w" "$P2V" inspect --json --state "$G/state/$w" "$S/$w.img"
done
# A fixed-up block device, fixed: the overlay's blocks are data among the
# layout's extents.
if blockdev win7 "$S/win7.img"; then
    out apply-loop-win7 "$P2V" fixup apply --state "$G/state/loop" --plan "$P/win7.plan" --json "$G/dev/win7"
    view loop-win7-fixed-up-fixed "$G/dev/win7" --state "$G/state/loop" -t fixed
    view loop-win7-fixed-up "$G/dev/win7" --state "$G/state/loop"
fi
for l in "${LOOPS[@]}"; do losetup -d "$l"; done
LOOPS=()
# The report of a mounted view, and the snapshots (none here).
if p2v_mount "$S/multi-gpt.img" "$M" --volumes 1 2>"$G/out/report.mount.err"; then
    out info-mounted "$P2V" info "$M"
    out info-json-mounted "$P2V" info --json "$M"
    p2v_umount "$M"
fi
out snapshot-list "$P2V" snapshot list
out snapshot-list-json "$P2V" snapshot list --json

# --- Reports and machine facts -------------------------------------------------
for s in win7 win8 hiber linux efi boot mixed.raw multi-mbr multi-gpt in.vhd child.vhd; do
    src=$S/$s; [ -e "$src" ] || src=$S/$s.img
    out "info-$s" "$P2V" info -q "$src"
    out "info-json-$s" "$P2V" info -q --json "$src"
    out "inspect-$s" "$P2V" inspect --json "$src"
    out "inventory-$s" "$P2V" inventory --source "$src"
    out "inventory-json-$s" "$P2V" inventory --json --source "$src"
    out "check-$s" "$P2V" check "$src"
    for t in virtio hyperv; do out "check-json-$s-$t" "$P2V" check --json --target "$t" "$src"; done
done
out info-bare-ext "$P2V" info -q --json --volume "$S/bare-ext.img"
out info-bare-ntfs-gpt "$P2V" info -q --json --volume --gpt "$S/bare-ntfs.img"
out info-multi-v1-drop "$P2V" info -q --json --volumes 1 --drop-unselected "$S/multi-mbr.img"
out info-fixed-vhdx "$P2V" info -q --json -t fixed --format vhdx --block-size 2M "$S/mixed.raw"
out check-state-win7 "$P2V" check --json --state "$G/state/win7" "$S/win7.img"
out check-gen2-efi "$P2V" check --json --target hyperv --generation 2 "$S/efi.img"
out check-vhd-efi "$P2V" check --json --format vhd "$S/efi.img"
out inventory-state-win8 "$P2V" inventory --json --source "$S/win8.img" --state "$G/state/win8"
out inventory-schema "$P2V" inventory --schema
out batch-schema "$P2V" batch --schema
"$P2V" inventory --source "$S/win8.img" >"$G/out/win8.xml" 2>/dev/null
for f in libvirt hyperv qemu; do
    out "vm-$f-config" "$P2V" vm create --format "$f" --config "$G/out/win8.xml" --name golden \
        --disk-path /var/lib/p2v/golden.vhd "$S/win8.img"
done
out vm-qemu-uefi "$P2V" vm create --format qemu --firmware uefi --memory 2048 --vcpus 3 \
    --target qemu-sata --disk-mode overlay "$S/efi.img"
if p2v_mount "$S/efi.img" "$M" 2>"$G/out/vm.mount.err"; then
    for f in libvirt hyperv qemu; do out "vm-$f-efi-view" "$P2V" vm create --format "$f" "$M/disk.vhdx"; done
    out vm-hyperv-gen2 "$P2V" vm create --format hyperv --generation 2 --network lan "$M/disk.vhdx"
    p2v_umount "$M"
else
    echo "MOUNT-FAILED  vm/efi" >>"$RESULTS"
fi

# --- A commit of a fixed-up view ---------------------------------------------
if p2v_mount "$S/win7.img" "$M" --state "$G/state/win7" 2>"$G/out/commit.mount.err"; then
    out commit-win7 "$P2V" commit -q --json --name golden "$M" "$G/dest/win7"
    for f in "$G"/dest/win7/*; do put "commit/win7/${f##*/}" "$f"; done
    p2v_umount "$M"
else
    echo "MOUNT-FAILED  commit/win7" >>"$RESULTS"
fi

# --- Compare -------------------------------------------------------------------
for s in "${SOURCES[@]}"; do
    check_eq "source ${s##*/} unchanged by p2v" "${BEFORE[$s]}" "$(hash_of "$s")"
done
sort -k2 "$RESULTS" -o "$RESULTS"
if ((RECORD)); then
    mkdir -p "$(dirname "$GOLDEN")"
    cp "$RESULTS" "$GOLDEN"
    ok "recorded $(wc -l <"$RESULTS") hashes in ${GOLDEN#$PWD/}"
elif [ ! -f "$GOLDEN" ]; then
    bad "no golden hashes at $GOLDEN (tests/it_golden.sh --record)"
else
    n=$(wc -l <"$GOLDEN")
    if diff -u "$GOLDEN" "$RESULTS" >"$T/diff"; then
        ok "all $n outputs byte-identical to the golden hashes"
    else
        bad "outputs differ from the golden hashes (- golden, + now):"
        grep '^[-+][^-+]' "$T/diff" | sed 's/^/       | /'
        # Sources first: if they differ, the tools that built them changed.
        if grep -q '^[-+][^ ]*  src/' "$T/diff"; then
            echo "       sources differ: mkntfs, mke2fs or qemu-img build other bytes here" \
                 "than where the hashes were taken; the comparison says nothing about p2v"
        fi
        for f in $(grep '^+[^+]' "$T/diff" | awk '{print $2}' | grep '^out/'); do
            echo "       --- $f:"; head -c 2000 "$G/$f" | sed 's/^/       | /'
        done
    fi
fi
# P2V_GOLDEN_KEEP=DIR keeps the outputs for a look (a new directory).
[ -n "${P2V_GOLDEN_KEEP:-}" ] && mkdir "$P2V_GOLDEN_KEEP" && cp -a "$G/out" "$G/state" "$P2V_GOLDEN_KEEP/"
finish
