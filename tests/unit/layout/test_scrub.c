/* The scrub layer (layout/scrub.c): its map (merging, refusals, overlaps)
 * and its reads.  What a read returns must equal the unit rewrites of
 * scrub_unit.c applied to whole copies, whatever the read's offset and
 * length; the counting pass must agree with the rewrites' own counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "mst_protect.h"
#include "layout/scrub.h"

#define DISK (256u * 1024)
#define MFT_AT 8192u     /* records 24-39 of 1 KiB */
#define INDX_AT 65536u   /* 2 blocks of 4 KiB */
#define DIR_AT 131072u   /* 2 leaf blocks of 1 KiB */
#define FF_AT 200000u
#define FF_LEN 5000u

struct mem {
    struct p2v_layer l;
    uint8_t *b;
    uint64_t fail_at;  /* reads covering it fail; 0: never */
};

static int mem_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off)
{
    struct mem *m = (struct mem *)l;
    if (m->fail_at && m->fail_at >= off && m->fail_at < off + len)
        return -EIO;
    memcpy(buf, m->b + off, len);
    return 0;
}

static void mem_close(struct p2v_layer *l)
{
    (void)l;
}

static const struct p2v_layer_ops mem_ops = { .name = "mem", .read = mem_read, .close = mem_close };

/* The same bytes as a sparse file whose data ends at 2048: a hole after. */
static int holey_extents(struct p2v_layer *l, uint64_t off, uint64_t len, p2v_extent_fn fn,
                         void *ctx)
{
    (void)l;
    (void)len;  /* whole runs: the wrapper clips */
    int r = off < 2048 ? fn(ctx, off, 2048 - off, P2V_EXTENT_DATA) : 0;
    uint64_t z = off > 2048 ? off : 2048;
    return r ? r : fn(ctx, z, 8192 - z, P2V_EXTENT_ZERO);
}

static const struct p2v_layer_ops holey_ops = {
    .name = "holey", .read = mem_read, .extents = holey_extents, .close = mem_close,
};

struct seen { uint64_t off[8], len[8]; int kind[8], n; };

static int record_extent(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    struct seen *s = ctx;
    if (s->n < 8) {
        s->off[s->n] = off, s->len[s->n] = len, s->kind[s->n] = kind;
        s->n++;
    }
    return 0;
}

static void marker(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)"DELETED-"[i % 8];
}

/* A 1 KiB record: no attributes, flags as given, a marker in its slack. */
static void mft_record(uint8_t *r, uint32_t recno, int in_use)
{
    memset(r, 0, 1024);
    memcpy(r, "FILE", 4);
    put_le16(r + 4, 0x30);
    put_le16(r + 6, 3);
    put_le16(r + 0x10, (uint16_t)(recno + 5));  /* sequence number */
    put_le16(r + 0x14, 0x38);
    put_le16(r + 0x16, in_use ? 1 : 0);
    put_le32(r + 0x18, 0x40);
    put_le32(r + 0x1C, 1024);
    put_le32(r + 0x2C, recno);
    put_le32(r + 0x38, 0xFFFFFFFF);
    marker(r + 0x40, 1024 - 0x40);
    protect(r, 7);
}

static void indx_block(uint8_t *b)
{
    memset(b, 0, 4096);
    memcpy(b, "INDX", 4);
    put_le16(b + 4, 0x28);
    put_le16(b + 6, 9);
    put_le32(b + 0x18, 0x28);         /* entries, from 0x18 */
    put_le32(b + 0x1C, 0x40);         /* index_length */
    put_le32(b + 0x20, 4096 - 0x18);  /* allocated_size */
    put_le16(b + 0x18 + 0x28 + 8, 16);  /* the end entry: length 16, flags last */
    put_le16(b + 0x18 + 0x28 + 12, 2);
    marker(b + 0x58, 4096 - 0x58);
    protect(b, 3);
}

