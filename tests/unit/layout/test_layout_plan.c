/* Layout planning of bare volumes: the MBR or GPT disk p2v builds around
 * a volume, checked field by field against the formats' rules, and the
 * choice of GPT when an MBR cannot describe the disk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <zlib.h>

#include "tests/unit/fake_layer.h"
#include "layout/gpt_build.h"
#include "layout/layout_plan.h"

#define MiB (1024ull * 1024)
#define TiB (1024ull * 1024 * MiB)

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

/* A bare volume with no filesystem p2v maps (so nothing is read but the
 * few sectors a test looks at), forced with --volume. */
static int plan(struct fake *f, struct p2v_layout_opts *o, struct p2v_wrap *w,
                struct p2v_layer **out)
{
    static struct p2v_partition_table t;
    memset(&t, 0, sizeof t);
    o->volume = 1;
    return p2v_layout_plan(&f->l, "vol.img", &t, o, w, out);
}

static void read_at(struct p2v_layer *l, uint8_t *buf, size_t len, uint64_t off)
{
    assert_int_equal(p2v_layer_read(l, buf, len, off), 0);
}

static void mbr_by_default(void **state)
{
    (void)state;
    struct fake f = fake_make(64 * MiB, 3, NULL);
    struct p2v_layout_opts o = { 0 };
    struct p2v_wrap w;
    struct p2v_layer *d;
    assert_int_equal(plan(&f, &o, &w, &d), 0);
    assert_false(w.gpt);
    assert_true(w.offset == MiB);
    assert_true(d->size == 65 * MiB);
    uint8_t s[512];
    read_at(d, s, 512, 0);
    assert_int_equal(s[510], 0x55);
    assert_int_equal(s[511], 0xAA);
    assert_int_equal(s[446], 0x80);            /* active */
    assert_int_equal(le32(s + 446 + 8), 2048);
    assert_int_equal(le32(s + 446 + 12), 64 * MiB / 512);
    assert_int_equal(le32(s + 440), w.signature);
    read_at(d, s, 512, MiB);                   /* the volume, unchanged */
    for (int i = 0; i < 512; i++)
        assert_int_equal(s[i], fake_byte(&f, (uint64_t)i));
    p2v_layer_close_stack(d);
}

/* Checks one GPT header at lba and returns its entries' LBA. */
static uint64_t check_header(struct p2v_layer *d, uint64_t lba, uint64_t alt, const uint8_t *array)
{
    uint8_t h[512];
    read_at(d, h, 512, lba * 512);
    assert_memory_equal(h, "EFI PART", 8);
    uint32_t size = le32(h + 12), crc = le32(h + 16);
    assert_int_equal(size, 92);
    memset(h + 16, 0, 4);
    assert_int_equal((uint32_t)crc32(0, h, size), crc);
    assert_true(le64(h + 24) == lba);
    assert_true(le64(h + 32) == alt);
    assert_int_equal(le32(h + 80), P2V_GPT_ENTRIES);
    assert_int_equal(le32(h + 84), 128);
    assert_int_equal((uint32_t)crc32(0, array, P2V_GPT_ENTRIES * 128), le32(h + 88));
    /* The usable area lies between the two arrays. */
    assert_true(le64(h + 40) == 34);
    assert_true(le64(h + 48) == d->size / 512 - 34);
    return le64(h + 72);
}

