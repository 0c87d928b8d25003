/* Registry transaction log replay: the spec's checksum and Marvin32; the
 * real dirty Windows 10 hive recovered as the reference works it out, in
 * either log order, checked with hivexget (not p2v's code); the clean
 * Windows 7 hive left alone; refusals of missing, cut, damaged and stale
 * logs; the old log format on hand-made logs; and thousands of damaged
 * and hostile logs (run under the sanitizers and valgrind too). */
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

static struct buf prim, log1, log2, win7, mini;

static int slurp(FILE *f, struct buf *b)
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

static int load(const char *path, int xz, struct buf *b)
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

static int setup(void **state)
{
    (void)state;
    if (load(FIX "SYSTEM-win10-x64-dirty.xz", 1, &prim) || load(FIX "SYSTEM-win10-x64-dirty.LOG1.xz", 1, &log1) ||
        load(FIX "SYSTEM-win10-x64-dirty.LOG2.xz", 1, &log2) || load(FIX "SYSTEM-win7-x86.xz", 1, &win7) ||
        load("tests/fixtures/minimal.hive", 0, &mini))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(prim.d);
    free(log1.d);
    free(log2.d);
    free(win7.d);
    free(mini.d);
    return 0;
}

static struct buf dup_buf(const uint8_t *d, size_t len)
{
    struct buf b = { malloc(len), len };
    assert_non_null(b.d);
    memcpy(b.d, d, len);
    return b;
}

static struct p2v_hive_log as_log(const struct buf *b, const char *name)
{
    struct p2v_hive_log l = { b->d, b->len, name };
    return l;
}

static void reseal(uint8_t *base)
{
    put_le32(base + 508, p2v_hive_checksum(base));
}

/* Hash-1 and Hash-2 of the entry at e, as Windows writes them. */
static void rehash(uint8_t *e, size_t room)
{
    uint32_t size = get_le32(e + 4);
    if (size >= 40 && size <= room)
        put_le64(e + 24, p2v_marvin32(e + 40, size - 40));
    put_le64(e + 32, p2v_marvin32(e, 32));
}

static int recover(const struct buf *p, struct p2v_hive_log *logs, int n, int ignore, struct buf *out,
                   struct p2v_hive_recovery *info)
{
    return p2v_hive_recover(p->d, p->len, logs, n, ignore, &out->d, &out->len, info);
}

static void assert_sha256(const uint8_t *p, size_t len, const char *hex)
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
static uint32_t highest_header_seq(const struct buf *l)
{
    uint32_t m = 0;
    for (size_t off = 512; off + 40 <= l->len; off += 512)
        if (memcmp(l->d + off, "HvLE", 4) == 0 && get_le32(l->d + off + 12) > m)
            m = get_le32(l->d + off + 12);
    return m;
}

/* A clean hive: checksum right, sequence numbers equal, file type 0, and
 * its bins chained exactly to the end of the hive bins data. */
static int assert_sound(const struct buf *h)
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
static int hivexget(const struct buf *hive, const char *key, const char *value, char *out, size_t outsz)
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

/* ---- the spec's arithmetic ---- */