/* "." and "..", whose record hides a deleted name. */
static void dir_leaf(uint8_t *b)
{
    memset(b, 0, 1024);
    put_le32(b, 12);
    put_le16(b + 4, 12);
    b[6] = 1;
    b[7] = 2;
    b[8] = '.';
    put_le32(b + 12, 2);
    put_le16(b + 16, 1012);
    b[18] = 2;
    b[19] = 2;
    b[20] = b[21] = '.';
    marker(b + 24, 40);
}

struct fixture {
    struct mem m;
    uint8_t *expect;       /* the disk with every unit rewritten by hand */
    struct p2v_scrub_counts want;
    struct p2v_layer *top;
};

static struct p2v_scrub_map build_map(void)
{
    struct p2v_scrub_map map = { 0 };
    struct p2v_scrub_vol v = { .start = 0, .size = DISK, .mft_bits = 40,
                               .ntfs_version = P2V_NTFS_VERSION(3, 1) };
    v.mft_bitmap = calloc(1, 5);
    assert_non_null(v.mft_bitmap);
    v.mft_bitmap[3] = 0xFF;  /* records 24-31 in use, 32-39 free */
    uint16_t vi;
    assert_int_equal(p2v_scrub_map_vol(&map, &v, &vi), 0);
    /* Added out of order and in pieces: the map merges what continues. */
    struct p2v_scrub_run runs[] = {
        { .start = INDX_AT, .len = 8192, .unit = 4096, .vol = vi, .kind = P2V_SCRUB_INDX },
        { .start = MFT_AT, .len = 8192, .first = 24, .unit = 1024, .vol = vi, .kind = P2V_SCRUB_MFT },
        { .start = MFT_AT + 8192, .len = 8192, .first = 32, .unit = 1024, .vol = vi,
          .kind = P2V_SCRUB_MFT },
        { .start = DIR_AT, .len = 2048, .first = 11, .aux = 5, .unit = 1024, .vol = vi,
          .kind = P2V_SCRUB_EXT_DIR },
        { .start = FF_AT, .len = FF_LEN, .vol = vi, .kind = P2V_SCRUB_FILL_FF },
    };
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++)
        assert_int_equal(p2v_scrub_map_add(&map, &runs[i]), 0);
    assert_int_equal(map.n, 4);  /* the two MFT pieces are one run */
    return map;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->m.b = malloc(DISK);
    f->expect = malloc(DISK);
    for (uint32_t i = 0; i < DISK; i++)
        f->m.b[i] = (uint8_t)(i * 131 + 7);
    for (uint32_t n = 0; n < 16; n++)
        mft_record(f->m.b + MFT_AT + n * 1024, 24 + n, n < 8 || n == 9);
    indx_block(f->m.b + INDX_AT);
    indx_block(f->m.b + INDX_AT + 4096);
    dir_leaf(f->m.b + DIR_AT);
    dir_leaf(f->m.b + DIR_AT + 1024);
    memcpy(f->expect, f->m.b, DISK);
    for (uint32_t n = 0; n < 16; n++)
        p2v_scrub_mft_record(f->expect + MFT_AT + n * 1024, 1024, 24 + n, n < 8, P2V_NTFS_VERSION(3, 1),
                             &f->want);
    for (int i = 0; i < 2; i++) {
        p2v_scrub_indx(f->expect + INDX_AT + 4096 * i, 4096, &f->want);
        p2v_scrub_ext_leaf(f->expect + DIR_AT + 1024 * i, 1024, 11, 5, 0, 0, &f->want);
    }
    memset(f->expect + FF_AT, 0xFF, FF_LEN);
    for (uint32_t i = 0; i < FF_LEN; i++)
        f->want.logfile_bytes += f->m.b[FF_AT + i] != 0xFF;
    f->m.l = (struct p2v_layer){ .ops = &mem_ops, .size = DISK };
    struct p2v_scrub_map map = build_map();
    assert_int_equal(p2v_scrub_open(&f->m.l, &map, &f->top), 0);
    assert_ptr_not_equal(f->top, &f->m.l);
    assert_int_equal(map.n, 0);  /* taken over */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    p2v_layer_close(f->top);
    free(f->m.b);
    free(f->expect);
    free(f);
    return 0;
}

