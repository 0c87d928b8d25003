/* Shared by the registry transaction log tests (test_hive_log.c: the
 * spec, the real logs, refusals, hand-made formats; test_hive_log_damage.c:
 * damaged and hostile logs): the fixtures, loaded by setup, and builders of
 * hand-made hives and logs. */
#ifndef P2V_TEST_HIVE_LOG_FIXTURE_H
#define P2V_TEST_HIVE_LOG_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bytes.h"
#include "guest/hive_log.h"

#define FIX "tests/fixtures/windows/"
#define SHA_BINS "b6e091176b3d00b7b97efdeaeef519b1adfbaa5f6d8118d5c44fa2dcfeb5029a"

struct buf { uint8_t *d; size_t len; };

/* The fixtures: the dirty Windows 10 SYSTEM hive and its two logs, the
 * clean Windows 7 one, and minimal.hive (setup loads them). */
static struct buf prim, log1, log2, win7, mini;

static inline int slurp(FILE *f, struct buf *b)
{
    size_t cap = 1 << 20;
    b->d = malloc(cap);
    b->len = 0;
    if (!b->d)
        return -1;
    for (;;) {
        if (b->len == cap) {
            uint8_t *n = realloc(b->d, cap * 2);
            if (!n)
                return -1;
            b->d = n;
            cap *= 2;
        }
        size_t r = fread(b->d + b->len, 1, cap - b->len, f);
        if (r == 0)
            break;
        b->len += r;
    }
    return ferror(f) ? -1 : 0;
}

static inline int load(const char *path, int xz, struct buf *b)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "xz -dc '%s'", path);
    FILE *f = xz ? popen(cmd, "r") : fopen(path, "rb");
    if (!f)
        return -1;
    int r = slurp(f, b);
    int st = xz ? pclose(f) : fclose(f);
    if (r || st || b->len == 0)
        return -1;
    /* Exactly its length, so that the sanitizers see a read beyond it. */
    uint8_t *exact = realloc(b->d, b->len);
    if (exact)
        b->d = exact;
    return exact ? 0 : -1;
}

static inline int setup(void **state)
{
    (void)state;
    if (load(FIX "SYSTEM-win10-x64-dirty.xz", 1, &prim) || load(FIX "SYSTEM-win10-x64-dirty.LOG1.xz", 1, &log1) ||
        load(FIX "SYSTEM-win10-x64-dirty.LOG2.xz", 1, &log2) || load(FIX "SYSTEM-win7-x86.xz", 1, &win7) ||
        load("tests/fixtures/minimal.hive", 0, &mini))
        return -1;
    return 0;
}

static inline int teardown(void **state)
{
    (void)state;
    free(prim.d);
    free(log1.d);
    free(log2.d);
    free(win7.d);
    free(mini.d);
    return 0;
}

static inline struct buf dup_buf(const uint8_t *d, size_t len)
{
    struct buf b = { malloc(len), len };
    assert_non_null(b.d);
    memcpy(b.d, d, len);
    return b;
}

static inline struct p2v_hive_log as_log(const struct buf *b, const char *name)
{
    struct p2v_hive_log l = { b->d, b->len, name };
    return l;
}

static inline void reseal(uint8_t *base)
{
    put_le32(base + 508, p2v_hive_checksum(base));
}

/* Hash-1 and Hash-2 of the entry at e, as Windows writes them. */
static inline void rehash(uint8_t *e, size_t room)
{
    uint32_t size = get_le32(e + 4);
    if (size >= 40 && size <= room)
        put_le64(e + 24, p2v_marvin32(e + 40, size - 40));
    put_le64(e + 32, p2v_marvin32(e, 32));
}

static inline int recover(const struct buf *p, struct p2v_hive_log *logs, int n, int ignore, struct buf *out,
                   struct p2v_hive_recovery *info)
{
    return p2v_hive_recover(p->d, p->len, logs, n, ignore, &out->d, &out->len, info);
}

static inline void assert_sha256(const uint8_t *p, size_t len, const char *hex)
{
    struct sha256_ctx c;
    uint8_t d[SHA256_DIGEST_SIZE];
    char s[2 * SHA256_DIGEST_SIZE + 1];
    sha256_init(&c);
    sha256_update(&c, len, p);
    sha256_digest(&c, sizeof d, d);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
        snprintf(s + 2 * i, 3, "%02x", d[i]);
    assert_string_equal(s, hex);
}

/* The test's own reading of "any entry header": every 512-aligned HvLE. */
static inline uint32_t highest_header_seq(const struct buf *l)
{
    uint32_t m = 0;
    for (size_t off = 512; off + 40 <= l->len; off += 512)
        if (memcmp(l->d + off, "HvLE", 4) == 0 && get_le32(l->d + off + 12) > m)
            m = get_le32(l->d + off + 12);
    return m;
}

/* A clean hive: checksum right, sequence numbers equal, file type 0, and
 * its bins chained exactly to the end of the hive bins data. */
