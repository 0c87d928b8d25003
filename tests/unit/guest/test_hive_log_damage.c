/* Registry transaction log replay against thousands of damaged and
 * hostile logs (the real ones with bytes flipped or cut, authentic-looking
 * entries with odd fields, damaged base blocks and old-format logs):
 * whatever comes back is a clean hive within its bounds, or a refusal
 * (run under the sanitizers and valgrind too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tests/unit/guest/hive_log_fixture.h"

static uint64_t rnd_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return (uint32_t)(rnd_state >> 11);
}

/* recover() with each log copied to a buffer of exactly its length: the
 * sanitizers and valgrind then see any read beyond it. */
static int recover_exact(const struct buf *p, const struct p2v_hive_log *logs, int n, int ignore,
                         struct buf *out, struct p2v_hive_recovery *info)
{
    struct p2v_hive_log c[2] = { { NULL, 0, NULL }, { NULL, 0, NULL } };
    for (int i = 0; i < n; i++) {
        c[i] = logs[i];
        if (logs[i].data && logs[i].len) {
            uint8_t *d = malloc(logs[i].len);
            assert_non_null(d);
            memcpy(d, logs[i].data, logs[i].len);
            c[i].data = d;
        }
    }
    int r = recover(p, c, n, ignore, out, info);
    for (int i = 0; i < n; i++)
        if (c[i].data != logs[i].data)
            free((uint8_t *)c[i].data);
    return r;
}

static int fuzz_replayed, fuzz_refused;

/* Whatever came back is a clean hive that did not grow beyond the bytes
 * given. */
static void check_result(int r, const struct buf *out, size_t bound)
{
    assert_true(r == 0 || r == -ENOENT || r == -EINVAL);
    if (r != 0) {
        assert_null(out->d);
        fuzz_refused++;
        return;
    }
    fuzz_replayed++;
    assert_true(out->len <= bound);
    assert_int_equal(p2v_hive_is_dirty(out->d, out->len), 0);
    free(out->d);
}

/* The real logs' first entries, damaged: LOG1's first entry broken (or cut)
 * means nothing replays; LOG2's broken means LOG1's 4 entries alone. */
static void fuzz_real_logs(void **state)
{
    (void)state;
    const size_t n1 = 0xE000, n2 = 0x55000;    /* LOG1 2107..2110; LOG2 2111, 2112 */
    struct buf w1 = dup_buf(log1.d, n1), w2 = dup_buf(log2.d, n2);
    struct p2v_hive_log logs[2] = { as_log(&w1, "LOG1"), as_log(&w2, "LOG2") };
    struct p2v_hive_recovery info;
    struct buf out;
    for (int i = 0; i < 2500; i++) {
        memcpy(w1.d, log1.d, n1);
        for (int k = 1 + rnd() % 4; k > 0; k--)
            w1.d[0x200 + rnd() % 0x3E00] ^= (uint8_t)(1 + rnd() % 255);
        /* Cut within the entry (a log of 552 bytes or less is absent:
         * then LOG2 replays alone). */
        logs[0].len = i % 5 == 4 ? 553 + rnd() % (0x4000 - 553) : n1;
        assert_int_equal(recover_exact(&prim, logs, 2, 0, &out, &info), -ENOENT);
        assert_null(out.d);
    }
    memcpy(w1.d, log1.d, n1);
    logs[0].len = n1;
    for (int i = 0; i < 120; i++) {
        memcpy(w2.d, log2.d, n2);
        w2.d[0x200 + rnd() % 0x2E00] ^= (uint8_t)(1 + rnd() % 255);
        assert_int_equal(recover_exact(&prim, logs, 2, 0, &out, &info), 0);
        assert_int_equal(info.entries, 4);
        free(out.d);
    }
    free(w1.d);
    free(w2.d);
}

/* Hostile but authentic entries: fields set to odd values, hashes made
 * right, as a disk written to fool the replay would hold them. */