static void checksum_cases(void **state)
{
    (void)state;
    uint8_t b[512] = { 0 };
    assert_int_equal(p2v_hive_checksum(b), 1);              /* XOR 0 is stored as 1 */
    put_le32(b + 100, 0xFFFFFFFFu);
    assert_int_equal(p2v_hive_checksum(b), 0xFFFFFFFEu);    /* ~0 as ~1 */
    put_le32(b, 0x12345678u);
    assert_int_equal(p2v_hive_checksum(b), 0x12345678u ^ 0xFFFFFFFFu);
    put_le32(b + 508, 0xDEADBEEFu);                         /* the checksum field is not summed */
    assert_int_equal(p2v_hive_checksum(b), 0x12345678u ^ 0xFFFFFFFFu);
    assert_int_equal(p2v_hive_checksum(prim.d), 0x8F1B7EEBu);
    assert_int_equal(get_le32(prim.d + 508), 0x8F1B7EEBu);
    assert_int_equal(p2v_hive_checksum(win7.d), get_le32(win7.d + 508));
    assert_int_equal(p2v_hive_is_dirty(prim.d, prim.len), 1);   /* 1622/1621 */
    assert_int_equal(p2v_hive_is_dirty(win7.d, win7.len), 0);
    assert_int_equal(p2v_hive_is_dirty(win7.d, 4095), -EINVAL);
    assert_int_equal(p2v_hive_is_dirty(b, sizeof b), -EINVAL);
    struct buf bad = dup_buf(win7.d, 8192);
    bad.d[300] ^= 1;                                        /* bad checksum: dirty */
    assert_int_equal(p2v_hive_is_dirty(bad.d, bad.len), 1);
    memcpy(bad.d, "regg", 4);
    assert_int_equal(p2v_hive_is_dirty(bad.d, bad.len), -EINVAL);
    free(bad.d);
}

static void marvin32_vector(void **state)
{
    (void)state;
    static const char hex[] = "48764c45003e0000010000003b0800000030bd0003000000c4812cbea1b6704b";
    uint8_t v[32];
    for (int i = 0; i < 32; i++)
        assert_int_equal(sscanf(hex + 2 * i, "%2hhx", &v[i]), 1);
    assert_true(p2v_marvin32(v, 32) == 0xdd88c5d7df48f30aull);
    /* The same bytes are LOG1's first entry; its two stored hashes agree. */
    const uint8_t *e = log1.d + 512;
    assert_memory_equal(e, v, 32);
    assert_true(get_le64(e + 32) == 0xdd88c5d7df48f30aull);
    assert_true(p2v_marvin32(e + 40, get_le32(e + 4) - 40) == get_le64(e + 24));
}

/* ---- the worked example ---- */

static void worked_example(void **state)
{
    (void)state;
    struct p2v_hive_log logs[2] = { as_log(&log1, "SYSTEM.LOG1"), as_log(&log2, "SYSTEM.LOG2") };
    struct p2v_hive_recovery info;
    struct buf out;
    assert_int_equal(recover(&prim, logs, 2, 0, &out, &info), 0);
    assert_int_equal(info.state, P2V_HIVE_RECOVERED);
    assert_int_equal(info.seq1, 1622);
    assert_int_equal(info.seq2, 1621);
    assert_int_equal(info.entries, 24);
    assert_int_equal(info.pages, 315);
    assert_int_equal(info.first_seq, 2107);
    assert_int_equal(info.last_seq, 2130);
    assert_int_equal(get_le32(out.d + 40), 0xC02000);
    assert_int_equal(get_le32(out.d + 144) & 1, 1);
    assert_true(out.len >= 4096 + 0xC02000);
    assert_sha256(out.d + 4096, 0xC02000, SHA_BINS);
    assert_int_equal(assert_sound(&out), 2748);             /* 2704 bins before */
    /* M: equal, above every entry header of either log, stale ones too. */
    uint32_t m = get_le32(out.d + 4);
    assert_int_equal(get_le32(out.d + 8), m);
    assert_int_equal(info.seq, m);
    assert_true(m > 2130 && m > highest_header_seq(&log1) && m > highest_header_seq(&log2));
    print_message("M on the sample: %u (last applied 2130, highest header %u/%u)\n", m,
                  highest_header_seq(&log1), highest_header_seq(&log2));
    /* Every other header byte as yarp writes it: at yarp's 2130 its checksum. */
    struct buf hdr = dup_buf(out.d, 4096);
    put_le32(hdr.d + 4, 2130);
    put_le32(hdr.d + 8, 2130);
    assert_int_equal(p2v_hive_checksum(hdr.d), 0x8F666EE8u);
    free(hdr.d);

    /* The order the logs come in does not matter. */
    struct p2v_hive_log swapped[2] = { logs[1], logs[0] };
    struct p2v_hive_recovery info2;
    struct buf out2;
    assert_int_equal(recover(&prim, swapped, 2, 0, &out2, &info2), 0);
    assert_int_equal(out2.len, out.len);
    assert_memory_equal(out2.d, out.d, out.len);
    assert_int_equal(info2.entries, 24);
    free(out2.d);
    free(out.d);
}

