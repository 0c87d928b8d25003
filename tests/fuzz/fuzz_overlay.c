/* The COW overlay's state directory (fixup/overlay.c) on arbitrary bytes: a
 * state survives crashes, disks filling up and people, so p2v must refuse a
 * damaged one with an error, never crash, loop or read out of bounds.
 *
 * Input: 4 bytes, then the files.
 *   [0] flags: FIX_CRC   recompute the CRCs (stored blocks, entries, header)
 *                        so the fuzzer gets past them to the rest;
 *              SPLIT     [2..3] (LE16) is the length of overlay.index, the
 *                        rest is overlay.data; else all of it is the index;
 *              NO_DATA   no overlay.data file at all;
 *              WRITE     also open it writable, write, commit, reopen;
 *              SCRATCH   also open it as a dry run, write, and see that
 *                        nothing changes on disk;
 *              HDR_SIZE  the disk is as large as the header says (<= 256 KiB)
 *   [1] which blocks of the disk below are data (a bit per block, repeated);
 *       the others are zeros, and say so in their extents.
 * Each state is opened read-only over a memory layer (core/memfile.h) with a
 * fixed base id; if it opens, every block is read (one by one, all at once,
 * and at odd offsets) and compared with what the files say it holds, and the
 * extents and the list of changes are checked. */
#include "tests/fuzz/harness.h"
#include "core/layer.h"
#include "core/log.h"
#include "core/memfile.h"
#include "fixup/overlay.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define CHECK(cond, ...)                                                               \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "fuzz_overlay: " __VA_ARGS__);                             \
            fputc('\n', stderr);                                                       \
            abort();                                                                   \
        }                                                                              \
    } while (0)

enum { FIX_CRC = 1, SPLIT = 2, NO_DATA = 4, WRITE = 8, SCRATCH = 16, HDR_SIZE = 32 };

#define BLK 4096u
#define HEADER 72
#define ENTRY 16
#define DEFAULT_SIZE (16 * BLK + 512)  /* a last block that is not whole */
#define MAX_SIZE (256u * 1024)

static const uint8_t base_id[16] = "p2v-fuzz-base-id";
static char dir[64], index_path[96], data_path[96], tmp_path[96], lock_path[96];

static void cleanup(void)
{
    unlink(index_path);
    unlink(data_path);
    unlink(tmp_path);
    unlink(lock_path);
    rmdir(dir);
}

static void setup(void)
{
    /* Commits fsync: a tmpfs makes that free. */
    const char *tmp = getenv("TMPDIR");
    if (access("/dev/shm", W_OK) == 0)
        tmp = "/dev/shm";
    snprintf(dir, sizeof dir, "%s/p2v-fuzz-overlay-XXXXXX",
             tmp && *tmp && strlen(tmp) < 30 ? tmp : "/tmp");
    CHECK(mkdtemp(dir), "mkdtemp");
    snprintf(index_path, sizeof index_path, "%s/overlay.index", dir);
    snprintf(data_path, sizeof data_path, "%s/overlay.data", dir);
    snprintf(tmp_path, sizeof tmp_path, "%s/overlay.index.tmp", dir);
    snprintf(lock_path, sizeof lock_path, "%s/lock", dir);
    atexit(cleanup);
    p2v_log_quiet(1);
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_file(const char *path, const uint8_t *p, size_t len)
{
    FILE *f = fopen(path, "w");
    CHECK(f && fwrite(p, 1, len, f) == len && fclose(f) == 0, "writing %s", path);
}

/* ---- what the state says, read independently ---------------------------- */

struct state {
    int valid;                /* overlay.index is one p2v should accept */
    uint64_t n;
    const uint8_t *entries;   /* n entries of 16 bytes */
};

static uint64_t blocks_of(uint64_t size)
{
    return size / BLK + (size % BLK != 0);
}

/* The format, as overlay.c describes it: what an index must be to be used. */
static struct state judge(const uint8_t *idx, size_t len, uint64_t size, int have_index)
{
    struct state s = { 0 };
    if (!have_index) {
        s.valid = 1;  /* an empty state */
        return s;
    }
    if (len < HEADER || memcmp(idx, "P2VOVL01", 8) || le32(idx + 8) != 1 ||
        le32(idx + 12) != BLK || le32(idx + 68) != (uint32_t)crc32(0, idx, 68))
        return s;
    uint64_t n = le64(idx + 56), data_len = le64(idx + 48);
    if (n > data_len / BLK || n > (len - HEADER) / ENTRY || data_len > 0x80000000ull * BLK)
        return s;
    const uint8_t *e = idx + HEADER;
    if (le32(idx + 64) != (uint32_t)crc32(0, e, (uInt)(n * ENTRY)) ||
        memcmp(idx + 16, base_id, 16) || le64(idx + 32) != size)
        return s;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t blk = le64(e + i * ENTRY);
        if ((i && blk <= le64(e + (i - 1) * ENTRY)) || blk >= blocks_of(size) ||
            (uint64_t)le32(e + i * ENTRY + 8) * BLK >= data_len)
            return s;
    }
    s.valid = 1;
    s.n = n;
    s.entries = e;
    return s;
}

