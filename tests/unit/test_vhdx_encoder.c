/* The VHDX encoder layer: CRC-32C, the header section, the region tables,
 * the metadata region, BAT arithmetic around chunk boundaries, the data
 * blocks, straddling reads, dynamic vs fixed, 4096-byte sectors, limits,
 * determinism and error propagation.
 * The file is checked with a small parser written here from the
 * specification (MS-VHDX, summarised in section 4 of
 * shared/reference/vhd-vhdx-format.md), not with the encoder's own
 * arithmetic: its GUIDs, field offsets, little-endian readers, CRC-32C and
 * chunk-ratio formula are all restated below.  Big disks are fake layers
 * (computed, no memory); only their BAT and a sample of blocks are read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fake_layer.h"
#include "../../core/crc32c.h"
#include "../../vhdwriter/vhdx.h"

#include <stdio.h>

#define KiB 1024ull
#define MiB (1024ull * 1024)
#define GiB (1024ull * MiB)
#define TiB (1024ull * GiB)

/* ---- the independent parser ------------------------------------------ */

static uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static int hexval(char c)
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
static void guid_ms(const char *t, uint8_t out[16])
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
static uint32_t crc32c_bitwise(const uint8_t *p, size_t n)
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
static uint32_t crc_zeroed(const uint8_t *s, size_t len)
{
    uint8_t *copy = malloc(len);
    memcpy(copy, s, len);
    memset(copy + 4, 0, 4);
    uint32_t c = crc32c_bitwise(copy, len);
    free(copy);
    return c;
}

static int all_zero_bytes(const uint8_t *p, size_t n)
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

static int overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

/* Reads and checks everything before the BAT: the file identifier, both
 * headers, both region tables, the log and the metadata region. */
static void parse_front(struct p2v_layer *v, struct info *x)
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
static int source_has_data(const struct fake *f, uint64_t off, uint64_t len)
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
static void check_block(struct p2v_layer *v, struct fake *f, uint64_t foff, uint64_t i, uint32_t bs)
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

static int is_sample(uint64_t i, uint64_t cr, uint64_t pb)
{
    return i < 3 || i + 3 > pb || i % cr <= 1 || i % cr + 2 >= cr;
}

/* Checks the whole BAT of a file parsed into x, over the source f; all: compare
 * every present block, else a sample around the start, the end and each
 * chunk boundary. */
static void verify_bat(struct p2v_layer *v, const struct info *x, struct fake *f, int dynamic,
                       int all, struct batres *res)
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

static int holes_fine(uint64_t b) { return b % 5 == 1 || b % 5 == 2; }  /* 2 MiB grain */
static int holes_coarse(uint64_t b) { return (b / 16) % 3 == 1; }       /* 32 MiB grain */
static int all_zero(uint64_t b) { (void)b; return 1; }

static int open_vhdx(struct fake *f, int dynamic, uint32_t bs, uint32_t ls, uint32_t ps, uint8_t id,
                     struct p2v_layer **v)
{
    struct p2v_vhdx_params p = { .dynamic = dynamic, .block_size = bs, .logical_sector = ls,
                                 .physical_sector = ps };
    memset(p.unique_id, id, 16);
    *v = NULL;
    return p2v_vhdx_open(&f->l, &p, v);
}

static struct p2v_layer *must_open(struct fake *f, int dynamic, uint32_t bs, uint32_t ls,
                                   uint32_t ps, uint8_t id)
{
    struct p2v_layer *v;
    assert_int_equal(open_vhdx(f, dynamic, bs, ls, ps, id, &v), 0);
    assert_non_null(v);
    assert_true(p2v_is_vhdx(v));
    return v;
}

