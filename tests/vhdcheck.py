#!/usr/bin/env python3
"""Structural check of a VHD file, written from the VHD specification.

QEMU 7.2's vpc driver has no `qemu-img check`, so the tests use this to
check what it would: footer and header checksums and fields, the footer
copy, every BAT entry inside the file, no overlapping blocks, 4 KiB data
alignment, BAT padding.  Usage: vhdcheck.py FILE [--size N]
Exit 0 and "No errors were found" when clean; 1 with one line per error.
"""
import struct
import sys


def checksum(buf, field):
    return (~sum(buf[:field] + buf[field + 4:])) & 0xFFFFFFFF


def main():
    path = sys.argv[1]
    want = int(sys.argv[sys.argv.index("--size") + 1]) if "--size" in sys.argv else None
    errors = []
    with open(path, "rb") as f:
        f.seek(0, 2)
        fsize = f.tell()
        f.seek(fsize - 512)
        foot = f.read(512)
        if foot[:8] != b"conectix":
            print("footer cookie missing at EOF")
            return 1
        (feat, ver, doff, ts, app, cver, host, orig, cur, cyl, heads, spt, dtype,
         csum) = struct.unpack(">IIQI4sI4sQQHBBII", foot[8:68])
        if csum != checksum(foot, 64):
            errors.append("footer checksum wrong")
        if feat & 2 == 0 or ver != 0x00010000:
            errors.append("features/version %#x/%#x" % (feat, ver))
        if orig != cur or cur % 512:
            errors.append("original size %d / current size %d" % (orig, cur))
        if want is not None and cur != want:
            errors.append("current size %d, expected %d" % (cur, want))
        if cyl * heads * spt > cur // 512:
            errors.append("CHS geometry larger than the disk")
        if foot[68:84] == bytes(16):
            errors.append("unique id is zero")
        if dtype == 2:
            if doff != 0xFFFFFFFFFFFFFFFF:
                errors.append("fixed disk data offset %#x" % doff)
            if fsize != cur + 512:
                errors.append("fixed file is %d bytes for a %d-byte disk" % (fsize, cur))
        elif dtype == 3:
            f.seek(0)
            if f.read(512) != foot:
                errors.append("footer copy at offset 0 differs from the footer at EOF")
            f.seek(doff)
            hdr = f.read(1024)
            if hdr[:8] != b"cxsparse":
                errors.append("dynamic header cookie missing at %d" % doff)
            hnext, table, hver, entries, bsize, hsum = struct.unpack(">QQIIII", hdr[8:40])
            if hsum != checksum(hdr, 36):
                errors.append("dynamic header checksum wrong")
            if hnext != 0xFFFFFFFFFFFFFFFF or hver != 0x00010000:
                errors.append("dynamic header next offset/version")
            if entries != -(-cur // bsize):
                errors.append("max table entries %d for %d blocks" % (entries, -(-cur // bsize)))
            f.seek(table)
            batlen = -(-entries * 4 // 512) * 512
            bat = f.read(batlen)
            if any(b != 0xFF for b in bat[entries * 4:]):
                errors.append("BAT padding is not 0xFF")
            bitmap = -(-bsize // 4096 // 512) * 512
            used = [(0, doff + 1024), (table, table + batlen), (fsize - 512, fsize)]
            for i in range(entries):
                (e,) = struct.unpack(">I", bat[i * 4:i * 4 + 4])
                if e == 0xFFFFFFFF:
                    continue
                start = e * 512
                end = start + bitmap + bsize
                if end > fsize - 512:
                    errors.append("block %d at sector %d runs past the footer" % (i, e))
                if (start + bitmap) % 4096:
                    errors.append("block %d data not 4 KiB aligned" % i)
                f.seek(start)
                if f.read(bitmap) != b"\xff" * bitmap:
                    errors.append("block %d sector bitmap is not all ones" % i)
                used.append((start, end))
            print("allocated blocks: %d" % (len(used) - 3))
            used.sort()
            for a, b in zip(used, used[1:]):
                if b[0] < a[1]:
                    errors.append("overlap: [%d,%d) and [%d,%d)" % (a + b))
        else:
            errors.append("unexpected disk type %d" % dtype)
    for e in errors:
        print(e)
    if not errors:
        print("No errors were found on the image.")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