static void worked_example_hivexget(void **state)
{
    (void)state;
    struct p2v_hive_log logs[2] = { as_log(&log2, NULL), as_log(&log1, NULL) };
    struct buf out;
    char v[256];
    assert_int_equal(recover(&prim, logs, 2, 0, &out, NULL), 0);
    assert_int_equal(hivexget(&out, "\\ControlSet001\\Services\\SharedAccess\\Epoch", "Epoch", v, sizeof v), 0);
    assert_string_equal(v, "435");
    assert_int_equal(hivexget(&out, "\\ControlSet001\\Services\\ad_driver", "DisplayName", v, sizeof v), 0);
    assert_string_equal(v, "AccessData Driver");
    free(out.d);
    /* The primary alone holds the older data. */
    assert_int_equal(hivexget(&prim, "\\ControlSet001\\Services\\SharedAccess\\Epoch", "Epoch", v, sizeof v), 0);
    assert_string_equal(v, "431");
    assert_true(hivexget(&prim, "\\ControlSet001\\Services\\ad_driver", "DisplayName", v, sizeof v) != 0);
}

/* Either log alone replays as the spec says: LOG1's 4 entries (their pages
 * are already in the primary), or LOG2's 20 (the gap above the primary is
 * a partial reconcile): then the same bins as both. */
static void one_log_alone(void **state)
{
    (void)state;
    struct p2v_hive_log l1 = as_log(&log1, "LOG1"), l2 = as_log(&log2, "LOG2");
    struct p2v_hive_recovery info;
    struct buf out;
    assert_int_equal(recover(&prim, &l1, 1, 0, &out, &info), 0);
    assert_int_equal(info.state, P2V_HIVE_RECOVERED);
    assert_int_equal(info.entries, 4);
    assert_int_equal(info.pages, 10);
    assert_int_equal(info.last_seq, 2110);
    assert_true(info.seq > 2110);
    assert_memory_equal(out.d + 4096, prim.d + 4096, 0xBD3000);
    assert_int_equal(get_le32(out.d + 40), 0xBD3000);
    assert_sound(&out);
    free(out.d);
    assert_int_equal(recover(&prim, &l2, 1, 0, &out, &info), 0);
    assert_int_equal(info.entries, 20);
    assert_int_equal(info.pages, 305);
    assert_int_equal(info.first_seq, 2111);
    assert_true(info.seq > 2130);
    assert_sha256(out.d + 4096, 0xC02000, SHA_BINS);
    free(out.d);
}

static void clean_win7(void **state)
{
    (void)state;
    /* Logs beside a clean hive are ignored, even newer ones. */
    struct p2v_hive_log logs[2] = { as_log(&log1, NULL), as_log(&log2, NULL) };
    struct p2v_hive_recovery info;
    struct buf out;
    assert_int_equal(recover(&win7, logs, 2, 0, &out, &info), 0);
    assert_int_equal(info.state, P2V_HIVE_CLEAN);
    assert_int_equal(info.seq1, 13983);
    assert_int_equal(info.seq, 13983);
    assert_int_equal(info.entries, 0);
    assert_int_equal(out.len, win7.len);
    assert_memory_equal(out.d, win7.d, win7.len);
    free(out.d);
}

/* ---- refusals ---- */