/* Opens, parses and checks a whole image; returns the BAT summary. */
static struct batres check_image(struct fake *f, int dynamic, uint32_t bs, uint32_t ls,
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

/* ---- tests ------------------------------------------------------------ */

static void crc32c_and_guids(void **state)
{
    (void)state;
    assert_int_equal(p2v_crc32c("123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c_bitwise((const uint8_t *)"123456789", 9), 0xE3069283u);
    assert_int_equal(p2v_crc32c("", 0), 0);
    static uint8_t buf[65536 + 1];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 131 + (i >> 8) * 7);
    static const size_t lens[] = { 1, 2, 3, 7, 8, 63, 64, 65, 4095, 4096, 65536 };
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
        assert_int_equal(p2v_crc32c(buf + 1, lens[i]), crc32c_bitwise(buf + 1, lens[i]));
    /* The parser's GUID layout, against the bytes the spec's BAT GUID has
     * on disk in every VHDX file. */
    static const uint8_t bat[16] = { 0x66, 0x77, 0xC2, 0x2D, 0x23, 0xF6, 0x00, 0x42,
                                     0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08 };
    uint8_t g[16];
    guid_ms(GUID_BAT, g);
    assert_memory_equal(g, bat, 16);
}

/* Small disks, every block compared: sizes that are and are not multiples
 * of the block size, with the last partial block present or a hole. */
static void small_images_match_spec(void **state)
{
    (void)state;
    static const struct { uint64_t size; uint32_t bs; int (*zero)(uint64_t); uint64_t present; } c[] = {
        { 11 * MiB + 1536, MiB, holes_fine, 8 },       /* partial last block, data */
        { 13 * MiB + 1536, MiB, holes_fine, 8 },       /* partial last block, hole */
        { 40 * MiB, MiB, holes_fine, 24 },
        { 7 * MiB + 4096, 2 * MiB, holes_fine, 2 },    /* blocks 0 and 3 */
        { 65 * MiB + 512, 0, holes_coarse, 2 },        /* 32 MiB default: block 1 a hole */
        { 3 * 32 * MiB, 0, holes_coarse, 2 },
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        struct fake f = fake_make(c[i].size, (uint32_t)i + 1, c[i].zero);
        f.report_holes = 1;
        struct batres r = check_image(&f, 1, c[i].bs, 512, 512, 1);
        assert_true(r.pb == (c[i].size + (c[i].bs ? c[i].bs : 32 * MiB) - 1) /
                                (c[i].bs ? c[i].bs : 32 * MiB));
        assert_true(r.present == c[i].present);
        assert_true(r.entries == r.pb);                  /* one chunk: no bitmap entry */
    }
}

/* 1 MiB blocks, 512-byte sectors: chunk ratio 4096.  PB = CR-1, CR, CR+1,
 * 2CR, 2CR+1. */
static void chunk_boundaries_1mib(void **state)
{
    (void)state;
    static const struct { uint64_t mib, entries; } c[] = {
        { 4095, 4095 }, { 4096, 4096 }, { 4097, 4098 }, { 8192, 8193 }, { 8193, 8195 },
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        struct fake f = fake_make(c[i].mib * MiB, (uint32_t)i + 10, holes_fine);
        f.report_holes = 1;
        struct batres r = check_image(&f, 1, MiB, 512, 512, 0);
        assert_true(r.cr == 4096);
        assert_true(r.pb == c[i].mib);
        assert_true(r.entries == c[i].entries);
        uint64_t want = 0;                               /* 1 MiB block b is in fake block b/2 */
        for (uint64_t b = 0; b < c[i].mib; b++)
            want += !holes_fine(b / 2);
        assert_true(r.present == want);
    }
    /* The same boundary, fixed: every block present, the bitmap slot skipped. */
    struct fake f = fake_make(4097 * MiB, 3, holes_fine);
    f.report_holes = 1;
    struct batres r = check_image(&f, 0, MiB, 512, 512, 0);
    assert_true(r.present == 4097 && r.entries == 4098);

    /* 131041 blocks: 131041 + 31 = 131072 entries, a BAT of exactly 1 MiB
     * with no padding; the first block follows it. */
    struct fake g = fake_make(131041 * MiB, 4, NULL);
    struct p2v_layer *v = must_open(&g, 0, MiB, 512, 512, 1);
    struct info x;
    parse_front(v, &x);
    assert_true(x.bat_len == MiB);
    uint8_t e8[8];
    assert_int_equal(p2v_layer_read(v, e8, 8, x.bat_off + MiB - 8), 0);
    assert_int_equal(rd64(e8) & 7, 6);                   /* block 131040, the last */
    assert_true((rd64(e8) >> 20) * MiB + MiB == v->size);
    assert_int_equal(p2v_layer_read(v, e8, 8, x.bat_off + 4096 * 8), 0);
    assert_true(rd64(e8) == 0);                          /* the first bitmap entry */
    assert_int_equal(p2v_layer_read(v, e8, 8, x.bat_off), 0);
    assert_true((rd64(e8) >> 20) * MiB >= x.bat_off + x.bat_len);
    p2v_layer_close(v);
}

/* Other chunk ratios: 32 MiB blocks (128 with 512-byte sectors, 1024 with
 * 4096), 1 MiB with 4096 (32768), 256 MiB (16). */
static void chunk_ratios_and_4k_sectors(void **state)
{
    (void)state;
    struct fake f = fake_make(129 * 32 * MiB, 4, holes_coarse);
    f.report_holes = 1;
    struct batres r = check_image(&f, 1, 0, 512, 512, 0);
    assert_true(r.cr == 128 && r.pb == 129 && r.entries == 130);
    assert_true(r.present == 86);                        /* i % 3 != 1 */

    f = fake_make(1025 * 32 * MiB, 5, holes_coarse);
    f.report_holes = 1;
    struct p2v_layer *v = must_open(&f, 1, 32 * MiB, 4096, 0, 1);
    struct info x;
    parse_front(v, &x);
    assert_int_equal(x.ls, 4096);
    assert_int_equal(x.ps, 4096);                        /* physical >= logical */
    verify_bat(v, &x, &f, 1, 0, &r);
    assert_true(r.cr == 1024 && r.pb == 1025 && r.entries == 1026);
    p2v_layer_close(v);

    f = fake_make(40 * MiB, 6, holes_fine);
    f.report_holes = 1;
    r = check_image(&f, 1, MiB, 4096, 4096, 1);
    assert_true(r.cr == 32768 && r.entries == 40);

    /* 512-byte logical on a 4096-byte physical disk (512e). */
    f = fake_make(40 * MiB, 6, holes_fine);
    v = must_open(&f, 1, MiB, 512, 4096, 1);
    parse_front(v, &x);
    assert_int_equal(x.ls, 512);
    assert_int_equal(x.ps, 4096);
    p2v_layer_close(v);

    f = fake_make(17 * 256 * MiB + 4096, 7, NULL);
    r = check_image(&f, 1, 256 * MiB, 512, 512, 0);
    assert_true(r.cr == 16 && r.pb == 18 && r.entries == 19 && r.present == 18);
}

static void dynamic_vs_fixed(void **state)
{
    (void)state;
    struct fake f = fake_make(20 * MiB, 8, holes_fine);
    f.report_holes = 1;
    struct batres r = check_image(&f, 0, MiB, 512, 512, 1);
    assert_true(r.present == 20);
    r = check_image(&f, 1, MiB, 512, 512, 1);
    assert_true(r.present == 12);                        /* fake blocks 0,3,4,5,8,9 */

    /* Without hole reports every block may hold data. */
    f.report_holes = 0;
    r = check_image(&f, 1, MiB, 512, 512, 1);
    assert_true(r.present == 20);

    /* Nothing but zeros: no block at all, the file ends with the BAT. */
    struct fake z = fake_make(20 * MiB, 8, all_zero);
    z.report_holes = 1;
    r = check_image(&z, 1, MiB, 512, 512, 1);
    assert_true(r.present == 0);
    r = check_image(&z, 0, MiB, 512, 512, 1);
    assert_true(r.present == 20);
}

/* Every read at and around every structure boundary, in lengths from 1
 * byte to 2 MiB, starting or ending there, must equal the same slice of one
 * whole-file read. */
static void check_slices(struct p2v_layer *v, const uint8_t *whole, const uint64_t *bounds,
                         size_t nb)
{
    static const size_t lens[] = { 1,     2,     7,     8,     9,         511,     512,
                                   513,   4095,  4096,  4097,  65535,     65536,   65537,
                                   MiB-1, MiB,   MiB+1, 2 * MiB };
    static const size_t nlens = sizeof lens / sizeof *lens;
    uint8_t *buf = malloc(2 * MiB);
    for (size_t i = 0; i < nb; i++) {
        int dup = 0;
        for (size_t k = 0; k < i; k++)
            dup |= bounds[k] == bounds[i];
        if (dup)
            continue;
        for (int d = -2; d <= 2; d++) {
            for (size_t j = 0; j < nlens; j++) {
                if (lens[j] >= 65536 && (d == -2 || d == 2))
                    continue;                            /* keep it fast: */
                for (int end = 0; end < 2; end++) {
                    if (lens[j] >= MiB - 1 && d != (end ? 1 : -1))
                        continue;                        /* 1 MiB+ only across it */
                    int64_t at = (int64_t)bounds[i] + d - (end ? (int64_t)lens[j] : 0);
                    if (at < 0 || (uint64_t)at >= v->size)
                        continue;
                    uint64_t off = (uint64_t)at;
                    size_t len = lens[j] < v->size - off ? lens[j] : v->size - off;
                    memset(buf, 0x5A, len);
                    assert_int_equal(p2v_layer_read(v, buf, len, off), 0);
                    assert_memory_equal(buf, whole + off, len);
                }
            }
        }
    }
    free(buf);
}

static void reads_straddle_every_boundary(void **state)
{
    (void)state;
    struct fake f = fake_make(9 * MiB + 1536, 5, holes_fine);
    f.report_holes = 1;
    struct p2v_layer *v = must_open(&f, 1, MiB, 512, 512, 3);
    struct info x;
    parse_front(v, &x);
    struct batres r;
    verify_bat(v, &x, &f, 1, 1, &r);
    uint8_t *whole = read_all(v);                        /* one call */
    assert_non_null(whole);

    uint64_t bounds[64];
    size_t nb = 0;
    bounds[nb++] = 0;
    bounds[nb++] = 64 * KiB;                             /* ident / header 1 */
    bounds[nb++] = 64 * KiB + 4096;
    bounds[nb++] = 128 * KiB;                            /* header 1 / header 2 */
    bounds[nb++] = 192 * KiB;                            /* header 2 / region 1 */
    bounds[nb++] = 256 * KiB;                            /* region 1 / region 2 */
    bounds[nb++] = 320 * KiB;                            /* region 2 / zeros */
    bounds[nb++] = x.log_off;                            /* zeros / log */
    bounds[nb++] = x.log_off + x.log_len;
    bounds[nb++] = x.meta_off;                           /* log / metadata */
    bounds[nb++] = x.meta_off + 64 * KiB;                /* table / items */
    bounds[nb++] = x.meta_off + x.meta_len;
    bounds[nb++] = x.bat_off;                            /* metadata / BAT */
    bounds[nb++] = x.bat_off + r.entries * 8;
    bounds[nb++] = x.bat_off + x.bat_len;                /* BAT / data */
    for (uint64_t i = 0; i < r.pb; i++) {
        uint64_t e = rd64(whole + x.bat_off + (i + i / r.cr) * 8);
        if (!(e & 7))
            continue;
        uint64_t off = (e >> 20) * MiB;
        bounds[nb++] = off;                              /* BAT / block, block / block */
        if (i == r.pb - 1)
            bounds[nb++] = off + f.l.size - i * MiB;     /* the disk's end */
    }
    bounds[nb++] = v->size - 1;                          /* last byte */
    bounds[nb++] = v->size;
    assert_true(nb <= 64);
    check_slices(v, whole, bounds, nb);

    /* End of file: an empty read is fine, one byte past is refused. */
    uint8_t byte;
    assert_int_equal(p2v_layer_read(v, &byte, 0, v->size), 0);
    assert_int_not_equal(p2v_layer_read(v, &byte, 1, v->size), 0);
    assert_int_not_equal(p2v_layer_read(v, &byte, 2, v->size - 1), 0);
    assert_int_equal(p2v_layer_read(v, &byte, 1, v->size - 1), 0);
    assert_int_equal(byte, whole[v->size - 1]);
    free(whole);
    p2v_layer_close(v);
}

static void size_limits(void **state)
{
    (void)state;
    struct p2v_layer *v;
    /* 64 TiB exactly: accepted; its BAT sampled at the ends and chunks. */
    static const uint32_t bss[] = { 0, MiB, 256 * MiB };  /* 1 MiB: a 513 MiB BAT */
    for (size_t k = 0; k < sizeof bss / sizeof *bss; k++) {
        struct fake f = fake_make(64 * TiB, 11, NULL);
        v = must_open(&f, 1, bss[k], 512, 512, 2);
        struct info x;
        parse_front(v, &x);
        assert_true(x.disk_size == 64 * TiB);
        uint64_t bs = x.bs, cr = (1ull << 23) * 512 / bs, pb = 64 * TiB / bs;
        uint64_t n = pb + (pb - 1) / cr;
        assert_true(x.bat_len == (n * 8 + MiB - 1) / MiB * MiB);
        uint64_t samples[] = { 0, 1, cr - 1, cr, cr + 1, pb / 2, pb - cr, pb - 2, pb - 1 };
        uint64_t prev = 0;
        for (size_t s = 0; s < sizeof samples / sizeof *samples; s++) {
            uint64_t i = samples[s], j = i + i / cr;
            uint8_t e8[8], bm[8];
            assert_int_equal(p2v_layer_read(v, e8, 8, x.bat_off + j * 8), 0);
            uint64_t e = rd64(e8);
            assert_int_equal(e & 0xFFFFF, 6);
            uint64_t off = (e >> 20) * MiB;
            assert_true(off >= x.bat_off + x.bat_len);
            if (s)
                assert_true(off > prev);                 /* in disk order */
            prev = off;
            if (i % cr == cr - 1 && j + 1 < n) {         /* its chunk's bitmap entry */
                assert_int_equal(p2v_layer_read(v, bm, 8, x.bat_off + (j + 1) * 8), 0);
                assert_true(rd64(bm) == 0);
            }
            if (i == pb - 1)
                assert_true(off + bs == v->size);
            if (i == 0 || i == pb - 1 || i == cr) {
                uint8_t got[4096], want[4096];
                for (int end = 0; end < 2; end++) {
                    uint64_t o = end ? bs - 4096 : 0;
                    assert_int_equal(p2v_layer_read(v, got, 4096, off + o), 0);
                    assert_int_equal(fake_read(&f.l, want, 4096, i * bs + o), 0);
                    assert_memory_equal(got, want, 4096);
                }
            }
        }
        struct p2v_vhdx_layout lay;
        p2v_vhdx_describe(v, &lay);
        assert_true(lay.blocks_total == pb && lay.blocks_present == pb);
        assert_true(lay.file_size == v->size);
        p2v_layer_close(v);
    }
    assert_int_equal(p2v_vhdx_check(64 * TiB, 512, 32 * MiB), 0);
    assert_int_equal(p2v_vhdx_check(64 * TiB, 4096, MiB), 0);

    /* One sector over: refused. */
    struct fake over = fake_make(64 * TiB + 4096, 1, NULL);
    assert_int_equal(open_vhdx(&over, 1, 0, 512, 512, 1, &v), -EFBIG);
    assert_int_equal(open_vhdx(&over, 1, 0, 4096, 4096, 1, &v), -EFBIG);
    assert_int_equal(p2v_vhdx_check(64 * TiB + 4096, 512, 32 * MiB), -EFBIG);

    /* Block sizes: powers of two from 1 to 256 MiB. */
    struct fake f = fake_make(20 * MiB, 12, NULL);
    static const uint32_t good[] = { MiB, 2 * MiB, 8 * MiB, 64 * MiB, 256 * MiB };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        v = must_open(&f, 1, good[i], 512, 512, 1);
        struct info x;
        parse_front(v, &x);
        assert_int_equal(x.bs, good[i]);
        p2v_layer_close(v);
    }
    static const uint32_t bad[] = { 3 * MiB, 512 * KiB, 512 * MiB, 4096, 48 * MiB, 0x80000000u };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(open_vhdx(&f, 1, bad[i], 512, 512, 1, &v), -EINVAL);
        assert_int_equal(p2v_vhdx_check(20 * MiB, 512, bad[i]), -EINVAL);
    }

    /* Sizes: a multiple of the logical sector. */
    struct fake odd = fake_make(20 * MiB + 100, 1, NULL);
    assert_int_equal(open_vhdx(&odd, 1, MiB, 512, 512, 1, &v), -EINVAL);
    struct fake odd4k = fake_make(20 * MiB + 512, 1, NULL);
    assert_int_equal(open_vhdx(&odd4k, 1, MiB, 4096, 4096, 1, &v), -EINVAL);
    v = must_open(&odd4k, 1, MiB, 512, 512, 1);
    p2v_layer_close(v);
    struct fake empty = fake_make(0, 1, NULL);
    assert_int_equal(open_vhdx(&empty, 1, MiB, 512, 512, 1, &v), -EINVAL);
    assert_int_equal(open_vhdx(&f, 1, MiB, 1024, 1024, 1, &v), -EINVAL);
}