/* The bytes of disk block b (len of them) as the state says they are, or
 * -1 when the state cannot give them (a stored block missing or damaged). */
static int expect_block(const struct state *s, const uint8_t *below, const uint8_t *data,
                        size_t data_len, uint64_t b, uint8_t *out, size_t len)
{
    for (uint64_t i = 0; i < s->n; i++) {
        const uint8_t *e = s->entries + i * ENTRY;
        if (le64(e) != b)
            continue;
        uint64_t at = (uint64_t)le32(e + 8) * BLK;
        if (!data || at + BLK > data_len || (uint32_t)crc32(0, data + at, BLK) != le32(e + 12))
            return -1;
        memcpy(out, data + at, len);
        return 0;
    }
    memcpy(out, below + b * BLK, len);
    return 0;
}

static int changed(const struct state *s, uint64_t b)
{
    for (uint64_t i = 0; i < s->n; i++)
        if (le64(s->entries + i * ENTRY) == b)
            return 1;
    return 0;
}

/* ---- the disk below: data and zero extents -------------------------------- */

struct zebra {
    struct p2v_layer l;
    uint8_t pattern;
};

static int zebra_data(const struct zebra *z, uint64_t b)
{
    return z->pattern >> (b % 8) & 1;
}

static int zebra_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off)
{
    return p2v_layer_read(l->below, buf, len, off);
}

static int zebra_extents(struct p2v_layer *l, uint64_t off, uint64_t len, p2v_extent_fn fn,
                         void *ctx)
{
    const struct zebra *z = (const struct zebra *)l;
    uint64_t end = off + len;
    while (off < end) {
        uint64_t b = off / BLK, stop = off;
        int kind = zebra_data(z, b);
        while (stop < end && zebra_data(z, stop / BLK) == kind)
            stop = (stop / BLK + 1) * BLK < end ? (stop / BLK + 1) * BLK : end;
        int r = fn(ctx, off, stop - off, kind ? P2V_EXTENT_USED : P2V_EXTENT_ZERO);
        if (r)
            return r;
        off = stop;
    }
    return 0;
}

static void zebra_close(struct p2v_layer *l)
{
    p2v_layer_close(l->below);
    free(l);
}

static const struct p2v_layer_ops zebra_ops = {
    .name = "zebra", .read = zebra_read, .extents = zebra_extents, .close = zebra_close,
};

/* ---- walking extents ------------------------------------------------------ */

struct walk {
    const struct state *s;
    const uint8_t *disk;      /* what it reads, when known */
    uint64_t next, end, size;
    int calls;
    uint64_t changes;         /* p2v_overlay_changes: blocks in its runs */
};