static void refuse_missing_and_cut_logs(void **state)
{
    (void)state;
    struct p2v_hive_recovery info;
    struct buf out = { (uint8_t *)1, 1 };
    assert_int_equal(recover(&prim, NULL, 0, 0, &out, &info), -ENOENT);
    assert_int_equal(info.state, P2V_HIVE_DIRTY);
    assert_null(out.d);
    assert_non_null(strstr(info.why, "no transaction logs"));
    struct p2v_hive_log absent[2] = { { NULL, 0, "SYSTEM.LOG1" }, { log2.d, 0, "SYSTEM.LOG2" } };
    assert_int_equal(recover(&prim, absent, 2, 0, &out, &info), -ENOENT);
    assert_non_null(strstr(info.why, "SYSTEM.LOG1: missing"));
    /* LOG2 cut in the middle of its first entry (0x200 .. 0x3000). */
    struct p2v_hive_log cut = { log2.d, 0x1900, "SYSTEM.LOG2" };
    assert_int_equal(recover(&prim, &cut, 1, 0, &out, &info), -ENOENT);
    assert_non_null(strstr(info.why, "SYSTEM.LOG2: damaged at offset 0x200"));
    print_message("why: %s\n", info.why);
    /* With LOG1: LOG1 replays, the cut LOG2 cannot continue it. */
    struct p2v_hive_log both[2] = { cut, as_log(&log1, "SYSTEM.LOG1") };
    assert_int_equal(recover(&prim, both, 2, 0, &out, &info), 0);
    assert_int_equal(info.entries, 4);
    assert_int_equal(info.last_seq, 2110);
    assert_true(info.seq > 2111);   /* above the cut log's first entry header */
    free(out.d);
    /* Logs too short for an entry count as absent. */
    struct p2v_hive_log stub = { log1.d, 552, "SYSTEM.LOG1" };
    assert_int_equal(recover(&prim, &stub, 1, 0, &out, &info), -ENOENT);
    assert_non_null(strstr(info.why, "too short"));
}

static void damaged_entries_stop(void **state)
{
    (void)state;
    struct p2v_hive_recovery info;
    struct buf out;
    /* A flipped page byte in LOG1's entry 2108: only 2107 applies, and LOG2
     * (2111) does not continue it. */
    struct buf l1 = dup_buf(log1.d, log1.len);
    l1.d[0x4100] ^= 0x40;
    struct p2v_hive_log logs[2] = { as_log(&l1, "LOG1"), as_log(&log2, "LOG2") };
    assert_int_equal(recover(&prim, logs, 2, 0, &out, &info), 0);
    assert_int_equal(info.entries, 1);
    assert_int_equal(info.pages, 3);
    assert_int_equal(info.last_seq, 2107);
    free(out.d);
    /* In LOG2's entry 2115: 2107 .. 2114 apply. */
    struct buf l2 = dup_buf(log2.d, log2.len);
    l2.d[0x5e000 + 0x1000] ^= 1;
    logs[0] = as_log(&log1, "LOG1");
    logs[1] = as_log(&l2, "LOG2");
    assert_int_equal(recover(&prim, logs, 2, 0, &out, &info), 0);
    assert_int_equal(info.entries, 8);
    assert_int_equal(info.pages, 10 + 2 + 47 + 2 + 5);
    assert_int_equal(info.last_seq, 2114);
    assert_true(info.seq > 2130);    /* the later entries still count for M */
    assert_sound(&out);
    free(out.d);
    /* A sequence number out of line (its header hash made right): stop there. */
    memcpy(l1.d, log1.d, log1.len);
    put_le32(l1.d + 0x7000 + 12, 2200);
    rehash(l1.d + 0x7000, l1.len - 0x7000);
    logs[0] = as_log(&l1, "LOG1");
    logs[1] = as_log(&log2, "LOG2");
    assert_int_equal(recover(&prim, logs, 2, 0, &out, &info), 0);
    assert_int_equal(info.entries, 2);
    assert_int_equal(info.last_seq, 2108);
    assert_true(info.seq > 2200);    /* and its number too */
    free(out.d);
    free(l1.d);
    free(l2.d);
}

