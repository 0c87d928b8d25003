#!/bin/bash
# Deleted data in NTFS metadata and slack (issue 20, NTFS acceptance;
# docs/scrub-design.md §1, §6 item 2).  Through ntfs-3g, on NTFS with 4 KiB
# clusters, 64 KiB clusters and 4096-byte sectors (4 KiB MFT records):
# small resident files with markers, deleted; resident files shrunk (the
# rest left in the record's slack), overwritten past resident size (the
# old value left in the record), grown and truncated; a file truncated
# inside its last cluster (file slack); a directory of 160 long names,
# renamed and removed with everything under it; a directory of 300 long
# names thinned to 10; a marker planted in the body of $LogFile (ntfs-3g
# never journals, and the log stays "empty" to ntfs-3g and p2v).  No
# deleted marker (ASCII, or UTF-16LE for names) is in disk.raw, disk.vhd,
# disk.vhdx or partitions/1.raw while the kept ones are; the view's volume
# passes ntfsfix -n and ntfsinfo -m, reads back as the source (diff -r),
# takes a read-write ntfs-3g session and passes ntfsfix -n again; every
# free MFT record is mkntfs's bare free record (masked: sequence number,
# record number, update sequence words) with its sequence number kept;
# $LogFile reads as all 0xFF; info --json counts each kind;
# --keep-free-space keeps every byte; the source is unchanged.
. "$(dirname "$0")/lib.sh"

for tool in mkntfs ntfs-3g ntfsfix ntfsinfo ntfscat sfdisk losetup; do
    command -v "$tool" >/dev/null 2>&1 || { echo "  skip: $tool is missing"; finish; exit; }
done
if ! losetup -f >/dev/null 2>&1; then
    echo "  skip: no loop devices available here"; finish; exit
fi
# ntfs-3g on a loop device mounts as fuseblk, whose umount returns only
# once ntfs-3g has let go of the volume (on a plain file umount does not
# wait): every read-write session goes through one.
LOOP=''   # the session's loop device while it is attached
trap 'cleanup; [ -z "$LOOP" ] || losetup -d "$LOOP" 2>/dev/null' EXIT
m=$T/m m2=$T/m2
mkdir -p "$m" "$m2" "$T/v"
MOUNTS+=("$m" "$m2")

# ntfs_rw PART SCRIPT ARGS...: a read-write ntfs-3g session over PART that
# runs $T/work.py SCRIPT ARGS with the mount point first.
ntfs_rw() {
    local part=$1 rc; shift
    LOOP=$(losetup -f --show "$part") || { LOOP=''; return 1; }
    ntfs-3g "$LOOP" "$m" || { losetup -d "$LOOP" && LOOP=''; return 1; }
    python3 "$T/work.py" "$m" "$@"; rc=$?
    umount "$m" && losetup -d "$LOOP" && LOOP='' || rc=1
    return $rc
}

rw_then_fix() { ntfs_rw "$1" rw && ntfsfix -n "$1"; }

cat >"$T/work.py" <<'PY'
# The writes, through ntfs-3g: work.py MNT create INOS | delete | rw.
import os, shutil, sys
m, what = sys.argv[1], sys.argv[2]
def put(path, data, mode='w'):
    with open(path, mode) as f:
        f.write(data)