static int on_extent(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    struct walk *w = ctx;
    CHECK(off == w->next, "extent at %llu, expected %llu", (unsigned long long)off,
          (unsigned long long)w->next);
    CHECK(len > 0 && len <= w->end - off, "extent %llu+%llu past %llu", (unsigned long long)off,
          (unsigned long long)len, (unsigned long long)w->end);
    CHECK(kind == P2V_EXTENT_ZERO || kind == P2V_EXTENT_DATA || kind == P2V_EXTENT_USED,
          "extent kind %d", kind);
    /* A changed block is data, whatever is below it; zeros read as zeros. */
    for (uint64_t b = off / BLK; b * BLK < off + len; b++)
        if (changed(w->s, b))
            CHECK(kind != P2V_EXTENT_ZERO, "changed block %llu in a zero extent",
                  (unsigned long long)b);
    for (uint64_t i = off; kind == P2V_EXTENT_ZERO && w->disk && i < off + len; i++)
        CHECK(!w->disk[i], "a zero extent reads %#x at %llu", w->disk[i], (unsigned long long)i);
    w->next = off + len;
    return 0;
}

static int on_change(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    struct walk *w = ctx;
    CHECK(kind == P2V_EXTENT_DATA, "change of kind %d", kind);
    /* Ascending runs, apart (else they would be one), within the disk. */
    CHECK(off % BLK == 0 && (w->calls ? off > w->next : 1) && off < w->size && len > 0 &&
              len <= w->size - off, "change %llu+%llu (after %llu, disk %llu)",
          (unsigned long long)off, (unsigned long long)len, (unsigned long long)w->next,
          (unsigned long long)w->size);
    for (uint64_t b = off / BLK; b * BLK < off + len; b++)
        CHECK(changed(w->s, b), "block %llu listed as changed", (unsigned long long)b);
    w->calls++;
    w->changes += blocks_of(len);
    w->next = off + len;
    return 0;
}

/* ---- one state ------------------------------------------------------------ */

/* Reads all of l: 0 with disk filled, or the first error. */
static int read_all(struct p2v_layer *l, uint8_t *disk, uint64_t size)
{
    return p2v_layer_read(l, disk, size, 0);
}

static void check_open(struct p2v_layer *ov, const struct state *s, const uint8_t *below,
                       const uint8_t *data, size_t data_len, uint64_t size, uint8_t *disk)
{
    uint8_t blk[BLK], want[BLK];
    int whole = read_all(ov, disk, size);
    int all_ok = 1;
    for (uint64_t b = 0; b < blocks_of(size); b++) {
        size_t len = b * BLK + BLK <= size ? BLK : (size_t)(size - b * BLK);
        int r = p2v_layer_read(ov, blk, len, b * BLK);
        int known = expect_block(s, below, data, data_len, b, want, len) == 0;
        CHECK(r <= 0, "read returned %d", r);
        if (known)
            CHECK(r == 0 && !memcmp(blk, want, len), "block %llu reads %s",
                  (unsigned long long)b, r ? "an error" : "other bytes than the state holds");
        else
            CHECK(r < 0, "block %llu, whose stored copy is missing or damaged, reads",
                  (unsigned long long)b);
        if (r == 0 && whole == 0)
            CHECK(!memcmp(blk, disk + b * BLK, len), "block %llu differs in a whole read",
                  (unsigned long long)b);
        all_ok &= r == 0;
    }
    CHECK((whole == 0) == all_ok, "a whole read %s, block reads %s", whole ? "fails" : "works",
          all_ok ? "work" : "fail");
    /* Reads across block boundaries. */
    if (whole == 0 && size >= 3 * BLK + 100) {  /* the read below ends there */
        uint8_t *part = malloc(2 * BLK + 200);
        CHECK(part, "malloc");
        uint64_t off = BLK - 100;
        CHECK(p2v_layer_read(ov, part, 2 * BLK + 200, off) == 0 &&
                  !memcmp(part, disk + off, 2 * BLK + 200), "an unaligned read differs");
        CHECK(p2v_layer_read(ov, part, 1, size - 1) == 0 && part[0] == disk[size - 1],
              "the last byte differs");
        free(part);
    }
    CHECK(p2v_layer_read(ov, blk, 1, size) < 0, "a read past the end works");
    /* Extents: contiguous, changed blocks are data; whole and in parts. */
    struct walk w = { .s = s, .disk = whole == 0 ? disk : NULL, .end = size, .size = size };
    CHECK(p2v_layer_extents(ov, 0, size, on_extent, &w) == 0 && w.next == size,
          "extents stop at %llu of %llu", (unsigned long long)w.next, (unsigned long long)size);
    if (size > BLK + 300) {
        w.next = BLK / 2, w.end = size - 300;
        CHECK(p2v_layer_extents(ov, w.next, w.end - w.next, on_extent, &w) == 0 &&
                  w.next == w.end, "partial extents stop at %llu", (unsigned long long)w.next);
    }
    /* The changes: every changed block, once, in runs. */
    w.next = 0, w.calls = 0, w.changes = 0;
    CHECK(p2v_overlay_changes(ov, on_change, &w) == 0, "listing the changes fails");
    CHECK(w.changes == s->n, "%llu changed blocks listed, the index has %llu",
          (unsigned long long)w.changes, (unsigned long long)s->n);
    uint8_t digest[16];
    p2v_overlay_digest(ov, digest);
}