static void stale_log_skipped(void **state)
{
    (void)state;
    struct p2v_hive_recovery info;
    struct buf out, p = dup_buf(prim.d, prim.len);
    struct p2v_hive_log logs[2] = { as_log(&log1, "/Windows/System32/config/SYSTEM.LOG1"),
                                    as_log(&log2, "/Windows/System32/config/SYSTEM.LOG2") };
    /* The primary's secondary 2108: LOG1 (2107) is older, LOG2 replays alone. */
    put_le32(p.d + 4, 2112);
    put_le32(p.d + 8, 2108);
    reseal(p.d);
    assert_int_equal(recover(&p, logs, 2, 0, &out, &info), 0);
    assert_int_equal(info.entries, 20);
    assert_int_equal(info.first_seq, 2111);
    assert_sha256(out.d + 4096, 0xC02000, SHA_BINS);
    free(out.d);
    /* Both older than the primary. */
    put_le32(p.d + 4, 2300);
    put_le32(p.d + 8, 2200);
    reseal(p.d);
    assert_int_equal(recover(&p, logs, 2, 0, &out, &info), -ENOENT);
    assert_non_null(strstr(info.why, "base sequence 2107 below the primary's secondary 2200"));
    assert_non_null(strstr(info.why, "; SYSTEM.LOG2: does not continue the primary: base sequence 2111 "
                                     "below the primary's secondary 2200"));
    print_message("why: %s\n", info.why);
    free(p.d);
}

static void ignore_logs_seals(void **state)
{
    (void)state;
    struct p2v_hive_recovery info;
    struct buf out;
    struct p2v_hive_log logs[2] = { as_log(&log1, NULL), as_log(&log2, NULL) };
    assert_int_equal(recover(&prim, logs, 2, 1, &out, &info), 0);
    assert_int_equal(info.state, P2V_HIVE_DIRTY);
    assert_int_equal(out.len, prim.len);
    assert_memory_equal(out.d + 4096, prim.d + 4096, prim.len - 4096);
    assert_int_equal(get_le32(out.d + 40), get_le32(prim.d + 40));
    uint32_t m = get_le32(out.d + 4);
    assert_int_equal(get_le32(out.d + 8), m);
    assert_true(m > 2130 && m > highest_header_seq(&log1) && m > highest_header_seq(&log2));
    assert_int_equal(p2v_hive_is_dirty(out.d, out.len), 0);
    assert_int_equal(get_le32(out.d + 508), p2v_hive_checksum(out.d));
    /* And sealed so, the logs never replay over it. */
    struct buf again;
    assert_int_equal(recover(&out, logs, 2, 0, &again, &info), 0);
    assert_int_equal(info.state, P2V_HIVE_CLEAN);
    assert_memory_equal(again.d, out.d, out.len);
    free(again.d);
    free(out.d);
}

static void not_a_hive(void **state)
{
    (void)state;
    struct p2v_hive_recovery info;
    struct buf out;
    struct buf junk = dup_buf(prim.d, 8192);
    memset(junk.d, 'A', 4);
    assert_int_equal(recover(&junk, NULL, 0, 0, &out, &info), -EINVAL);
    assert_null(out.d);
    free(junk.d);
    /* A log is not a primary. */
    assert_int_equal(recover(&log1, NULL, 0, 0, &out, &info), -EINVAL);
    assert_non_null(strstr(info.why, "file type 6"));
    assert_int_equal(p2v_hive_recover(prim.d, prim.len, NULL, 1, 0, &out.d, &out.len, &info), -EINVAL);
    assert_int_equal(p2v_hive_recover(prim.d, prim.len, NULL, 0, 0, NULL, &out.len, &info), -EINVAL);
}

/* A damaged primary base block is rebuilt from the log with the newest
 * entries, replayed alone (LOG2: the same bins); without logs, refused. */
