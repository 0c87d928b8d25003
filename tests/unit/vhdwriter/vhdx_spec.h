/* An independent reader of VHDX files for the unit tests, written from
 * the specification (MS-VHDX, summarised in section 4 of
 * shared/reference/vhd-vhdx-format.md), not from the encoder's own
 * arithmetic: its GUIDs, field offsets, little-endian readers, CRC-32C and
 * chunk-ratio formula are all restated here.  parse_front checks
 * everything before the BAT, verify_bat the BAT and the blocks against a
 * fake source; check_image does both for one image. */
#ifndef P2V_TEST_VHDX_SPEC_H
#define P2V_TEST_VHDX_SPEC_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tests/unit/fake_layer.h"
#include "vhdwriter/vhdx.h"


#define KiB 1024ull
#define MiB (1024ull * 1024)
#define GiB (1024ull * MiB)
#define TiB (1024ull * GiB)

/* ---- the independent parser ------------------------------------------ */

static inline uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static inline uint32_t rd32(const uint8_t *p) { return rd16(p) | rd16(p + 2) << 16; }
static inline uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static inline int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The spec's "{8-4-4-4-12}" text in Microsoft's byte layout: Data1 (u32),
 * Data2 and Data3 (u16) little-endian, Data4 as written. */
static inline void guid_ms(const char *t, uint8_t out[16])
{
    uint8_t be[16];
    int n = 0;
    for (; *t; t++) {
        if (*t == '-')
            continue;
        int v = hexval(*t);
        assert_true(v >= 0);
        if (n % 2 == 0)
            be[n / 2] = (uint8_t)(v << 4);
        else
            be[n / 2] |= (uint8_t)v;
        n++;
    }
    assert_int_equal(n, 32);
    static const int order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
    for (int i = 0; i < 16; i++)
        out[i] = be[order[i]];
}

/* CRC-32C, bit at a time: reflected 0x82F63B78, init and final XOR ~0. */
static inline uint32_t crc32c_bitwise(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
    }
    return ~c;
}

/* The checksum of a structure of len bytes with its checksum field (at 4)
 * zeroed. */
static inline uint32_t crc_zeroed(const uint8_t *s, size_t len)
{
    uint8_t *copy = malloc(len);
    memcpy(copy, s, len);
    memset(copy + 4, 0, 4);
    uint32_t c = crc32c_bitwise(copy, len);
    free(copy);
    return c;
}