def rep(text, n):
    return (text * (n // len(text) + 1))[:n]
DIRA = m + '/P2VDEL-DIRA-a-directory-with-a-long-name-renamed-then-removed'
DIRB = m + '/P2VDEL-DIRB-the-same-directory-under-its-second-long-name'
THIN = m + '/thinned-directory-with-P2VKEEP-THINDIR-in-its-name'
def thin(i):
    if i % 30 == 0:
        return f'{THIN}/P2VKEEP-THIN-{i:04d}-a-long-name-kept-in-the-thinned-directory.txt'
    return f'{THIN}/P2VDEL-THIN-{i:04d}-a-long-name-deleted-from-the-thinned-directory.txt'
if what == 'create':
    inos = []
    for i in range(60):     # resident, deleted later
        p = f'{m}/P2VDEL-RESNAME-{i:03d}-resident.txt'
        put(p, rep(f'P2VDEL-RESDATA-{i:03d} ', 400))
        inos.append(os.stat(p).st_ino)
    for i in range(20):     # resident, shrunk to 9 bytes later: 7 bytes of padding
        put(f'{m}/shrink{i:02d}.txt', f'keep{i:02d}shr' + rep(f'P2VDEL-SHR-{i:02d} ', 591))
    for i in range(20):     # resident, overwritten past resident size later
        put(f'{m}/growover{i:02d}.txt', rep(f'P2VDEL-GRR-{i:02d} ', 500))
    for i in range(20):     # resident, grown with markers then truncated later
        put(f'{m}/growtrunc{i:02d}.txt', 'h' * 300)
    for i in range(10):     # 8000 bytes, truncated to 4100 later
        put(f'{m}/slack{i}.bin', 's' * 4104 + rep(f'P2VDEL-SLK-{i:02d} ', 8000 - 4104))
    os.mkdir(DIRA)
    os.mkdir(DIRA + '/P2VDEL-SUBDIR-a-subdirectory-with-a-long-name-too')
    for i in range(160):
        put(f'{DIRA}/P2VDEL-DIRENT-{i:04d}-a-long-file-name-inside-the-deleted-directory.txt', 'd')
    for i in range(12):
        put(f'{DIRA}/P2VDEL-SUBDIR-a-subdirectory-with-a-long-name-too/P2VDEL-SUBENT-{i:02d}-x.txt',
            rep(f'P2VDEL-SUBDATA-{i:02d} ', 200))
    os.mkdir(THIN)
    for i in range(300):
        put(thin(i), '')
    for i in range(8):
        put(f'{m}/P2VKEEP-NAME-kept-resident-file-{i:02d}.txt', rep(f'P2VKEEP-FILE-{i:02d} ', 200))
    put(f'{m}/P2VKEEP-NAME-kept-big-file.bin', rep('P2VKEEP-FILE-BIG ', 20000))
    put(sys.argv[3], ''.join(f'{n}\n' for n in inos))
elif what == 'delete':
    for i in range(60):
        os.unlink(f'{m}/P2VDEL-RESNAME-{i:03d}-resident.txt')
    for i in range(20):
        os.truncate(f'{m}/shrink{i:02d}.txt', 9)
    for i in range(20):
        with open(f'{m}/growover{i:02d}.txt', 'r+') as f:
            f.write('g' * 9000)
    for i in range(20):
        put(f'{m}/growtrunc{i:02d}.txt', rep(f'P2VDEL-GRT-{i:02d} ', 8000), 'a')
        os.truncate(f'{m}/growtrunc{i:02d}.txt', 300)
    for i in range(10):
        os.truncate(f'{m}/slack{i}.bin', 4100)
    os.rename(DIRA, DIRB)
    shutil.rmtree(DIRB)
    for i in range(300):
        if i % 30:
            os.unlink(thin(i))
elif what == 'rw':          # 500 new files, 100 in the thinned directory; 200 deleted
    os.mkdir(m + '/new')
    for i in range(500):
        d = THIN if i % 5 == 0 else m + '/new'
        put(f'{d}/a-new-file-written-to-the-view-{i:04d}.txt', 'n' * (i * 37 % 3000))
    for i in range(0, 500, 5):
        os.unlink(f'{THIN}/a-new-file-written-to-the-view-{i:04d}.txt')
    for i in range(1, 500, 5):
        os.unlink(f'{m}/new/a-new-file-written-to-the-view-{i:04d}.txt')
PY

cat >"$T/ntfs.py" <<'PY'
# Reads NTFS structures straight from an image (independent of p2v):
#   ntfs.py scan FILE                     markers: "DEL details" / "KEEP ascii utf16"
#   ntfs.py plant-log PART                marker strings into $LogFile's body
#   ntfs.py rec PART N                    raw MFT record N on stdout
#   ntfs.py free VIEW SOURCE PRISTINE INOS  the free-record checks, as shell words
import re, struct, sys

def scan(path):
    data = open(path, 'rb').read()
    out = {}
    for kind in ('DEL', 'KEEP'):
        for enc, width in (('ascii', 1), ('utf16', 2)):
            pre = f'P2V{kind}-'.encode('utf-16-le' if width == 2 else 'ascii')
            cat = re.compile(b'((?:[A-Z]\x00)+)' if width == 2 else b'([A-Z]+)')
            pos = data.find(pre)
            while pos >= 0:
                mt = cat.match(data, pos + len(pre))
                name = mt.group(1)[::width].decode() if mt else '?'
                key = (kind, name + ('/u16' if width == 2 else ''), enc)
                out[key] = out.get(key, 0) + 1
                pos = data.find(pre, pos + 1)
    dels = ' '.join(f'{k[1]}:{v}' for k, v in sorted(out.items()) if k[0] == 'DEL') or 'none'
    ka = sum(v for k, v in out.items() if k[0] == 'KEEP' and k[2] == 'ascii')
    ku = sum(v for k, v in out.items() if k[0] == 'KEEP' and k[2] == 'utf16')
    print(dels)
    print(ka, ku)

class Vol:
    def __init__(self, path, mode='rb'):
        self.f = open(path, mode)
        b = self.f.read(512)
        bps, spc = struct.unpack_from('<HB', b, 0x0b)
        if spc > 0x80:
            spc = 1 << (256 - spc)
        self.cs = bps * spc
        lcn = struct.unpack_from('<Q', b, 0x30)[0]
        c = struct.unpack_from('<b', b, 0x40)[0]
        self.rs = c * self.cs if c > 0 else 1 << -c
        self.f.seek(lcn * self.cs)
        rec0 = self.f.read(self.rs)
        self.mft = self.attr(rec0, 0x80)
        self.mft_runs = self.runs(self.mft)
        self.nrec = struct.unpack_from('<Q', self.mft, 0x38)[0] // self.rs  # initialized
        self.bitmap = self.value(self.attr(rec0, 0xB0))
    @staticmethod
    def fixup(rec):
        r = bytearray(rec)
        uo, uc = struct.unpack_from('<HH', r, 4)
        for i in range(1, uc):
            r[i * 512 - 2:i * 512] = r[uo + 2 * i:uo + 2 * i + 2]
        return r
    def attr(self, rec, t):      # the first unnamed attribute of type t
        r = self.fixup(rec)
        off = struct.unpack_from('<H', r, 0x14)[0]
        while off + 16 <= len(r):
            typ, ln = struct.unpack_from('<II', r, off)
            if typ == 0xFFFFFFFF or ln == 0:
                break
            if typ == t and r[off + 9] == 0:
                return bytes(r[off:off + ln])
            off += ln
        raise SystemExit(f'no attribute {t:#x}')
    @staticmethod
    def runs(a):
        p, lcn, out = struct.unpack_from('<H', a, 0x20)[0], 0, []
        while a[p]:
            nl, ol = a[p] & 15, a[p] >> 4
            n = int.from_bytes(a[p + 1:p + 1 + nl], 'little')
            lcn += int.from_bytes(a[p + 1 + nl:p + 1 + nl + ol], 'little', signed=True)
            out.append((lcn, n))
            p += 1 + nl + ol
        return out
    def pos(self, runs, off):    # byte offset in the volume of byte off of an attribute
        vcn = off // self.cs
        for lcn, n in runs:
            if vcn < n:
                return (lcn + vcn) * self.cs + off % self.cs
            vcn -= n
        raise SystemExit(f'offset {off} past the runlist')
    def read(self, runs, off, n):
        out = b''
        while n:
            k = min(n, self.cs - off % self.cs)
            self.f.seek(self.pos(runs, off))
            out += self.f.read(k)
            off, n = off + k, n - k
        return out
    def value(self, a):
        if a[8] == 0:
            ln, vo = struct.unpack_from('<IH', a, 0x10)
            return a[vo:vo + ln]
        return self.read(self.runs(a), 0, struct.unpack_from('<Q', a, 0x30)[0])
    def rec(self, n):
        return self.read(self.mft_runs, n * self.rs, self.rs)
    def in_use(self, n):
        return bool(self.bitmap[n // 8] >> (n % 8) & 1)

def masked(r):
    r = bytearray(r)
    r[0x10:0x12] = bytes(2)          # sequence number
    r[0x2C:0x30] = bytes(4)          # record number (mkntfs writes 0)
    uo = struct.unpack_from('<H', r, 4)[0]
    r[uo:uo + 2] = bytes(2)          # update sequence number
    for i in range(512, len(r) + 1, 512):
        r[i - 2:i] = bytes(2)        # its copies at the end of every 512 bytes
    return bytes(r)

def has_marker(r):
    return b'P2VDEL-' in r or 'P2VDEL-'.encode('utf-16-le') in r

cmd = sys.argv[1]
if cmd == 'scan':
    scan(sys.argv[2])
elif cmd == 'rec':
    sys.stdout.buffer.write(Vol(sys.argv[2]).rec(int(sys.argv[3])))
elif cmd == 'plant-log':
    # $LogFile's data: ntfs-3g's emptiness test (logfile.c) reads the first
    # four bytes at 0 and every power of two from 512 on; these offsets
    # avoid them, so the log stays "empty" and the volume clean.
    v = Vol(sys.argv[2], 'r+b')
    a = v.attr(v.rec(2), 0x80)
    size = struct.unpack_from('<Q', a, 0x30)[0]
    runs = v.runs(a)
    for k, off in enumerate((12544, size // 2 + 300, size - 3000)):
        text = ''.join(f'P2VDEL-LOG-{k}{j:02d} ' for j in range(100)).encode()[:2000]
        for i in range(0, len(text), 512):   # piecewise: clusters may be 512 bytes apart
            chunk = text[i:i + 512]
            for j in range(len(chunk)):
                v.f.seek(v.pos(runs, off + i + j)); v.f.write(chunk[j:j + 1])
    print(size)
elif cmd == 'free':
    view, src = Vol(sys.argv[2]), Vol(sys.argv[3])
    pristine = masked(open(sys.argv[4], 'rb').read())
    inos = [int(x) for x in open(sys.argv[5]).read().split()]
    # The record of a deleted resident file, free in the bitmap.
    n = next((i for i in inos if i >= 27 and not view.in_use(i)), -1)
    words = {'n': n}
    if n >= 0:
        vr, sr = view.rec(n), src.rec(n)
        uo = struct.unpack_from('<H', sr, 4)[0]
        words.update(src_differs=int(masked(sr) != pristine), src_marker=int(has_marker(sr)),
                     view_pristine=int(masked(vr) == pristine),
                     seq_src=struct.unpack_from('<H', sr, 0x10)[0],
                     seq_view=struct.unpack_from('<H', vr, 0x10)[0],
                     usn_src=struct.unpack_from('<H', sr, uo)[0],
                     usn_view=struct.unpack_from('<H', vr, uo)[0])
    # Every free record from 27 within $MFT's initialized size.
    free = same = zero = 0
    other = []
    for i in range(27, view.nrec):
        if view.in_use(i):
            continue
        free += 1
        r = view.rec(i)
        if r.count(0) == len(r):
            zero += 1
        elif masked(r) == pristine:
            same += 1
        else:
            other.append(i)
    words.update(free=free, same=same, zero=zero, other=len(other),
                 first_other=other[0] if other else -1, nrec=view.nrec)
    print(' '.join(f'fr_{k}={v}' for k, v in words.items()))
PY

scan() { python3 "$T/ntfs.py" scan "$1"; }
# no_deleted FILE: no deleted marker in FILE (prints what was found).
no_deleted() {
    local d
    d=$(scan "$1" | sed -n 1p)
    [ "$d" = none ] || { echo "found: $d"; return 1; }
}
# kept_found FILE: the kept markers, ASCII (data) and UTF-16LE (names).
kept_found() {
    local a u
    read -r a u < <(scan "$1" | sed -n 2p)
    echo "kept markers: $a ASCII, $u UTF-16LE"
    [ "$a" -gt 0 ] && [ "$u" -gt 0 ]
}
# log_non_ff PART: how many bytes of $LogFile's data are not 0xFF.
log_non_ff() {
    ntfscat "$1" '$LogFile' 2>/dev/null | python3 -c 'import sys; d=sys.stdin.buffer.read(); print(len(d) - d.count(255) if d else "no log")'
}

# The bare free record mkntfs lays out, record 30 of a fresh volume whose
# $MFT fills its first cluster: 64 KiB clusters for 1 KiB records; for
# 4 KiB records (4096-byte sectors) 128 KiB clusters, as with 64 KiB
# clusters $MFT is 27 records of 4 KiB and records 27-31 are past its
# initialized size, all zeros.
make_ref() {  # make_ref OUT SECTOR: that record, checked to be a free FILE record
    local cl=65536
    [ "$2" = 4096 ] && cl=131072
    rm -f "$T/ref.img"
    truncate -s 16M "$T/ref.img"
    mkntfs -q -F -Q -L REF -s "$2" -c $cl "$T/ref.img" >/dev/null 2>&1 &&
        python3 "$T/ntfs.py" rec "$T/ref.img" 30 >"$1" && rm -f "$T/ref.img" || return 1
    head -c 4 "$1" | grep -q FILE && [ "$(od -An -tu2 -j22 -N2 "$1" | tr -d ' ')" = 0 ]
}

# make_disk NAME SECTOR CLUSTER: a 66 MiB disk, one 64 MiB NTFS partition.
make_disk() {
    local part=$T/$1.part disk=$T/$1.img
    truncate -s 64M "$part"
    mkntfs -q -F -Q -L SCRUBTEST -s "$2" -c "$3" -p $((2048 * 512 / $2)) "$part" >/dev/null 2>&1 &&
        ntfs_rw "$part" create "$T/$1.inos" && ntfs_rw "$part" delete || return 1
    # ntfs-3g leaves $LogFile as mkntfs made it, all 0xFF (it never
    # journals; the count is printed below, 0 on ntfs-3g 2022.10.3): without
    # the plant the 0xFF check could not fail, and logfile_bytes (the bytes
    # the fill changes) would rightly be 0.  The plant stands for the old
    # records a Windows log holds.
    log_non_ff "$part" >"$T/$1.log0"
    python3 "$T/ntfs.py" plant-log "$part" >/dev/null || return 1
    truncate -s 66M "$disk"
    printf 'label: dos\nstart=2048, size=%s, type=7\n' $((64 << 11)) | sfdisk -q "$disk" &&
        dd if="$part" of="$disk" bs=1M seek=1 conv=notrunc status=none
}

# num KEY: KEY's value in $sc (info --json), -1 when it is not a number.
num() {
    local x
    x=$(tr ' ' '\n' <<<"$sc" | sed -n "s/^$1=//p")
    [[ $x =~ ^[0-9]+$ || $x = True || $x = False ]] && echo "$x" || echo -1
}

for variant in c4k:512:4096 c64k:512:65536 s4k:4096:4096; do
    IFS=: read -r v sector cluster <<<"$variant"
    check "$v: the test disk is made (sectors $sector, clusters $cluster)" make_disk "$v" "$sector" "$cluster" || continue
    src=$T/$v.img part=$T/$v.part before=$(hash_of "$T/$v.img")
    echo "       ($v: \$LogFile after ntfs-3g's writes: $(cat "$T/$v.log0") bytes not 0xFF; markers planted)"
    check "$v: control: the reference free record is mkntfs's (FILE, not in use)" make_ref "$T/$v.ref" "$sector"
    # Every kind of deleted marker is in the source, so each can be missed
    # (the directory's first name is not: the rename overwrote it).
    found=$(scan "$src" | sed -n 1p)
    have=" $(tr ' ' '\n' <<<"$found" | cut -d: -f1 | tr '\n' ' ')" missing=''
    for k in DIRB/u16 DIRENT/u16 GRR GRT LOG RESDATA RESNAME/u16 SHR SLK SUBDATA SUBDIR/u16 SUBENT/u16 THIN/u16; do
        [[ $have == *" $k "* ]] || missing+=" $k"
    done
    check_eq "$v: control: the source holds every kind of deleted marker (missing:)" "" "$missing"
    echo "       (source: $found)"
    sc=$("$P2V" info --json -q "$src" | python3 -c '
import json, sys
f = json.load(sys.stdin)["partitions"][0]["filesystem"]
s = f.get("scrubbed", {})
keys = "mft_free_records mft_free_bytes mft_slack_bytes index_slack_bytes index_unused_bytes logfile_bytes file_slack_bytes skipped_units".split()
print(" ".join("%s=%s" % (k, s.get(k, "MISSING")) for k in keys), "mapped=%s" % f["mapped"])')
    echo "       (info --json: $sc)"
    check_eq "$v: control: p2v calls the volume clean, its free space mapped (the planted log is still empty)" \
        True "$(num mapped)"
    check_eq "$v: info --json: scrubbed has every NTFS key (missing:)" "" "$(grep -o '[a-z_]*=MISSING' <<<"$sc" | tr '\n' ' ')"
    check "$v: info --json: free MFT records counted (records and bytes)" test "$(num mft_free_records)" -gt 0 -a "$(num mft_free_bytes)" -gt 0
    check "$v: info --json: slack of records in use counted" test "$(num mft_slack_bytes)" -gt 0
    check "$v: info --json: INDX slack counted" test "$(num index_slack_bytes)" -gt 0
    check "$v: info --json: unused index blocks counted" test "$(num index_unused_bytes)" -gt 0
    check "$v: info --json: \$LogFile bytes counted" test "$(num logfile_bytes)" -gt 0
    check "$v: info --json: file slack counted" test "$(num file_slack_bytes)" -gt 0

    check "$v: mount" p2v_mount "$src" "$T/v" || continue
    for f in disk.raw disk.vhd; do
        check "$v: $f holds no deleted marker" no_deleted "$T/v/$f"
        check "$v: $f holds the kept markers" kept_found "$T/v/$f"
    done
    cp "$T/v/partitions/1.raw" "$T/$v.view"
    p2v_umount "$T/v"
    check "$v: partitions/1.raw holds no deleted marker" no_deleted "$T/$v.view"
    check "$v: partitions/1.raw holds the kept markers" kept_found "$T/$v.view"
    if check "$v: mount --format vhdx" p2v_mount "$src" "$T/v" --format vhdx; then
        check "$v: disk.vhdx holds no deleted marker" no_deleted "$T/v/disk.vhdx"
        check "$v: disk.vhdx holds the kept markers" kept_found "$T/v/disk.vhdx"
        p2v_umount "$T/v"
    fi

    view=$T/$v.view
    check "$v: ntfsfix -n passes on the view's volume" ntfsfix -n "$view"
    check "$v: ntfsinfo -m reads it" ntfsinfo -m "$view"
    check "$v: mounted by ntfs-3g -o ro, it holds the source's files (diff -r)" \
        bash -c "ntfs-3g -o ro '$view' '$m' && ntfs-3g -o ro '$part' '$m2' && diff -r '$m2' '$m'; rc=\$?; umount '$m'; umount '$m2'; exit \$rc"
    check_eq "$v: \$LogFile reads as all 0xFF (bytes that are not)" 0 "$(log_non_ff "$view")"
    check "$v: control: the source's \$LogFile holds the planted bytes" test "$(log_non_ff "$part")" -gt 0

    # Free MFT records: the one of a deleted resident file, then all of them.
    fr=$(python3 "$T/ntfs.py" free "$view" "$part" "$T/$v.ref" "$T/$v.inos")
    echo "       ($fr)"
    fr_n=-1 fr_free=0 fr_same=0 fr_zero=0 fr_other=-1 fr_first_other=-1 fr_nrec=0
    eval "$fr"
    check "$v: control: a deleted file's record ($fr_n) is free and held its data in the source" \
        test "$fr_n" -ge 27 -a "${fr_src_differs:-0}" = 1 -a "${fr_src_marker:-0}" = 1
    check_eq "$v: record $fr_n is mkntfs's free record (masked)" 1 "${fr_view_pristine:-}"
    check_eq "$v: record $fr_n keeps its sequence number" "${fr_seq_src:-}" "${fr_seq_view:-}"
    check_eq "$v: record $fr_n keeps its update sequence number" "${fr_usn_src:-}" "${fr_usn_view:-}"
    check_eq "$v: every free record 27..$((fr_nrec - 1)) is mkntfs's free record or zeros (others: first is $fr_first_other)" \
        0 "$fr_other"
    check "$v: control: over 500 free records to compare ($fr_free: $fr_same pristine, $fr_zero zeros)" test "$fr_free" -gt 500
    unset fr_n fr_src_differs fr_src_marker fr_view_pristine fr_seq_src fr_seq_view fr_usn_src fr_usn_view

    cp "$view" "$T/$v.rw"
    check "$v: ntfs-3g writes to a copy (500 files created, 200 deleted), then ntfsfix -n passes" \
        rw_then_fix "$T/$v.rw"
    rm -f "$T/$v.rw" "$view"

    check "$v: --keep-free-space keeps every byte of the partition" \
        bash -c "'$P2V' mount -q --keep-free-space '$src' '$T/v' && cmp -n $((64 << 20)) -i $((1 << 20)):$((1 << 20)) '$T/v/disk.raw' '$src'; rc=\$?; '$P2V' umount '$T/v'; exit \$rc"
    check_eq "$v: the source is unchanged" "$before" "$(hash_of "$src")"
    rm -f "$src" "$part"
done
finish