static void gpt_when_asked(void **state)
{
    (void)state;
    struct fake f = fake_make(64 * MiB + 4096, 5, NULL);
    struct p2v_layout_opts o = { .gpt = 1 };
    struct p2v_wrap w;
    struct p2v_layer *d;
    assert_int_equal(plan(&f, &o, &w, &d), 0);
    assert_true(w.gpt);
    /* Room for the backup, rounded up to whole MiBs. */
    assert_true(d->size == 66 * MiB);
    uint64_t last = d->size / 512 - 1;
    uint8_t pmbr[512], array[P2V_GPT_ENTRIES * 128], backup[sizeof array];
    read_at(d, pmbr, 512, 0);
    assert_memory_equal(pmbr, p2v_gpt_code, 440);
    assert_int_equal(pmbr[446], 0);            /* protective: not active */
    assert_int_equal(pmbr[446 + 4], 0xEE);
    assert_int_equal(le32(pmbr + 446 + 8), 1);
    assert_int_equal(le32(pmbr + 446 + 12), last);
    read_at(d, array, sizeof array, 2 * 512);
    assert_true(check_header(d, 1, last, array) == 2);
    read_at(d, backup, sizeof backup, (last - 32) * 512);
    assert_memory_equal(array, backup, sizeof array);
    assert_true(check_header(d, last, 1, backup) == last - 32);
    /* The entry: the volume at 1 MiB, legacy BIOS bootable, the rest empty. */
    assert_true(le64(array + 32) == 2048);
    assert_true(le64(array + 40) == 2048 + (64 * MiB + 4096) / 512 - 1);
    assert_true(le64(array + 48) == 1u << 2);
    for (size_t i = 128; i < sizeof array; i++)
        assert_int_equal(array[i], 0);
    /* The disk GUID in the header is the one reported, in GPT's mixed
     * endianness. */
    uint8_t h[512];
    read_at(d, h, 512, 512);
    assert_int_equal(h[56], w.disk_guid[3]);
    assert_int_equal(h[56 + 8], w.disk_guid[8]);
    p2v_layer_close_stack(d);

    /* The same volume makes the same disk on every mount. */
    struct p2v_wrap w2;
    assert_int_equal(plan(&f, &o, &w2, &d), 0);
    read_at(d, backup, sizeof backup, 2 * 512);
    assert_memory_equal(array, backup, sizeof array);
    assert_memory_equal(w.disk_guid, w2.disk_guid, 16);
    p2v_layer_close_stack(d);
}

static void gpt_when_mbr_cannot_address_it(void **state)
{
    (void)state;
    /* 2 TiB - 1 MiB fits an MBR with the volume at 1 MiB, exactly. */
    struct fake f = fake_make(2 * TiB - MiB - 512, 1, NULL);
    struct p2v_layout_opts o = { 0 };
    struct p2v_wrap w;
    struct p2v_layer *d;
    assert_int_equal(plan(&f, &o, &w, &d), 0);
    assert_false(w.gpt);
    p2v_layer_close_stack(d);
    f = fake_make(2 * TiB - MiB, 1, NULL);
    assert_int_equal(plan(&f, &o, &w, &d), 0);
    assert_true(w.gpt);
    uint8_t pmbr[512];
    read_at(d, pmbr, 512, 0);
    assert_int_equal(le32(pmbr + 446 + 12), 0xFFFFFFFFu);  /* capped */
    p2v_layer_close_stack(d);
    /* A signature asked for cannot be honoured on GPT: refused. */
    o.have_signature = 1;
    assert_int_equal(plan(&f, &o, &w, &d), -EINVAL);
}

static void bad_wrap_options(void **state)
{
    (void)state;
    struct fake f = fake_make(8 * MiB, 1, NULL);
    struct p2v_wrap w;
    struct p2v_layer *d;
    struct p2v_layout_opts o = { .gpt = 1, .have_signature = 1, .disk_signature = 1 };
    assert_int_equal(plan(&f, &o, &w, &d), -EINVAL);
    o = (struct p2v_layout_opts){ .gpt = 1, .offset = 4096 };  /* inside the GPT */
    assert_int_equal(plan(&f, &o, &w, &d), -EINVAL);
    o = (struct p2v_layout_opts){ .offset = 1000 };
    assert_int_equal(plan(&f, &o, &w, &d), -EINVAL);
    o = (struct p2v_layout_opts){ .gpt = 1, .offset = 34 * 512 };  /* the smallest */
    assert_int_equal(plan(&f, &o, &w, &d), 0);
    p2v_layer_close_stack(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mbr_by_default),
        cmocka_unit_test(gpt_when_asked),
        cmocka_unit_test(gpt_when_mbr_cannot_address_it),
        cmocka_unit_test(bad_wrap_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
