#!/bin/bash
# Unreadable source sectors, simulated by badfuse (tests/helpers/badfuse.c):
# info --scan names exactly those LBAs (text and JSON, merged ranges);
# --bad-sectors fail (the default) gives EIO for reads touching them and
# the right bytes everywhere else, and logs the LBAs; --bad-sectors zero
# serves them as zeros in disk.raw and disk.vhd alike, logs them and lists
# them in MNT/status.json.
. "$(dirname "$0")/lib.sh"
BADFUSE=${BADFUSE:-$(dirname "$P2V")/badfuse}

# 24 MiB, an MBR with one partition (LBA 2048-40959) and unpartitioned
# space after it; random data except the 2 MiB blocks 4 and 7.
img=$T/disk.img
python3 - "$img" <<'PY'
import random, sys
rnd = random.Random(5)
with open(sys.argv[1], "wb") as f:
    for i in range(12):
        f.write(bytes(2 << 20) if i in (4, 7) else rnd.randbytes(2 << 20))
PY
printf 'label: dos\nstart=2048, size=38912, type=83\n' | sfdisk -q "$img"
before=$(hash_of "$img")

# The bad sectors: a single one; four across the 2 MiB boundary at 12288;
# two adjacent ranges (p2v reports them merged); one in the zero block 4;
# two in the unpartitioned space. (The last sector is tested on its own.)
RANGES=(6000 12286-12289 21000-21003 21004-21010 17000 45000-45001)
EXPECT='[[6000,1],[12286,4],[17000,1],[21000,11],[45000,2]]'   # [lba, count], merged
NSECT=19

bf=$T/bf
src=$bf/disk
mkdir -p "$bf"
if [ ! -x "$BADFUSE" ]; then
    bad "the badfuse helper is not built ($BADFUSE)"
    finish
    exit
fi
MOUNTS+=("$bf")
check "badfuse serves the image with bad sectors" "$BADFUSE" "$img" "$bf" "${RANGES[@]}"
check_fails "badfuse: a bad sector gives EIO" "Input/output error" \
    dd if="$src" of=/dev/null bs=512 skip=6000 count=1 iflag=direct status=none

# ranges_of KIND FILE: the bad-sector ranges in FILE as [[lba, count], ...]
# KIND json: a JSON object with bad_sectors (info --json or status.json);
# text: "LBA A-B (N sectors)" lines (info --scan); log: the union of the
# LBAs named on "unreadable sectors" lines, merged.
ranges_of() {
    python3 - "$1" "$2" <<'PY'
import json, re, sys
kind, path = sys.argv[1], sys.argv[2]
try:
    text = open(path, errors="replace").read()
    if kind == "json":
        bs = json.loads(text)["bad_sectors"]
except Exception as e:
    print("cannot read %s: %r" % (path, e))
    sys.exit(1)
def merged(lbas):
    out = []
    for s in sorted(lbas):
        if out and out[-1][0] + out[-1][1] == s:
            out[-1][1] += 1
        else:
            out.append([s, 1])
    return out
if kind == "json":
    r = [[x["lba"], x["count"]] for x in bs["ranges"]]
    total = sum(c for _, c in r)
    if bs["sectors"] != total:
        print("sectors is %s, the ranges add up to %d" % (bs["sectors"], total))
    print(json.dumps(r, separators=(",", ":")), bs["sectors"], bs["policy"])
elif kind == "text":
    head = re.search(r"^bad sectors: +(\d+) \(in (\d+) ranges?[,)]", text, re.M)
    r = [[int(a), int(n)] for a, b, n in re.findall(r"^\s+LBA (\d+)(?:-(\d+))? \((\d+) sectors?\)$", text, re.M)
         if int(n) == (int(b) if b else int(a)) - int(a) + 1]
    print(json.dumps(r, separators=(",", ":")), head.group(1) if head else "no-total-line",
          head.group(2) if head else "")
else:
    lbas = set()
    for a, b in re.findall(r"unreadable sectors? LBA (\d+)(?:-(\d+))?", text):
        lbas.update(range(int(a), (int(b) if b else int(a)) + 1))
    print(json.dumps(merged(lbas), separators=(",", ":")))
PY
}

