#!/usr/bin/env python3
"""Make a dynamic differencing VHD (disk type 4) on top of PARENT.

qemu-img cannot create differencing VHDs, so the tests build them with this,
from the VHD specification:

  footer copy @0 | dynamic header @512 | BAT @1536 | parent locator data |
  blocks (512-byte sector bitmap + 2 MiB data) | footer @EOF-512

The dynamic header records the parent's unique id and timestamp (from its
footer), its name (UTF-16BE) and two parent locators: W2ru, the relative
path ".\\NAME", and W2ku, an absolute Windows path (both UTF-16LE).

Usage: mkdiffvhd.py PARENT.vhd CHILD.vhd [--write LBA:COUNT[:zero]]...
                    [--seed N] [--abs WINPATH] [--expect RAW]

--write   sectors the child holds: random data (seeded), or zeros with
          ":zero" (which hide non-zero parent data).  Default: a small set.
--expect  RAW holds the parent's virtual disk; the child's sectors are
          written into it, so it becomes what the child reads as.
Sectors of a child block whose bitmap bit is 0 are filled with the marker
"STALE!" so that a reader that ignores the bitmap shows it.
"""
import hashlib
import os
import random
import struct
import sys

BLOCK = 2 << 20
SPB = BLOCK // 512  # sectors per block


def checksum(buf):
    return (~sum(buf)) & 0xFFFFFFFF


def with_checksum(buf, field):
    buf[field:field + 4] = b"\0\0\0\0"
    buf[field:field + 4] = struct.pack(">I", checksum(buf))
    return bytes(buf)


def usage(msg):
    sys.stderr.write("mkdiffvhd.py: %s\n%s" % (msg, __doc__))
    sys.exit(2)


def main():
    args = sys.argv[1:]
    writes, seed, abspath, expect, pos = [], 1, None, None, []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--write", "--seed", "--abs", "--expect"):
            if i + 1 >= len(args):
                usage("%s needs a value" % a)
            v = args[i + 1]
            i += 2
            if a == "--write":
                parts = v.split(":")
                writes.append((int(parts[0]), int(parts[1]), len(parts) > 2 and parts[2] == "zero"))
            elif a == "--seed":
                seed = int(v)
            elif a == "--abs":
                abspath = v
            else:
                expect = v
        else:
            pos.append(a)
            i += 1
    if len(pos) != 2:
        usage("need PARENT and CHILD")
    parent, child = pos

    with open(parent, "rb") as f:
        f.seek(-512, 2)
        pfoot = f.read(512)
    if pfoot[:8] != b"conectix":
        usage("%s has no VHD footer at its end" % parent)
    p_ts = struct.unpack(">I", pfoot[24:28])[0]
    p_orig, p_cur = struct.unpack(">QQ", pfoot[40:56])
    p_geom = pfoot[56:60]
    p_uid = pfoot[68:84]
    size = p_cur
    nblocks = (size + BLOCK - 1) // BLOCK
    nsect = size // 512
    if not writes:
        writes = [(SPB * 1 + 8, 16, False), (nsect - 1, 1, False)]
    for lba, count, _ in writes:
        if count <= 0 or lba + count > nsect:
            usage("--write %d:%d is outside the %d-sector disk" % (lba, count, nsect))

    rnd = random.Random(seed)
    name = os.path.basename(parent)
    if abspath is None:
        abspath = "C:\\p2v-test\\" + name
    uid = hashlib.sha256(b"mkdiffvhd|%s|%d" % (os.path.basename(child).encode(), seed)).digest()[:16]
    ts = p_ts + 1

    # Per block: the bitmap and the data (stale marker where not present).
    blocks = {}
    stale = (b"STALE!" * 86)[:512]
    for lba, count, zero in writes:
        data = bytes(count * 512) if zero else rnd.randbytes(count * 512)
        for k in range(count):
            s = lba + k
            b, off = divmod(s, SPB)
            if b not in blocks:
                blocks[b] = [bytearray(512), bytearray(stale * SPB)]
            bm, buf = blocks[b]
            bm[off // 8] |= 0x80 >> (off % 8)
            buf[off * 512:(off + 1) * 512] = data[k * 512:(k + 1) * 512]
        if expect:
            with open(expect, "r+b") as f:
                f.seek(lba * 512)
                f.write(data)

    footer = bytearray(512)
    footer[0:8] = b"conectix"
    struct.pack_into(">IIQI", footer, 8, 2, 0x00010000, 512, ts)
    footer[28:32] = b"win "
    struct.pack_into(">I", footer, 32, 0x000A0000)
    footer[36:40] = b"Wi2k"
    struct.pack_into(">QQ", footer, 40, p_orig, p_cur)
    footer[56:60] = p_geom
    struct.pack_into(">I", footer, 60, 4)  # differencing
    footer[68:84] = uid
    footer = with_checksum(footer, 64)

    bat_bytes = (nblocks * 4 + 511) // 512 * 512
    loc_off = 1536 + bat_bytes
    rel = (".\\" + name).encode("utf-16-le")
    absb = abspath.encode("utf-16-le")
    if len(rel) > 512 or len(absb) > 512:
        usage("parent path too long")
    data_off = loc_off + 1024

    hdr = bytearray(1024)
    hdr[0:8] = b"cxsparse"
    struct.pack_into(">QQIII", hdr, 8, 0xFFFFFFFFFFFFFFFF, 1536, 0x00010000, nblocks, BLOCK)
    hdr[40:56] = p_uid
    struct.pack_into(">I", hdr, 56, p_ts)
    uname = name.encode("utf-16-be")
    hdr[64:64 + len(uname)] = uname
    for n, (code, off, blob) in enumerate([(b"W2ru", loc_off, rel), (b"W2ku", loc_off + 512, absb)]):
        e = 576 + 24 * n
        hdr[e:e + 4] = code
        struct.pack_into(">IIIQ", hdr, e + 4, 512, len(blob), 0, off)
    hdr = with_checksum(hdr, 36)

    bat = bytearray(b"\xff" * bat_bytes)
    out = bytearray()
    nxt = data_off
    for b in sorted(blocks):
        struct.pack_into(">I", bat, b * 4, nxt // 512)
        bm, buf = blocks[b]
        out += bm + buf
        nxt += 512 + BLOCK

    with open(child, "wb") as f:
        f.write(footer)
        f.write(hdr)
        f.write(bat)
        f.write(rel.ljust(512, b"\0"))
        f.write(absb.ljust(512, b"\0"))
        f.write(out)
        f.write(footer)
    print("%s: %d blocks in the child, parent %s" % (child, len(blocks), name))


if __name__ == "__main__":
    main()