static inline int all_zero_bytes(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

#define GUID_BAT "2DC27766-F623-4200-9D64-115E9BFD4A08"
#define GUID_METADATA "8B7CA206-4790-4B9A-B8FE-575F050F886E"

static const struct {
    const char *guid;
    uint32_t len, flags;  /* flags: bit0 IsUser, bit1 IsVirtualDisk, bit2 IsRequired */
} meta_items[5] = {
    { "CAA16737-FA36-4D43-B3B6-33F0AA44E76B", 8, 0x4 },   /* File Parameters */
    { "2FA54224-CD1B-4876-B211-5DBED83BF4B8", 8, 0x6 },   /* Virtual Disk Size */
    { "BECA12AB-B2E6-4523-93EF-C309E000C746", 16, 0x6 },  /* Virtual Disk ID */
    { "8141BF1D-A96F-4709-BA47-F233A8FAAB5F", 4, 0x6 },   /* Logical Sector Size */
    { "CDA348C7-445D-4471-9CC9-E9885251C556", 4, 0x6 },   /* Physical Sector Size */
};
enum { M_FILE_PARAMS, M_DISK_SIZE, M_DISK_ID, M_LOGICAL, M_PHYSICAL };

struct info {
    uint64_t fsize;
    uint64_t log_off, log_len;
    uint64_t bat_off, bat_len, meta_off, meta_len;
    uint32_t bs, ls, ps;
    uint64_t disk_size;
    uint8_t disk_id[16];
    uint64_t seq[2];
    uint8_t hdr[2][4096];
};

static inline int overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

/* Reads and checks everything before the BAT: the file identifier, both
 * headers, both region tables, the log and the metadata region. */
static inline void parse_front(struct p2v_layer *v, struct info *x)
{
    memset(x, 0, sizeof *x);
    x->fsize = v->size;
    assert_true(v->size >= MiB);
    uint8_t *h = malloc(MiB);
    assert_int_equal(p2v_layer_read(v, h, MiB, 0), 0);

    /* File type identifier: signature, an optional 512-byte creator, zeros. */
    assert_memory_equal(h, "vhdxfile", 8);
    assert_true(all_zero_bytes(h + 8 + 512, 64 * KiB - 520));

    /* The two headers, 4 KiB each, at 64 and 128 KiB. */
    for (int k = 0; k < 2; k++) {
        const uint8_t *p = h + (k + 1) * 64 * KiB;
        assert_memory_equal(p, "head", 4);
        assert_int_equal(rd32(p + 4), crc_zeroed(p, 4096));
        x->seq[k] = rd64(p + 8);
        assert_false(all_zero_bytes(p + 16, 16));         /* FileWriteGuid */
        assert_false(all_zero_bytes(p + 32, 16));         /* DataWriteGuid */
        assert_true(all_zero_bytes(p + 48, 16));          /* LogGuid: no replay */
        assert_int_equal(rd16(p + 64), 0);                /* LogVersion */
        assert_int_equal(rd16(p + 66), 1);                /* Version */
        assert_int_equal(rd32(p + 68), MiB);              /* LogLength */
        assert_true(rd64(p + 72) == MiB);                 /* LogOffset */
        assert_true(all_zero_bytes(p + 80, 4096 - 80));
        assert_true(all_zero_bytes(p + 4096, 64 * KiB - 4096));
        memcpy(x->hdr[k], p, 4096);
    }
    assert_true(x->seq[0] + 1 == x->seq[1] || x->seq[1] + 1 == x->seq[0]);
    x->log_off = rd64(h + 64 * KiB + 72);
    x->log_len = rd32(h + 64 * KiB + 68);

    /* The region table and its copy. */
    const uint8_t *r = h + 192 * KiB;
    assert_memory_equal(r, h + 256 * KiB, 64 * KiB);
    assert_memory_equal(r, "regi", 4);
    assert_int_equal(rd32(r + 4), crc_zeroed(r, 64 * KiB));
    assert_int_equal(rd32(r + 8), 2);                     /* EntryCount */
    assert_int_equal(rd32(r + 12), 0);
    uint8_t gbat[16], gmeta[16];
    guid_ms(GUID_BAT, gbat);
    guid_ms(GUID_METADATA, gmeta);
    int seen_bat = 0, seen_meta = 0;
    for (int e = 0; e < 2; e++) {
        const uint8_t *ent = r + 16 + 32 * e;
        uint64_t off = rd64(ent + 16), len = rd32(ent + 24);
        assert_int_equal(rd32(ent + 28), 1);              /* Required */
        assert_int_equal(off % MiB, 0);
        assert_int_equal(len % MiB, 0);
        assert_true(len > 0);
        assert_true(off + len <= v->size);
        if (!memcmp(ent, gbat, 16)) {
            seen_bat++;
            x->bat_off = off, x->bat_len = len;
        } else if (!memcmp(ent, gmeta, 16)) {
            seen_meta++;
            x->meta_off = off, x->meta_len = len;
        } else {
            fail_msg("unknown region GUID in entry %d", e);
        }
    }
    assert_int_equal(seen_bat, 1);
    assert_int_equal(seen_meta, 1);
    assert_true(all_zero_bytes(r + 16 + 64, 64 * KiB - 80));
    assert_true(all_zero_bytes(h + 320 * KiB, MiB - 320 * KiB));

    /* No two of header section, log, BAT and metadata overlap. */
    uint64_t objs[4][2] = { { 0, MiB }, { x->log_off, x->log_len },
                            { x->bat_off, x->bat_len }, { x->meta_off, x->meta_len } };
    for (int a = 0; a < 4; a++)
        for (int b = a + 1; b < 4; b++)
            assert_false(overlap(objs[a][0], objs[a][1], objs[b][0], objs[b][1]));
    free(h);

    /* The log: LogGuid is zero, so any content is ignored; p2v's is zeros. */
    uint8_t *log = malloc(x->log_len);
    assert_int_equal(p2v_layer_read(v, log, x->log_len, x->log_off), 0);
    assert_true(all_zero_bytes(log, x->log_len));
    free(log);

    /* The metadata region: a 64 KiB table, then the items. */
    uint8_t *m = malloc(x->meta_len);
    assert_int_equal(p2v_layer_read(v, m, x->meta_len, x->meta_off), 0);
    assert_memory_equal(m, "metadata", 8);
    assert_int_equal(rd16(m + 8), 0);
    assert_int_equal(rd16(m + 10), 5);                     /* EntryCount */
    assert_true(all_zero_bytes(m + 12, 20));
    uint32_t item_off[5];
    for (int k = 0; k < 5; k++) {
        uint8_t g[16];
        guid_ms(meta_items[k].guid, g);
        int found = 0;
        for (int e = 0; e < 5; e++) {
            const uint8_t *ent = m + 32 + 32 * e;
            if (memcmp(ent, g, 16))
                continue;
            found++;
            item_off[k] = rd32(ent + 16);
            assert_int_equal(rd32(ent + 20), meta_items[k].len);
            assert_int_equal(rd32(ent + 24), meta_items[k].flags);
            assert_int_equal(rd32(ent + 28), 0);
            assert_true(item_off[k] >= 64 * KiB);
            assert_true(item_off[k] + meta_items[k].len <= x->meta_len);
        }
        assert_int_equal(found, 1);
    }
    assert_true(all_zero_bytes(m + 32 + 5 * 32, 64 * KiB - 32 - 5 * 32));
    for (int a = 0; a < 5; a++)
        for (int b = a + 1; b < 5; b++)
            assert_false(overlap(item_off[a], meta_items[a].len, item_off[b], meta_items[b].len));
    const uint8_t *fp = m + item_off[M_FILE_PARAMS];
    x->bs = rd32(fp);
    assert_int_equal(rd32(fp + 4) & 2, 0);                 /* HasParent: no */
    assert_int_equal(rd32(fp + 4) >> 2, 0);                /* reserved */
    x->disk_size = rd64(m + item_off[M_DISK_SIZE]);
    memcpy(x->disk_id, m + item_off[M_DISK_ID], 16);
    assert_false(all_zero_bytes(x->disk_id, 16));
    x->ls = rd32(m + item_off[M_LOGICAL]);
    x->ps = rd32(m + item_off[M_PHYSICAL]);
    free(m);
    assert_true(x->bs >= MiB && x->bs <= 256 * MiB && !(x->bs & (x->bs - 1)));
    assert_true(x->ls == 512 || x->ls == 4096);
    assert_true(x->ps == 512 || x->ps == 4096);
    assert_true(x->disk_size > 0 && x->disk_size <= 64 * TiB);
    assert_int_equal(x->disk_size % x->ls, 0);
}

/* ---- blocks and the BAT ---------------------------------------------- */

/* Does the source hold data in [off, off+len)?  (The fake says so per
 * 2 MiB block; with report_holes the encoder learns it from extents.) */
static inline int source_has_data(const struct fake *f, uint64_t off, uint64_t len)
{
    if (!f->is_zero || !f->report_holes)
        return 1;
    for (uint64_t b = off / FAKE_BLOCK; b <= (off + len - 1) / FAKE_BLOCK; b++)
        if (!f->is_zero(b))
            return 1;
    return 0;
}

/* Payload block i (disk bytes [i*bs, ...)) stored at file offset foff:
 * the source's bytes, then zeros past the end of the disk.  Blocks over
 * 2 MiB are compared in windows: head, the disk's end, tail. */
static inline void check_block(struct p2v_layer *v, struct fake *f, uint64_t foff, uint64_t i,
                               uint32_t bs)
{
    uint64_t start = i * bs;
    uint64_t valid = f->l.size - start < bs ? f->l.size - start : bs;
    const uint64_t W = 256 * KiB;
    uint64_t a = valid > W ? valid - W : 0, b = valid + W < bs ? valid + W : bs;
    const uint64_t windows[3][2] = { { 0, W }, { a, b - a }, { bs - W, W } };  /* offset, length */
    const uint64_t whole[1][2] = { { 0, bs } };
    const uint64_t (*win)[2] = bs <= 2 * MiB ? whole : windows;
    int nw = bs <= 2 * MiB ? 1 : 3;
    uint8_t *got = malloc(bs <= 2 * MiB ? bs : 2 * W), *want = malloc(bs <= 2 * MiB ? bs : 2 * W);
    for (int w = 0; w < nw; w++) {
        uint64_t o = win[w][0], n = win[w][1];
        memset(got, 0x5A, n);
        assert_int_equal(p2v_layer_read(v, got, n, foff + o), 0);
        uint64_t have = o >= valid ? 0 : (valid - o < n ? valid - o : n);
        memset(want, 0, n);
        if (have)
            assert_int_equal(fake_read(&f->l, want, have, start + o), 0);
        assert_memory_equal(got, want, n);
    }
    free(got);
    free(want);
}

struct batres {
    uint64_t pb, cr, entries, present;
};

static inline int is_sample(uint64_t i, uint64_t cr, uint64_t pb)
{
    return i < 3 || i + 3 > pb || i % cr <= 1 || i % cr + 2 >= cr;
}

/* Checks the whole BAT of a file parsed into x, over the source f; all: compare
 * every present block, else a sample around the start, the end and each
 * chunk boundary. */
static inline void verify_bat(struct p2v_layer *v, const struct info *x, struct fake *f,
                              int dynamic, int all, struct batres *res)
{
    uint64_t cr = (1ull << 23) * x->ls / x->bs;
    uint64_t pb = (x->disk_size + x->bs - 1) / x->bs;
    uint64_t n = pb + (pb - 1) / cr;
    assert_true(x->bat_len == (n * 8 + MiB - 1) / MiB * MiB);  /* rounded up to 1 MiB */
    uint8_t *raw = malloc(x->bat_len);
    assert_int_equal(p2v_layer_read(v, raw, x->bat_len, x->bat_off), 0);
    assert_true(all_zero_bytes(raw + n * 8, x->bat_len - n * 8));
    /* Sector bitmap entries, after every chunk: SB_BLOCK_NOT_PRESENT. */
    for (uint64_t j = cr; j < n; j += cr + 1)
        assert_true(rd64(raw + j * 8) == 0);
    uint64_t prev_end = 0, present = 0;
    for (uint64_t i = 0; i < pb; i++) {
        uint64_t j = i + i / cr;
        assert_true(j < n && j % (cr + 1) != cr);
        uint64_t e = rd64(raw + j * 8);
        assert_true((e & 0xFFFF8) == 0);                   /* bits 3-19 reserved */
        uint64_t len = x->disk_size - i * x->bs < x->bs ? x->disk_size - i * x->bs : x->bs;
        if (dynamic && !source_has_data(f, i * x->bs, len)) {
            assert_true(e == 0);                           /* NOT_PRESENT, offset 0 */
            continue;
        }
        assert_int_equal(e & 7, 6);                        /* FULLY_PRESENT */
        uint64_t off = (e >> 20) * MiB;
        assert_true(off >= prev_end);                      /* in order, no overlap */
        assert_true(off >= MiB);
        assert_false(overlap(off, x->bs, x->log_off, x->log_len));
        assert_false(overlap(off, x->bs, x->meta_off, x->meta_len));
        assert_false(overlap(off, x->bs, x->bat_off, x->bat_len));
        assert_true(off + x->bs <= x->fsize);
        prev_end = off + x->bs;
        present++;
        if (all || is_sample(i, cr, pb))
            check_block(v, f, off, i, x->bs);
    }
    free(raw);
    /* The file ends with its last object: no unreferenced tail. */
    uint64_t end = prev_end;
    if (x->bat_off + x->bat_len > end)
        end = x->bat_off + x->bat_len;
    if (x->meta_off + x->meta_len > end)
        end = x->meta_off + x->meta_len;
    assert_true(end == x->fsize);

    struct p2v_vhdx_layout lay;
    p2v_vhdx_describe(v, &lay);
    assert_true(lay.file_size == v->size);
    assert_true(lay.blocks_total == pb);
    assert_true(lay.blocks_present == present);
    assert_int_equal(lay.block_size, x->bs);
    if (res)
        *res = (struct batres){ pb, cr, n, present };
}

/* ---- helpers ---------------------------------------------------------- */

static inline int holes_fine(uint64_t b) { return b % 5 == 1 || b % 5 == 2; }  /* 2 MiB grain */
static inline int holes_coarse(uint64_t b) { return (b / 16) % 3 == 1; }       /* 32 MiB grain */
static inline int all_zero(uint64_t b) { (void)b; return 1; }

static inline int open_vhdx(struct fake *f, int dynamic, uint32_t bs, uint32_t ls, uint32_t ps,
                            uint8_t id, struct p2v_layer **v)
{
    struct p2v_vhdx_params p = { .dynamic = dynamic, .block_size = bs, .logical_sector = ls,
                                 .physical_sector = ps };
    memset(p.unique_id, id, 16);
    *v = NULL;
    return p2v_vhdx_open(&f->l, &p, v);
}

static inline struct p2v_layer *must_open(struct fake *f, int dynamic, uint32_t bs, uint32_t ls,
                                          uint32_t ps, uint8_t id)
{
    struct p2v_layer *v;
    assert_int_equal(open_vhdx(f, dynamic, bs, ls, ps, id, &v), 0);
    assert_non_null(v);
    assert_true(p2v_is_vhdx(v));
    return v;
}

/* Opens, parses and checks a whole image; returns the BAT summary. */
static inline struct batres check_image(struct fake *f, int dynamic, uint32_t bs, uint32_t ls,
                                        uint32_t ps, int all)
{
    struct p2v_layer *v = must_open(f, dynamic, bs, ls, ps, 1);
    struct info x;
    parse_front(v, &x);
    assert_true(x.disk_size == f->l.size);
    assert_int_equal(x.bs, bs ? bs : 32 * MiB);
    assert_int_equal(x.ls, ls ? ls : 512);
    struct batres r;
    verify_bat(v, &x, f, dynamic, all, &r);
    p2v_layer_close(v);
    return r;
}

#endif