static void test_whole_read(void **state)
{
    struct fixture *f = *state;
    uint8_t *got = malloc(DISK);
    assert_int_equal(p2v_layer_read(f->top, got, DISK, 0), 0);
    assert_memory_equal(got, f->expect, DISK);
    /* The fixture is not trivial: every unit kind changed something, and
     * record 33, free in the bitmap but flagged in use in its header, was only
     * trimmed. */
    assert_memory_not_equal(got + MFT_AT, f->m.b + MFT_AT, 16384);
    assert_memory_not_equal(got + INDX_AT, f->m.b + INDX_AT, 8192);
    assert_memory_not_equal(got + DIR_AT, f->m.b + DIR_AT, 2048);
    assert_true(f->want.mft_free_records == 7 && f->want.mft_slack_bytes > 0 &&
                f->want.index_slack_bytes > 0 && f->want.ext_dirent_slack_bytes > 0);
    /* Bytes outside every run are the source's. */
    assert_memory_equal(got, f->m.b, MFT_AT);
    assert_memory_equal(got + FF_AT + FF_LEN, f->m.b + FF_AT + FF_LEN, DISK - FF_AT - FF_LEN);
    free(got);
}

/* Reads that cut units anywhere: the same bytes as the whole read. */
static void test_partial_reads(void **state)
{
    struct fixture *f = *state;
    uint8_t *got = malloc(DISK);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 3000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint64_t off = x % DISK, len = 1 + (x >> 20) % 9000;
        if (i % 3 == 0)
            off = MFT_AT + (x >> 40) % 2048 - 1024;  /* around the first runs */
        if (off + len > DISK)
            len = DISK - off;
        assert_int_equal(p2v_layer_read(f->top, got, len, off), 0);
        assert_memory_equal(got, f->expect + off, len);
    }
    free(got);
}

static void test_count(void **state)
{
    struct fixture *f = *state;
    struct p2v_scrub_counts c = { 0 };
    /* Through a layer above, as `p2v info` asks: the walk finds the scrub. */
    struct p2v_layer above = { .ops = &mem_ops, .below = f->top, .size = DISK };
    assert_int_equal(p2v_scrub_count(&above, 0, DISK, &c), 0);
    assert_memory_equal(&c, &f->want, sizeof c);
    /* A range holding only the directory: only its kinds. */
    struct p2v_scrub_counts d = { 0 };
    assert_int_equal(p2v_scrub_count(f->top, DIR_AT, 2048, &d), 0);
    assert_int_equal(d.ext_dirent_slack_bytes, f->want.ext_dirent_slack_bytes);
    assert_int_equal(d.mft_slack_bytes + d.index_slack_bytes + d.logfile_bytes, 0);
    /* No scrub layer below: nothing added. */
    struct p2v_scrub_counts e = { 0 };
    assert_int_equal(p2v_scrub_count(&f->m.l, 0, DISK, &e), 0);
    assert_int_equal(e.mft_slack_bytes, 0);
}

static void test_read_error(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[100];
    f->m.fail_at = MFT_AT + 10;
    /* The cut unit is read whole: its failure is the read's. */
    assert_int_equal(p2v_layer_read(f->top, buf, sizeof buf, MFT_AT + 500), -EIO);
    struct p2v_scrub_counts c = { 0 };
    assert_int_equal(p2v_scrub_count(f->top, 0, DISK, &c), -EIO);
    f->m.fail_at = 0;
}