static void damaged_primary_base_block(void **state)
{
    (void)state;
    struct p2v_hive_recovery info;
    struct buf out, p = dup_buf(prim.d, prim.len);
    p.d[300] ^= 0x5a;
    struct p2v_hive_log logs[2] = { as_log(&log1, NULL), as_log(&log2, NULL) };
    assert_int_equal(recover(&p, logs, 2, 0, &out, &info), 0);
    assert_int_equal(info.entries, 20);
    assert_int_equal(info.first_seq, 2111);
    assert_sha256(out.d + 4096, 0xC02000, SHA_BINS);
    assert_sound(&out);
    assert_memory_equal(out.d + 36, prim.d + 36, 4);    /* root cell, from LOG2's copy */
    free(out.d);
    assert_int_equal(recover(&p, NULL, 0, 0, &out, &info), -EINVAL);
    assert_int_equal(recover(&p, logs, 2, 1, &out, &info), -EINVAL);
    free(p.d);
}

/* ---- hand-made logs over minimal.hive ---- */

/* minimal.hive made dirty: sequence numbers 5/4. */
static struct buf dirty_mini(void)
{
    struct buf p = dup_buf(mini.d, mini.len);
    put_le32(p.d + 4, 5);
    put_le32(p.d + 8, 4);
    reseal(p.d);
    return p;
}

/* A second bin at 0x1000: header and one free cell. */
static void new_bin(uint8_t *b)
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
static struct buf old_log(const struct buf *p, uint64_t ts, uint32_t seq)
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

static void old_format(void **state)
{
    (void)state;
    struct p2v_hive_recovery info;
    struct buf out, p = dirty_mini();
    uint64_t ts = get_le64(p.d + 12);
    struct buf good = old_log(&p, ts, 5), other = old_log(&p, ts + 1, 6);
    struct p2v_hive_log logs[2] = { as_log(&other, "SYSTEM.LOG2"), as_log(&good, "SYSTEM.LOG1") };
    assert_int_equal(recover(&p, logs, 2, 0, &out, &info), 0);
    assert_int_equal(info.state, P2V_HIVE_RECOVERED);
    assert_int_equal(info.pages, 9);
    assert_int_equal(out.len, 4096 + 0x2000);
    assert_memory_equal(out.d + 4096, p.d + 4096, 512);             /* page 0 kept */
    assert_memory_equal(out.d + 4096 + 512, good.d + 1024, 512);     /* bit 1 */
    assert_memory_equal(out.d + 4096 + 1024, p.d + 4096 + 1024, 3072);
    assert_memory_equal(out.d + 4096 + 4096, good.d + 1536, 4096);   /* bits 8..15 */
    assert_int_equal(get_le32(out.d + 40), 0x2000);
    assert_int_equal(get_le32(out.d + 144) & 1, 1);
    assert_true(info.seq > 6);      /* above the other log's too */
    assert_int_equal(assert_sound(&out), 2);
    char v[64];
    assert_int_equal(hivexget(&out, "\\", "", v, sizeof v), 0);   /* hivex opens it */
    free(out.d);
    /* The log of another timestamp alone: not applied. */
    assert_int_equal(recover(&p, logs, 1, 0, &out, &info), -ENOENT);
    assert_non_null(strstr(info.why, "timestamps differ"));
    /* Two applicable logs: the later one, whatever the order. */
    struct buf later = old_log(&p, ts, 7);
    later.d[1024] = 0x33;
    struct p2v_hive_log two[2] = { as_log(&good, NULL), as_log(&later, NULL) };
    for (int k = 0; k < 2; k++) {
        assert_int_equal(recover(&p, two, 2, 0, &out, &info), 0);
        assert_int_equal(out.d[4096 + 512], 0x33);
        free(out.d);
        struct p2v_hive_log t = two[0];
        two[0] = two[1];
        two[1] = t;
    }
    free(later.d);
    free(other.d);
    free(good.d);
    free(p.d);
}