# probe FILE: reads FILE with O_DIRECT, 4 KiB at a time, then single
# sectors at the edges of every bad range. Reads touching a bad sector must
# fail with EIO, all others succeed with the image's bytes.
probe() {
    python3 - "$1" "$img" "$EXPECT" <<'PY'
import errno, json, mmap, os, sys
path, image, expect = sys.argv[1], open(sys.argv[2], "rb").read(), json.loads(sys.argv[3])
bad = set(s for a, n in expect for s in range(a, a + n))
try:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
except OSError as e:
    sys.exit("cannot open %s: %s" % (path, e.strerror))
buf = mmap.mmap(-1, 4096)
errors = []
def read(off, n):
    try:
        got = os.preadv(fd, [memoryview(buf)[:n]], off)
    except OSError as e:
        return e.errno
    return bytes(buf[:got])
def expect_at(off, n):
    want_fail = any(s in bad for s in range(off // 512, (off + n) // 512))
    got = read(off, n)
    if want_fail and got != errno.EIO:
        errors.append("LBA %d+%d: expected EIO, got %s" % (off // 512, n // 512, "data" if isinstance(got, bytes) else os.strerror(got)))
    elif not want_fail and got != image[off:off + n]:
        errors.append("LBA %d+%d: expected the image's bytes, got %s" % (off // 512, n // 512, "other bytes" if isinstance(got, bytes) else os.strerror(got)))
for off in range(0, len(image), 4096):
    expect_at(off, 4096)
for a, n in expect:
    for s in (a - 1, a, a + n - 1, a + n):
        if 0 <= s < len(image) // 512:
            expect_at(s * 512, 512)
print("\n".join(errors[:20]) or "all reads as expected")
sys.exit(1 if errors else 0)
PY
}

# info --scan
"$P2V" info -q --scan "$src" >"$T/scan.txt" 2>"$T/scan.err"
rc=$?
check_eq "info --scan: exit 0 ($(head -n 1 "$T/scan.err" | cut -c 1-200))" 0 "$rc"
check_eq "info --scan: text names exactly the bad ranges, $NSECT sectors in 5 ranges" \
    "$EXPECT $NSECT 5" "$(ranges_of text "$T/scan.txt" 2>&1)"
"$P2V" info -q --scan --json "$src" >"$T/scan.json" 2>"$T/scan.err"
rc=$?
check_eq "info --scan --json: exit 0 ($(head -n 1 "$T/scan.err" | cut -c 1-200))" 0 "$rc"
check_eq "info --scan --json: bad_sectors names exactly the bad ranges" \
    "$EXPECT $NSECT fail" "$(ranges_of json "$T/scan.json" 2>&1)"
"$P2V" info -q --scan --json --bad-sectors zero "$src" >"$T/scanz.json" 2>"$T/scan.err"
check_eq "info --scan --json --bad-sectors zero: the same ranges, policy zero" \
    "$EXPECT $NSECT zero" "$(ranges_of json "$T/scanz.json" 2>&1)"
# A single sector is one sector, not "LBA 6000-6000 (1 sectors)".
check "info --scan: a single bad sector reads 'LBA 6000 (1 sector)'" grep -qx "  LBA 6000 (1 sector)" "$T/scan.txt"
check "info --scan: no '1 sectors' anywhere" sh -c "! grep -q '[^0-9]1 sectors' '$T/scan.txt'"
check_eq "info --scan on a sound image: no bad sectors" "bad sectors: none" \
    "$("$P2V" info -q --scan "$img" 2>&1 | grep '^bad sectors:' | tr -s ' ')"

# The default policy: fail.
mnt=$T/mnt
check "mount (default --bad-sectors fail)" p2v_mount "$src" "$mnt" --log "$T/fail.log"
check "fail: exactly the reads touching bad sectors give EIO; the rest is the image" probe "$mnt/disk.raw"
check_fails "fail: a buffered read of the whole disk.raw fails" "Input/output error" \
    dd if="$mnt/disk.raw" of=/dev/null bs=1M status=none
check_eq "fail: the log names exactly the bad LBAs" "$EXPECT" "$(ranges_of log "$T/fail.log" 2>&1)"
check "fail: log line 'source PATH: unreadable sectors LBA A-B (N sectors): ...'" \
    grep -qE "source $src: unreadable sectors LBA 21000-210[01][0-9] \([0-9]+ sectors\): " "$T/fail.log"
check "fail: a single sector's log line says 'unreadable sector LBA 6000 (1 sector)'" \
    grep -qF "source $src: unreadable sector LBA 6000 (1 sector): " "$T/fail.log"
check_eq "fail: status.json says policy fail" fail \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bad_sectors"]["policy"])' "$mnt/status.json" 2>&1)"
check "unmount (fail)" p2v_umount "$mnt"

# --bad-sectors zero: everything reads; the bad sectors are zeros.
zimg=$T/zeroed.img
python3 - "$img" "$zimg" "$EXPECT" <<'PY'
import json, sys
data = bytearray(open(sys.argv[1], "rb").read())
for a, n in json.loads(sys.argv[3]):
    data[a * 512:(a + n) * 512] = bytes(n * 512)
open(sys.argv[2], "wb").write(data)
PY
check "mount --bad-sectors zero" p2v_mount "$src" "$mnt" --bad-sectors zero --log "$T/zero.log"
check "zero: disk.raw is the image with the bad sectors zeroed (cmp)" cmp "$mnt/disk.raw" "$zimg"
check "zero: the image differs there (the bad sectors held data)" bash -c "! cmp -s '$img' '$zimg'"
check_eq "zero: qemu-img compare disk.vhd with the zeroed image" "Images are identical." \
    "$(qemu-img compare -f vpc -F raw "$mnt/disk.vhd" "$zimg" 2>&1)"
check_eq "zero: status.json lists the ranges" "$EXPECT $NSECT zero" "$(ranges_of json "$mnt/status.json" 2>&1)"
check_eq "zero: p2v info --json MNT gives the same report" "$EXPECT $NSECT zero" \
    "$("$P2V" info --json "$mnt" 2>/dev/null >"$T/minfo.json"; ranges_of json "$T/minfo.json" 2>&1)"
check_eq "zero: the log names exactly the bad LBAs" "$EXPECT" "$(ranges_of log "$T/zero.log" 2>&1)"
check "zero: the log lines end with 'served as zeros'" \
    bash -c "grep 'unreadable sectors' '$T/zero.log' | grep -q . && ! grep 'unreadable sectors' '$T/zero.log' | grep -qv 'served as zeros\$'"
check "unmount (zero)" p2v_umount "$mnt"

# The view's process may still be closing the source when p2v umount
# returns (slowly under the sanitizers): wait for badfuse to be free.
check "unmount badfuse" wait_until 30 fusermount3 -u "$bf"

# The last sector unreadable: the source is still recognised (raw), the
# scan names it, and --bad-sectors zero serves it as zeros.
check "badfuse with the last sector bad" "$BADFUSE" "$img" "$bf" 49151
"$P2V" info -q --scan --json "$src" >"$T/last.json" 2>"$T/last.err"
rc=$?
check_eq "last sector: info --scan --json exits 0 ($(head -n 1 "$T/last.err" | cut -c 1-200))" 0 "$rc"
check_eq "last sector: bad_sectors names it" "[[49151,1]] 1 fail" "$(ranges_of json "$T/last.json" 2>&1)"
python3 -c 'import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[-512:] = bytes(512); open(sys.argv[2], "wb").write(d)' \
    "$img" "$T/lastz.img"
check "last sector: mount --bad-sectors zero" p2v_mount "$src" "$mnt" --bad-sectors zero
check "last sector: disk.raw is the image with its last sector zeroed" cmp "$mnt/disk.raw" "$T/lastz.img"
check "unmount (last sector)" p2v_umount "$mnt"
check "unmount badfuse (last sector)" wait_until 30 fusermount3 -u "$bf"
check_eq "the image is unchanged" "$before" "$(hash_of "$img")"
finish
