#!/usr/bin/env python3
"""One random reader of a file, for the load, fault and IOPS tests.

  randread.py read FILE --index I [--ref REF] [--seconds S] [--stop-file P]
                        [--progress P] [--seed N] [--direct mix|all|none]
                        [--reopen-every K] [--bad LBA-RANGES] [--hot]
                        [--min-reads N]
  randread.py sum RESULT.json...

`read` reads FILE at random offsets and lengths until S seconds have passed
or the stop file exists (and at least --min-reads attempts were made), then
prints one JSON object: reads, bytes, seconds, errors by name, mismatches,
unexpected.  Offsets are uniform over the file, not aligned; a length is one
of 512 B, 4 KiB (twice as likely), 16 KiB, 64 KiB, 256 KiB, 1 MiB or a
uniform 1 byte..1 MiB, cut at the end of the file.  Reader I uses O_DIRECT
when --direct is all, or mix and I is odd; a buffered reader drops the
range it read from the page cache afterwards (POSIX_FADV_DONTNEED), so every
read reaches the file system's daemon, not the view's page cache.

With --ref, the bytes returned (all of them, a short read included) are
compared with the same range of REF, which must have FILE's size: any
difference is a mismatch.  With --bad (LBA ranges "A-B,C", 512-byte
sectors), a read that returns every byte of a range holding a bad sector is
a mismatch too (it read through a sector that cannot be read), and an error
or a short read is "unexpected" unless the range touches a 4 KiB page that
holds a bad sector (the page cache reads whole pages).  --hot aims every
read within 64 KiB of a bad range.  Without --bad every error is allowed
and counted (the fault tests decide what they may be).

Errors never stop a reader: it counts them, reopens the file after one
(the open may fail too, and is counted), and goes on.  --reopen-every K
reopens it every K reads.  --progress P is rewritten with the number of
attempts every 50 ms, for scripts that wait for readers to be busy.

`sum` adds the readers' results up: IOPS is the sum over the readers of
their reads per second.  Exit status: 1 if any reader saw a mismatch or an
unexpected error (read), or if any result is missing or has one (sum).
"""
import argparse
import errno
import json
import mmap
import os
import random
import sys
import time

MiB = 1 << 20
SIZES = [512, 4096, 4096, 16384, 65536, 262144, MiB, None]


def parse_ranges(text):
    out = []
    for part in filter(None, (text or "").split(",")):
        a, _, b = part.partition("-")
        out.append((int(a), int(b or a)))
    return out