static void old_format_refusals(void **state)
{
    (void)state;
    struct p2v_hive_recovery info;
    struct buf out, p = dirty_mini();
    struct buf l = old_log(&p, get_le64(p.d + 12), 5);
    struct p2v_hive_log lg = as_log(&l, "SYSTEM.LOG1");
    /* A bad new bin: the replay stops there; the hive ends before it. */
    l.d[1536] = 'x';
    assert_int_equal(recover(&p, &lg, 1, 0, &out, &info), 0);
    assert_int_equal(info.pages, 1);
    assert_int_equal(get_le32(out.d + 40), 0x1000);
    assert_sound(&out);
    free(out.d);
    l.d[1536] = 'h';
    /* Cut short: pages missing. */
    lg.len -= 512;
    assert_int_equal(recover(&p, &lg, 1, 0, &out, &info), -ENOENT);
    assert_non_null(strstr(info.why, "fewer pages"));
    lg.len += 512;
    /* No dirty vector; a clustering factor of 8. */
    l.d[512] = 'd';
    assert_int_equal(recover(&p, &lg, 1, 0, &out, &info), -ENOENT);
    l.d[512] = 'D';
    put_le32(l.d + 44, 8);
    reseal(l.d);
    assert_int_equal(recover(&p, &lg, 1, 0, &out, &info), -ENOENT);
    assert_non_null(strstr(info.why, "clustering factor"));
    /* It grows the hive by more than its pages: hive bins 64 KiB. */
    put_le32(l.d + 44, 1);
    put_le32(l.d + 40, 0x10000);
    reseal(l.d);
    assert_int_equal(recover(&p, &lg, 1, 0, &out, &info), -ENOENT);
    assert_non_null(strstr(info.why, "grows the hive"));
    free(l.d);
    free(p.d);
}

static struct buf new_log(const struct buf *p, uint32_t seq);

/* Logs the order does not tell apart: the same base sequence number. */
static void ties(void **state)
{
    (void)state;
    struct p2v_hive_recovery info;
    struct buf out, p = dirty_mini();
    /* Old format: the one with more pages; with only the new bin's pages
     * and a bad bin there, nothing applies. */
    struct buf more = old_log(&p, get_le64(p.d + 12), 5), fewer = dup_buf(more.d, more.len);
    fewer.d[516] = 0;
    memmove(fewer.d + 1024, fewer.d + 1536, 8 * 512);
    fewer.len -= 512;
    struct p2v_hive_log two[2] = { as_log(&fewer, NULL), as_log(&more, NULL) };
    for (int k = 0; k < 2; k++) {
        assert_int_equal(recover(&p, two, 2, 0, &out, &info), 0);
        assert_int_equal(info.pages, 9);
        free(out.d);
        struct p2v_hive_log t = two[0];
        two[0] = two[1];
        two[1] = t;
    }
    fewer.d[1024] = 'x';
    assert_int_equal(recover(&p, &two[two[0].data == more.d], 1, 0, &out, &info), -ENOENT);
    assert_non_null(strstr(info.why, "not sound"));
    /* New format: the longer run, whatever the order. */
    struct buf longer = new_log(&p, 5), shorter = new_log(&p, 5);
    shorter.len = 512 + get_le32(shorter.d + 516);
    struct p2v_hive_log nl[2] = { as_log(&shorter, "A"), as_log(&longer, "B") };
    for (int k = 0; k < 2; k++) {
        assert_int_equal(recover(&p, nl, 2, 0, &out, &info), 0);
        assert_int_equal(info.entries, 3);
        free(out.d);
        struct p2v_hive_log t = nl[0];
        nl[0] = nl[1];
        nl[1] = t;
    }
    free(longer.d);
    free(shorter.d);
    free(more.d);
    free(fewer.d);
    free(p.d);
}

/* A new-format log for the dirty minimal.hive: base sequence 5; entries
 * 5 (a page of the first bin), 6 (grows the hive by a bin), 7. */
static size_t put_entry(uint8_t *e, uint32_t seq, uint32_t hbins, const uint32_t *refs, int n, uint8_t fill)
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

static struct buf new_log(const struct buf *p, uint32_t seq)
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