/* Writes through a writable (or dry-run) overlay, and what the disk then
 * holds: disk (size bytes) is updated when it was known. */
static int write_some(struct p2v_layer *ov, uint8_t *disk, uint64_t size, int known, uint8_t seed)
{
    uint8_t buf[BLK + 300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(seed + i * 7);
    uint64_t b = seed % blocks_of(size), off = b * BLK;
    size_t len = off + BLK + 300 <= size ? BLK + 300 : (size_t)(size - off);
    int r = p2v_layer_write(ov, buf, len, off);
    if (r == 0 && known)
        memcpy(disk + off, buf, len);
    int r2 = p2v_layer_write(ov, buf, 10, size - 10);  /* the partial last block */
    if (r2 == 0 && known)
        memcpy(disk + size - 10, buf, 10);
    return r ? r : r2;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (!dir[0])
        setup();
    if (size < 4 || size > 1 << 20)
        return 0;
    unsigned flags = in[0];
    uint8_t pattern = in[1];
    size_t ilen = size - 4;
    size_t split_at = (size_t)in[2] | (size_t)in[3] << 8;
    if ((flags & SPLIT) && split_at < ilen)
        ilen = split_at;
    /* Copies: FIX_CRC edits them. */
    size_t dlen = size - 4 - ilen;
    uint8_t *idx = malloc(ilen + 1), *data = malloc(dlen + 1);
    CHECK(idx && data, "malloc");
    memcpy(idx, in + 4, ilen);
    memcpy(data, in + 4 + ilen, dlen);
    if (!(flags & SPLIT) || (flags & NO_DATA))
        dlen = 0;
    int have_data = (flags & SPLIT) && !(flags & NO_DATA);

    uint64_t disk_size = DEFAULT_SIZE;
    if ((flags & HDR_SIZE) && ilen >= HEADER && le64(idx + 32) > 0 && le64(idx + 32) <= MAX_SIZE)
        disk_size = le64(idx + 32);
    if ((flags & FIX_CRC) && ilen >= HEADER) {
        uint64_t n = le64(idx + 56);
        if (n <= (ilen - HEADER) / ENTRY) {
            for (uint64_t i = 0; i < n; i++) {
                uint8_t *e = idx + HEADER + i * ENTRY;
                uint64_t at = (uint64_t)le32(e + 8) * BLK;
                if (at + BLK <= dlen)
                    put32(e + 12, (uint32_t)crc32(0, data + at, BLK));
            }
            put32(idx + 64, (uint32_t)crc32(0, idx + HEADER, (uInt)(n * ENTRY)));
        }
        put32(idx + 68, (uint32_t)crc32(0, idx, 68));
    }

    /* The disk below. */
    uint8_t *below = calloc(1, disk_size), *disk = malloc(disk_size);
    CHECK(below && disk, "malloc");
    struct zebra z0 = { .pattern = pattern };
    for (uint64_t off = 0; off < disk_size; off++)
        if (zebra_data(&z0, off / BLK))
            below[off] = (uint8_t)(off * 31 + off / BLK);

    /* The state directory: the index (an empty input: none), the data. */
    unlink(index_path);
    unlink(data_path);
    unlink(tmp_path);
    int have_index = ilen > 0;
    if (have_index)
        put_file(index_path, idx, ilen);
    if (have_data)
        put_file(data_path, data, dlen);
    struct state s = judge(idx, ilen, disk_size, have_index);
    /* Read-only, a dry run (which must leave the files alone), writable. */
    for (int pass = 0; pass < 3; pass++) {
        unsigned mode = pass == 0 ? 0 : pass == 1 ? P2V_OVERLAY_SCRATCH : P2V_OVERLAY_WRITE;
        if ((pass == 1 && !(flags & SCRATCH)) || (pass == 2 && !(flags & WRITE)))
            continue;
        struct p2v_layer *mem, *ov;
        CHECK(p2v_memfile_open(below, disk_size, &mem) == 0, "p2v_memfile_open");
        struct zebra *z = calloc(1, sizeof *z);
        CHECK(z, "calloc");
        *z = (struct zebra){ .l = { &zebra_ops, mem, disk_size }, .pattern = pattern };
        int r = p2v_overlay_open(&z->l, dir, base_id, mode, &ov);
        CHECK(r <= 0, "p2v_overlay_open returned %d", r);
        /* A state that is not what overlay.c writes is refused; an empty
         * directory (or an index over no data) is an empty state. */
        CHECK(r < 0 || s.valid, "a damaged state opens (index %zu bytes)", ilen);
        if (r == 0 && !s.valid) {
            p2v_layer_close(ov);
            zebra_close(&z->l);
            continue;
        }
        if (r < 0) {
            CHECK(!s.valid || (s.n && !have_data) || mode != 0,
                  "a good state is refused: %s", strerror(-r));
            zebra_close(&z->l);
            continue;
        }
        if (mode == 0) {
            check_open(ov, &s, below, have_data ? data : NULL, dlen, disk_size, disk);
            p2v_layer_close(ov);
            zebra_close(&z->l);
            continue;
        }
        /* Writes go in, read back, and (unless a dry run) last. */
        int known = read_all(ov, disk, disk_size) == 0;
        int w = write_some(ov, disk, disk_size, known, pattern);
        uint8_t *after = malloc(disk_size);
        CHECK(after, "malloc");
        if (known && w == 0)
            CHECK(read_all(ov, after, disk_size) == 0 && !memcmp(after, disk, disk_size),
                  "what was written does not read back");
        int c = p2v_overlay_commit(ov);
        if (mode == P2V_OVERLAY_SCRATCH)
            CHECK(c == -EROFS || c == 0, "a dry run's commit returns %d", c);
        p2v_layer_close(ov);
        zebra_close(&z->l);
        if (mode == P2V_OVERLAY_WRITE && c == 0 && w == 0) {
            /* What p2v committed, p2v opens, and it holds the writes. */
            CHECK(p2v_memfile_open(below, disk_size, &mem) == 0, "p2v_memfile_open");
            r = p2v_overlay_open(mem, dir, base_id, 0, &ov);
            CHECK(r == 0, "a committed state does not open again: %s", strerror(-r));
            if (known)
                CHECK(read_all(ov, after, disk_size) == 0 && !memcmp(after, disk, disk_size),
                      "a committed state reads other bytes");
            p2v_layer_close(ov);
            p2v_layer_close(mem);
        }
        if (mode == P2V_OVERLAY_SCRATCH) {
            /* The index on disk is the one we wrote. */
            FILE *f = fopen(index_path, "rb");
            CHECK(!f == !have_index, "a dry run %s the index", f ? "creates" : "removes");
            if (f) {
                uint8_t *back = malloc(ilen + 1);
                CHECK(back && fread(back, 1, ilen + 1, f) == ilen && !memcmp(back, idx, ilen),
                      "a dry run changes the index");
                free(back);
                fclose(f);
            }
        }
        free(after);
    }
    free(below);
    free(disk);
    free(idx);
    free(data);
    return 0;
}