static void fuzz_authentic_entries(void **state)
{
    (void)state;
    static const uint32_t odd[] = { 0, 1, 40, 511, 512, 0x1000, 0x1FFF, 0x2000, 0x3000, 0x10000,
                                    0x7FFFF000, 0x80000000u, 0x80001000u, 0xFFFFF000u, 0xFFFFFFFFu };
    struct buf p = dirty_mini(), l = new_log(&p, 5), w = dup_buf(l.d, 16384);
    size_t starts[3] = { 512, 512 + get_le32(l.d + 516), 0 };
    starts[2] = starts[1] + get_le32(l.d + starts[1] + 4);
    struct p2v_hive_log lg = { w.d, l.len, "LOG" };
    struct p2v_hive_recovery info;
    struct buf out;
    fuzz_replayed = fuzz_refused = 0;
    for (int i = 0; i < 4000; i++) {
        memcpy(w.d, l.d, 16384);
        size_t e = starts[rnd() % 3];
        for (int k = 1 + rnd() % 3; k > 0; k--) {
            size_t at = e + 4 + 4 * (rnd() % 14);      /* header fields and references */
            if (at >= e + 24 && at < e + 40)
                at += 16;
            uint32_t v = rnd() % 3 ? odd[rnd() % (sizeof odd / sizeof odd[0])] : rnd();
            if (rnd() % 4 == 0)
                v = get_le32(w.d + at) + rnd() % 9 - 4;
            put_le32(w.d + at, v);
        }
        if (rnd() % 8 == 0)
            w.d[e + 40 + rnd() % 400] ^= 0xA5;
        rehash(w.d + e, 16384 - e);
        lg.len = rnd() % 6 ? l.len : 512 + rnd() % (16384 - 512);
        int r = recover_exact(&p, &lg, 1, 0, &out, &info);
        check_result(r, &out, p.len + 16384);
    }
    /* The real primary and LOG1, its first entry's fields made odd. */
    struct buf w1 = dup_buf(log1.d, 0xE000);
    struct p2v_hive_log real = { w1.d, 0xE000, "LOG1" };
    for (int i = 0; i < 40; i++) {
        memcpy(w1.d, log1.d, 0xE000);
        size_t at = 512 + 4 + 4 * (rnd() % 14);
        if (at >= 512 + 24 && at < 512 + 40)
            at += 16;
        put_le32(w1.d + at, odd[rnd() % (sizeof odd / sizeof odd[0])]);
        rehash(w1.d + 512, 0xE000 - 512);
        check_result(recover_exact(&prim, &real, 1, 0, &out, &info), &out, prim.len + 0xE000);
    }
    print_message("authentic entries: %d replayed, %d refused\n", fuzz_replayed, fuzz_refused);
    assert_true(fuzz_replayed > 100 && fuzz_refused > 100);
    free(w1.d);
    free(w.d);
    free(l.d);
    free(p.d);
}

/* Base blocks and old-format logs with odd fields, checksums made right. */
static void fuzz_base_blocks_and_old_logs(void **state)
{
    (void)state;
    struct buf p = dirty_mini(), nl = new_log(&p, 5), ol = old_log(&p, get_le64(p.d + 12), 5);
    struct buf w = dup_buf(nl.d, 16384), wo = dup_buf(ol.d, ol.len);
    struct p2v_hive_recovery info;
    struct buf out;
    fuzz_replayed = fuzz_refused = 0;
    for (int i = 0; i < 3000; i++) {
        int old = i % 2;
        struct buf *src = old ? &ol : &nl, *dst = old ? &wo : &w;
        memcpy(dst->d, src->d, src->len);
        for (int k = 1 + rnd() % 3; k > 0; k--) {
            size_t at = old && rnd() % 2 ? 512 + rnd() % (src->len - 512) : rnd() % 512;
            if (rnd() % 2)
                dst->d[at] ^= (uint8_t)(1 + rnd() % 255);
            else if (at + 4 <= src->len)
                put_le32(dst->d + at, rnd() % 2 ? 0xFFFFFFFFu : rnd() % 0x3000);
        }
        if (rnd() % 4)
            reseal(dst->d);
        struct p2v_hive_log lg = { dst->d, rnd() % 5 ? src->len : rnd() % (src->len + 1), NULL };
        int r = recover_exact(&p, &lg, 1, rnd() % 16 == 0, &out, &info);
        check_result(r, &out, p.len + 16384);
    }
    /* Primaries with odd base blocks, with the hand-made logs. */
    struct buf wp = dup_buf(p.d, p.len);
    struct p2v_hive_log both[2] = { as_log(&nl, NULL), as_log(&ol, NULL) };
    for (int i = 0; i < 1000; i++) {
        memcpy(wp.d, p.d, p.len);
        size_t at = 4 * (rnd() % 20);
        put_le32(wp.d + at, rnd() % 2 ? rnd() : rnd() % 0x3000);
        if (rnd() % 3)
            reseal(wp.d);
        int first = (int)(rnd() % 2), n = i % 7 == 0 ? 0 : first ? 1 : 1 + (int)(rnd() % 2);
        int ignore = rnd() % 8 == 0;
        int r = recover_exact(&wp, both + first, n, ignore, &out, &info);
        check_result(r, &out, p.len + 2 * 16384);
    }
    print_message("base blocks and old logs: %d replayed, %d refused\n", fuzz_replayed, fuzz_refused);
    assert_true(fuzz_replayed > 100 && fuzz_refused > 100);
    free(wp.d);
    free(w.d);
    free(wo.d);
    free(nl.d);
    free(ol.d);
    free(p.d);
}
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fuzz_real_logs),
        cmocka_unit_test(fuzz_authentic_entries),
        cmocka_unit_test(fuzz_base_blocks_and_old_logs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