static inline int assert_sound(const struct buf *h)
{
    assert_true(h->len >= 4096);
    assert_int_equal(p2v_hive_is_dirty(h->d, h->len), 0);
    assert_int_equal(get_le32(h->d + 508), p2v_hive_checksum(h->d));
    assert_int_equal(get_le32(h->d + 28), 0);
    uint64_t end = 4096 + (uint64_t)get_le32(h->d + 40), at = 4096;
    assert_true(end <= h->len);
    int bins = 0;
    while (at < end) {
        assert_memory_equal(h->d + at, "hbin", 4);
        assert_int_equal(get_le32(h->d + at + 4), at - 4096);
        uint32_t size = get_le32(h->d + at + 8);
        assert_true(size >= 4096 && size % 4096 == 0);
        at += size;
        bins++;
    }
    assert_true(at == end);
    return bins;
}

/* hivexget's answer (its exit status; its first line in out). */
static inline int hivexget(const struct buf *hive, const char *key, const char *value, char *out, size_t outsz)
{
    char path[] = "/tmp/p2v-hive-log-XXXXXX", cmd[512];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(hive->d, 1, hive->len, f), hive->len);
    assert_int_equal(fclose(f), 0);
    snprintf(cmd, sizeof cmd, "hivexget %s '%s' %s 2>/dev/null", path, key, value);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    out[0] = 0;
    if (!fgets(out, (int)outsz, p))
        out[0] = 0;
    out[strcspn(out, "\n")] = 0;
    while (fgetc(p) != EOF)
        ;
    int st = pclose(p);
    assert_int_equal(unlink(path), 0);
    return st;
}

/* ---- hand-made logs over minimal.hive ---- */

/* minimal.hive made dirty: sequence numbers 5/4. */
static inline struct buf dirty_mini(void)
{
    struct buf p = dup_buf(mini.d, mini.len);
    put_le32(p.d + 4, 5);
    put_le32(p.d + 8, 4);
    reseal(p.d);
    return p;
}

/* A second bin at 0x1000: header and one free cell. */
static inline void new_bin(uint8_t *b)
{
    memset(b, 0x22, 4096);
    memcpy(b, "hbin", 4);
    put_le32(b + 4, 0x1000);
    put_le32(b + 8, 0x1000);
    memset(b + 12, 0, 20);
    put_le32(b + 32, 4096 - 32);
}

/* An old-format log: pages 1 (free space in the first bin) and 8..15 (a
 * new bin), hive bins 0x2000. */
static inline struct buf old_log(const struct buf *p, uint64_t ts, uint32_t seq)
{
    struct buf l = { calloc(1, 1024 + 9 * 512), 1024 + 9 * 512 };
    assert_non_null(l.d);
    memcpy(l.d, p->d, 512);
    put_le32(l.d + 4, seq);
    put_le32(l.d + 8, seq);
    put_le64(l.d + 12, ts);
    put_le32(l.d + 28, 1);
    put_le32(l.d + 40, 0x2000);
    put_le32(l.d + 144, 1);
    reseal(l.d);
    memcpy(l.d + 512, "DIRT", 4);
    l.d[516] = 0x02;
    l.d[517] = 0xFF;
    memset(l.d + 1024, 0x11, 512);
    new_bin(l.d + 1536);
    return l;
}


static inline size_t put_entry(uint8_t *e, uint32_t seq, uint32_t hbins, const uint32_t *refs, int n, uint8_t fill)
{
    size_t body = 40 + 8 * (size_t)n, pages = 0;
    for (int i = 0; i < n; i++)
        pages += refs[2 * i + 1];
    size_t size = (body + pages + 511) / 512 * 512;
    memset(e, 0, size);
    memcpy(e, "HvLE", 4);
    put_le32(e + 4, (uint32_t)size);
    put_le32(e + 8, 1);
    put_le32(e + 12, seq);
    put_le32(e + 16, hbins);
    put_le32(e + 20, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        put_le32(e + 40 + 8 * i, refs[2 * i]);
        put_le32(e + 44 + 8 * i, refs[2 * i + 1]);
    }
    memset(e + body, fill, pages);
    rehash(e, size);
    return size;
}

static inline struct buf new_log(const struct buf *p, uint32_t seq)
{
    struct buf l = { calloc(1, 16384), 0 };
    assert_non_null(l.d);
    memcpy(l.d, p->d, 512);
    put_le32(l.d + 4, seq);
    put_le32(l.d + 8, seq);
    put_le32(l.d + 28, 6);
    reseal(l.d);
    size_t at = 512;
    const uint32_t r5[] = { 0x200, 0x200 }, r6[] = { 0x1000, 0x1000 }, r7[] = { 0x400, 0x100, 0x1800, 0x80 };
    at += put_entry(l.d + at, seq, 0x1000, r5, 1, 0x55);
    size_t e6 = at;
    at += put_entry(l.d + at, seq + 1, 0x2000, r6, 1, 0);
    new_bin(l.d + e6 + 48);
    rehash(l.d + e6, 16384 - e6);
    at += put_entry(l.d + at, seq + 2, 0x2000, r7, 2, 0x66);
    l.len = at;
    return l;
}


#endif