def read_cmd(a):
    rnd = random.Random(a.seed * 1000 + a.index)
    direct = a.direct == "all" or (a.direct == "mix" and a.index % 2 == 1)
    size = os.stat(a.file).st_size
    ref = None
    if a.ref:
        ref = os.open(a.ref, os.O_RDONLY)
        if os.fstat(ref).st_size != size:
            print(json.dumps({"index": a.index, "fatal": "size differs from the reference"}))
            return 1
    bad = parse_ranges(a.bad)
    bad_bytes = [(s * 512, (e + 1) * 512) for s, e in bad]
    bad_pages = [(s // 4096 * 4096, -(-e // 4096) * 4096) for s, e in bad_bytes]

    def touches(ranges, off, n):
        return any(off < e and s < off + n for s, e in ranges)

    buf = mmap.mmap(-1, MiB + 4096)  # page-aligned, as O_DIRECT wants
    flags = os.O_RDONLY | (os.O_DIRECT if direct else 0)
    fd = -1
    res = {"index": a.index, "direct": direct, "reads": 0, "ok": 0, "bytes": 0,
           "errors": {}, "mismatches": 0, "unexpected": 0, "notes": []}
    lat = []

    def note(msg):
        if len(res["notes"]) < 10:
            res["notes"].append(msg)

    def count_error(e):
        name = errno.errorcode.get(e, str(e))
        res["errors"][name] = res["errors"].get(name, 0) + 1

    start = time.monotonic()
    deadline = start + a.seconds
    last_progress = 0.0
    attempts = 0
    while True:
        now = time.monotonic()
        if attempts >= a.min_reads and (now >= deadline or (a.stop_file and os.path.exists(a.stop_file))):
            break
        if a.progress and now - last_progress >= 0.05:
            with open(a.progress + ".tmp", "w") as p:
                p.write("%d\n" % attempts)
            os.replace(a.progress + ".tmp", a.progress)
            last_progress = now
        attempts += 1
        if fd >= 0 and a.reopen_every and attempts % a.reopen_every == 0:
            os.close(fd)
            fd = -1
        if fd < 0:
            try:
                fd = os.open(a.file, flags)
            except OSError as e:
                count_error(e.errno)
                if bad:
                    res["unexpected"] += 1
                    note("open failed: %s" % e.strerror)
                time.sleep(0.001)  # an open that fails fails fast: do not spin
                continue
        n = rnd.choice(SIZES) or rnd.randint(1, MiB)
        if a.hot and bad_bytes:
            s, e = rnd.choice(bad_bytes)
            off = max(0, min(size - 1, rnd.randint(s - 65536, e + 65536)))
        else:
            off = rnd.randrange(0, size)
        n = min(n, size - off)
        t0 = time.monotonic()
        try:
            got = os.preadv(fd, [memoryview(buf)[:n]], off)
        except OSError as e:
            count_error(e.errno)
            if bad and not touches(bad_pages, off, n):
                res["unexpected"] += 1
                note("%s reading %d+%d, which holds no bad sector" % (e.strerror, off, n))
            os.close(fd)
            fd = -1
            continue
        lat.append(time.monotonic() - t0)
        res["reads"] += 1
        res["ok"] += 1
        res["bytes"] += got
        if got < n and bad and not touches(bad_pages, off, n):
            res["unexpected"] += 1
            note("short read at %d: %d of %d bytes" % (off, got, n))
        if ref is not None and got:
            want = os.pread(ref, got, off)
            if bytes(buf[:got]) != want:
                res["mismatches"] += 1
                first = next(i for i in range(got) if buf[i] != want[i])
                note("wrong bytes in the read of %d+%d: the first at byte %d" % (off, n, off + first))
        if bad and got == n and touches(bad_bytes, off, n):
            res["mismatches"] += 1
            note("read %d+%d returned every byte, through a bad sector" % (off, n))
        if not direct:
            os.posix_fadvise(fd, off, n, os.POSIX_FADV_DONTNEED)
    res["seconds"] = round(time.monotonic() - start, 3)
    res["attempts"] = attempts
    lat.sort()
    if lat:
        res["lat_ms"] = {"p50": round(lat[len(lat) // 2] * 1000, 3),
                         "p99": round(lat[min(len(lat) - 1, len(lat) * 99 // 100)] * 1000, 3)}
    if a.progress:
        with open(a.progress + ".tmp", "w") as p:
            p.write("%d\n" % attempts)
        os.replace(a.progress + ".tmp", a.progress)
    print(json.dumps(res))
    return 1 if res["mismatches"] or res["unexpected"] else 0


def sum_cmd(paths):
    tot = {"readers": 0, "missing": 0, "reads": 0, "bytes": 0, "iops": 0.0, "mb_s": 0.0,
           "mismatches": 0, "unexpected": 0, "errors": {}, "notes": []}
    p50 = []
    for p in paths:
        try:
            r = json.loads(open(p).read().strip().splitlines()[-1])
            r["seconds"]
        except Exception:
            tot["missing"] += 1
            tot["notes"].append("%s: no result (the reader died or was stopped by its watchdog)" % p)
            continue
        tot["readers"] += 1
        for k in ("reads", "bytes", "mismatches", "unexpected"):
            tot[k] += r[k]
        for k, v in r["errors"].items():
            tot["errors"][k] = tot["errors"].get(k, 0) + v
        if r["seconds"] > 0:
            tot["iops"] += r["reads"] / r["seconds"]
            tot["mb_s"] += r["bytes"] / r["seconds"] / 1e6
        if "lat_ms" in r:
            p50.append(r["lat_ms"]["p50"])
        tot["notes"] += ["reader %d: %s" % (r["index"], n) for n in r["notes"]]
    tot["iops"] = round(tot["iops"])
    tot["mb_s"] = round(tot["mb_s"], 1)
    if p50:
        tot["p50_ms"] = sorted(p50)[len(p50) // 2]
    print(json.dumps(tot))
    return 1 if tot["missing"] or tot["mismatches"] or tot["unexpected"] else 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "sum":
        return sum_cmd(sys.argv[2:])
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["read"])
    ap.add_argument("file")
    ap.add_argument("--index", type=int, required=True)
    ap.add_argument("--ref")
    ap.add_argument("--seconds", type=float, default=3600)
    ap.add_argument("--stop-file")
    ap.add_argument("--progress")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--direct", choices=["mix", "all", "none"], default="mix")
    ap.add_argument("--reopen-every", type=int, default=0)
    ap.add_argument("--bad")
    ap.add_argument("--hot", action="store_true")
    ap.add_argument("--min-reads", type=int, default=0)
    return read_cmd(ap.parse_args())


if __name__ == "__main__":
    sys.exit(main())