static void deterministic_guids(void **state)
{
    (void)state;
    struct fake f = fake_make(6 * MiB, 3, holes_fine);
    f.report_holes = 1;
    struct p2v_layer *a = must_open(&f, 1, MiB, 512, 512, 7);
    struct p2v_layer *b = must_open(&f, 1, MiB, 512, 512, 7);
    struct p2v_layer *c = must_open(&f, 1, MiB, 512, 512, 8);
    assert_true(a->size == b->size && a->size == c->size && a->size >= 4 * MiB);
    uint8_t *fa = malloc(4 * MiB), *fb = malloc(4 * MiB), *fc = malloc(4 * MiB);
    assert_int_equal(p2v_layer_read(a, fa, 4 * MiB, 0), 0);
    assert_int_equal(p2v_layer_read(b, fb, 4 * MiB, 0), 0);
    assert_int_equal(p2v_layer_read(c, fc, 4 * MiB, 0), 0);
    assert_memory_equal(fa, fb, 4 * MiB);

    struct info xa, xc;
    parse_front(a, &xa);
    parse_front(c, &xc);
    for (int k = 0; k < 2; k++) {
        assert_memory_not_equal(xa.hdr[k] + 16, xc.hdr[k] + 16, 16);  /* FileWriteGuid */
        assert_memory_not_equal(xa.hdr[k] + 32, xc.hdr[k] + 32, 16);  /* DataWriteGuid */
        assert_memory_not_equal(xa.hdr[k] + 4, xc.hdr[k] + 4, 4);     /* its CRC */
    }
    assert_memory_not_equal(xa.disk_id, xc.disk_id, 16);
    /* Within one image the two headers carry the same GUIDs. */
    assert_memory_equal(xa.hdr[0] + 16, xa.hdr[1] + 16, 32);
    /* FileWriteGuid, DataWriteGuid and the disk id are three GUIDs. */
    assert_memory_not_equal(xa.hdr[0] + 16, xa.hdr[0] + 32, 16);
    assert_memory_not_equal(xa.hdr[0] + 16, xa.disk_id, 16);
    /* Nothing else moves: identifier, region tables, log, BAT. */
    assert_memory_equal(fa, fc, 64 * KiB);
    assert_memory_equal(fa + 192 * KiB, fc + 192 * KiB, 2 * MiB - 192 * KiB);
    assert_memory_equal(fa + 3 * MiB, fc + 3 * MiB, MiB);
    free(fa);
    free(fb);
    free(fc);
    p2v_layer_close(a);
    p2v_layer_close(b);
    p2v_layer_close(c);
}