static void test_map_refusals(void **state)
{
    (void)state;
    struct p2v_scrub_map m = { 0 };
    struct p2v_scrub_vol v = { 0 };
    uint16_t vi;
    struct p2v_scrub_run r = { .start = 0, .len = 1024, .unit = 1024, .kind = P2V_SCRUB_MFT };
    assert_int_equal(p2v_scrub_map_add(&m, &r), -EINVAL);  /* no such volume yet */
    assert_int_equal(p2v_scrub_map_vol(&m, &v, &vi), 0);
    r.unit = 1000;
    assert_int_equal(p2v_scrub_map_add(&m, &r), -EINVAL);
    r.unit = 131072;
    r.len = 131072;
    assert_int_equal(p2v_scrub_map_add(&m, &r), -EINVAL);
    r.unit = 1024;
    r.len = 1500;
    assert_int_equal(p2v_scrub_map_add(&m, &r), -EINVAL);
    r.len = 1024;
    r.kind = 9;
    assert_int_equal(p2v_scrub_map_add(&m, &r), -EINVAL);
    r.kind = P2V_SCRUB_FILL_FF;  /* a fill has no unit */
    assert_int_equal(p2v_scrub_map_add(&m, &r), -EINVAL);
    r.unit = 0;
    r.start = UINT64_MAX - 10;
    assert_int_equal(p2v_scrub_map_add(&m, &r), -EINVAL);
    assert_int_equal(m.n, 0);
    /* Records that do not continue each other's numbers stay apart. */
    struct p2v_scrub_run a = { .start = 0, .len = 2048, .first = 0, .unit = 1024, .kind = P2V_SCRUB_MFT };
    struct p2v_scrub_run b = { .start = 2048, .len = 1024, .first = 5, .unit = 1024, .kind = P2V_SCRUB_MFT };
    assert_int_equal(p2v_scrub_map_add(&m, &a), 0);
    assert_int_equal(p2v_scrub_map_add(&m, &b), 0);
    assert_int_equal(m.n, 2);
    p2v_scrub_map_free(&m);
    assert_null(m.run);
}

/* Runs that overlap, or pass the end, are dropped; the rest still apply. */
static void test_overlap_dropped(void **state)
{
    (void)state;
    uint8_t *disk = malloc(8192);
    for (int i = 0; i < 8192; i++)
        disk[i] = (uint8_t)i;
    struct mem m = { .l = { .ops = &holey_ops, .size = 8192 }, .b = disk };
    struct p2v_scrub_map map = { 0 };
    struct p2v_scrub_vol v = { 0 };
    uint16_t vi;
    assert_int_equal(p2v_scrub_map_vol(&map, &v, &vi), 0);
    struct p2v_scrub_run runs[] = {
        { .start = 1000, .len = 100, .kind = P2V_SCRUB_FILL_FF },
        { .start = 1050, .len = 100, .kind = P2V_SCRUB_FILL_FF },  /* overlaps: dropped */
        { .start = 8000, .len = 500, .kind = P2V_SCRUB_FILL_FF },  /* past the end: dropped */
        { .start = 3000, .len = 10, .kind = P2V_SCRUB_FILL_FF },
    };
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(p2v_scrub_map_add(&map, &runs[i]), 0);
    struct p2v_layer *top;
    assert_int_equal(p2v_scrub_open(&m.l, &map, &top), 0);
    uint8_t got[8192];
    assert_int_equal(p2v_layer_read(top, got, 8192, 0), 0);
    for (int i = 0; i < 8192; i++) {
        int ff = (i >= 1000 && i < 1100) || (i >= 3000 && i < 3010);
        assert_int_equal(got[i], ff ? 0xFF : (uint8_t)i);
    }
    /* The fill over the hole is data; the one over data changes nothing. */
    struct seen e = { .n = 0 };
    assert_int_equal(p2v_layer_extents(top, 0, 8192, record_extent, &e), 0);
    assert_int_equal(e.n, 4);
    const uint64_t want_off[] = { 0, 2048, 3000, 3010 }, want_len[] = { 2048, 952, 10, 5182 };
    const int want_kind[] = { P2V_EXTENT_DATA, P2V_EXTENT_ZERO, P2V_EXTENT_DATA, P2V_EXTENT_ZERO };
    for (int i = 0; i < 4; i++) {
        assert_int_equal(e.off[i], want_off[i]);
        assert_int_equal(e.len[i], want_len[i]);
        assert_int_equal(e.kind[i], want_kind[i]);
    }
    p2v_layer_close(top);
    /* An empty map is no layer at all. */
    struct p2v_scrub_map none = { 0 };
    assert_int_equal(p2v_scrub_open(&m.l, &none, &top), 0);
    assert_ptr_equal(top, &m.l);
    free(disk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_whole_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_error, setup, teardown),
        cmocka_unit_test(test_map_refusals),
        cmocka_unit_test(test_overlap_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
