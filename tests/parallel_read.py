#!/usr/bin/env python3
"""Readers in parallel at random offsets, each read compared with a
reference file.  Usage: parallel_read.py FILE REFERENCE READERS READS SEED
Prints the number of mismatches and exits 1 if there was any."""
import os
import random
import sys
from multiprocessing import Pool


def reader(args):
    path, ref, reads, seed = args
    rnd = random.Random(seed)
    size = os.path.getsize(ref)
    bad = 0
    fd, rd = os.open(path, os.O_RDONLY), os.open(ref, os.O_RDONLY)
    for _ in range(reads):
        length = rnd.choice([1, 512, 4096, 65536, 1 << 20, rnd.randint(1, 3 << 20)])
        off = rnd.randrange(0, size)
        if os.pread(fd, length, off) != os.pread(rd, length, off):
            bad += 1
            print("mismatch at offset %d length %d" % (off, length), file=sys.stderr)
    os.close(fd)
    os.close(rd)
    return bad


def main():
    path, ref, readers, reads, seed = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    if os.path.getsize(path) != os.path.getsize(ref):
        print("size differs: %d vs %d" % (os.path.getsize(path), os.path.getsize(ref)))
        return 1
    with Pool(readers) as pool:
        bad = sum(pool.map(reader, [(path, ref, reads, seed * 100 + i) for i in range(readers)]))
    print("%d readers x %d reads: %d mismatches" % (readers, reads, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