static void source_errors_propagate(void **state)
{
    (void)state;
    struct fake f = fake_make(8 * MiB, 2, NULL);
    struct p2v_layer *v = must_open(&f, 1, MiB, 512, 512, 9);
    struct info x;
    parse_front(v, &x);
    f.fail_at = 5 * MiB + 17;                            /* inside block 5 */
    uint8_t e8[8], buf[8192];
    assert_int_equal(p2v_layer_read(v, e8, 8, x.bat_off + 5 * 8), 0);
    uint64_t b5 = (rd64(e8) >> 20) * MiB;
    assert_int_equal(rd64(e8) & 7, 6);
    assert_int_equal(p2v_layer_read(v, buf, 4096, b5), -EIO);
    assert_int_equal(p2v_layer_read(v, buf, 4096, b5 + 4096), 0);
    assert_int_equal(p2v_layer_read(v, buf, sizeof buf, b5 - 4096), -EIO);  /* from block 4 */
    assert_int_equal(p2v_layer_read(v, e8, 8, x.bat_off + 4 * 8), 0);
    assert_int_equal(p2v_layer_read(v, buf, 4096, (rd64(e8) >> 20) * MiB), 0);
    /* Structures never touch the source. */
    assert_int_equal(p2v_layer_read(v, buf, 4096, 0), 0);
    assert_int_equal(p2v_layer_read(v, buf, 4096, x.bat_off), 0);
    p2v_layer_close(v);
}