static void new_format_by_hand(void **state)
{
    (void)state;
    struct p2v_hive_recovery info;
    struct buf out, p = dirty_mini(), l = new_log(&p, 5);
    struct p2v_hive_log lg = as_log(&l, "SYSTEM.LOG1");
    assert_int_equal(recover(&p, &lg, 1, 0, &out, &info), 0);
    assert_int_equal(info.entries, 3);
    assert_int_equal(info.pages, 4);
    assert_int_equal(out.len, 4096 + 0x2000);
    assert_int_equal(out.d[4096 + 0x200], 0x55);
    assert_int_equal(out.d[4096 + 0x400], 0x66);
    assert_int_equal(assert_sound(&out), 2);
    assert_int_equal(info.seq, 8);
    free(out.d);
    /* An authentic-looking entry asking for 2 GiB with one page: refused. */
    const uint32_t huge[] = { 0x7FFFE000, 0x1000 };
    put_entry(l.d + 512, 5, 0x7FFFF000, huge, 1, 0);
    assert_int_equal(recover(&p, &lg, 1, 0, &out, &info), -ENOENT);
    assert_non_null(strstr(info.why, "grows the hive"));
    /* A page beyond the entry's hive bins. */
    const uint32_t beyond[] = { 0x1000, 0x200 };
    put_entry(l.d + 512, 5, 0x1000, beyond, 1, 0);
    assert_int_equal(recover(&p, &lg, 1, 0, &out, &info), -ENOENT);
    assert_non_null(strstr(info.why, "beyond the hive bins"));
    free(l.d);
    /* Sequence numbers that wrap: LOG1 0xFFFFFFFE.., LOG2 0 continues it. */
    put_le32(p.d + 4, 0xFFFFFFF0u);
    put_le32(p.d + 8, 0xFFFFFFEFu);
    reseal(p.d);
    struct buf a = new_log(&p, 0xFFFFFFFEu), b = new_log(&p, 1);
    b.len = 512 + get_le32(b.d + 512 + 4);       /* entry 1 only ... */
    put_le32(b.d + 4, 0);                          /* ... renumbered 0 */
    put_le32(b.d + 8, 0);
    reseal(b.d);
    put_le32(b.d + 512 + 12, 0);
    rehash(b.d + 512, b.len - 512);
    a.len = 512 + get_le32(a.d + 516) + get_le32(a.d + 512 + get_le32(a.d + 516) + 4);  /* 2 entries */
    struct p2v_hive_log wrap[2] = { as_log(&b, NULL), as_log(&a, NULL) };
    assert_int_equal(recover(&p, wrap, 2, 0, &out, &info), 0);
    assert_int_equal(info.entries, 3);
    assert_int_equal(info.first_seq, 0xFFFFFFFEu);
    assert_int_equal(info.last_seq, 0);
    assert_int_equal(info.seq, 1);
    free(out.d);
    free(a.d);
    free(b.d);
    free(p.d);
}

/* ---- damaged and hostile logs ---- */

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
        cmocka_unit_test(checksum_cases),
        cmocka_unit_test(marvin32_vector),
        cmocka_unit_test(worked_example),
        cmocka_unit_test(worked_example_hivexget),
        cmocka_unit_test(one_log_alone),
        cmocka_unit_test(clean_win7),
        cmocka_unit_test(refuse_missing_and_cut_logs),
        cmocka_unit_test(damaged_entries_stop),
        cmocka_unit_test(stale_log_skipped),
        cmocka_unit_test(ignore_logs_seals),
        cmocka_unit_test(not_a_hive),
        cmocka_unit_test(damaged_primary_base_block),
        cmocka_unit_test(old_format),
        cmocka_unit_test(old_format_refusals),
        cmocka_unit_test(new_format_by_hand),
        cmocka_unit_test(ties),
        cmocka_unit_test(fuzz_real_logs),
        cmocka_unit_test(fuzz_authentic_entries),
        cmocka_unit_test(fuzz_base_blocks_and_old_logs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