static int extent_cb(void *ctx, uint64_t off, uint64_t len, int is_data)
{
    uint64_t *acc = ctx;  /* [0] next offset, [1] zero bytes */
    assert_true(off == acc[0]);
    assert_true(len > 0);
    if (!is_data)
        acc[1] += len;
    acc[0] = off + len;
    return 0;
}

static int zero_check_cb(void *ctx, uint64_t off, uint64_t len, int is_data)
{
    const uint8_t *whole = ctx;
    if (!is_data)
        assert_true(all_zero_bytes(whole + off, len));
    return 0;
}

/* Extents cover the file in order, and what they call zero reads as zeros. */
static void extents_cover_file(void **state)
{
    (void)state;
    struct fake f = fake_make(12 * MiB + 512, 4, holes_fine);
    f.report_holes = 1;
    for (int dynamic = 0; dynamic < 2; dynamic++) {
        struct p2v_layer *v = must_open(&f, dynamic, MiB, 512, 512, 1);
        uint64_t acc[2] = { 0 };
        assert_int_equal(p2v_layer_extents(v, 0, v->size, extent_cb, acc), 0);
        assert_true(acc[0] == v->size);
        assert_true(acc[1] > 0);
        uint8_t *whole = read_all(v);
        assert_int_equal(p2v_layer_extents(v, 0, v->size, zero_check_cb, whole), 0);
        free(whole);
        p2v_layer_close(v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32c_and_guids),
        cmocka_unit_test(small_images_match_spec),
        cmocka_unit_test(chunk_boundaries_1mib),
        cmocka_unit_test(chunk_ratios_and_4k_sectors),
        cmocka_unit_test(dynamic_vs_fixed),
        cmocka_unit_test(reads_straddle_every_boundary),
        cmocka_unit_test(size_limits),
        cmocka_unit_test(deterministic_guids),
        cmocka_unit_test(source_errors_propagate),
        cmocka_unit_test(extents_cover_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
