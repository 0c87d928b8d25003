/* The scrub's per-unit rewrites (issue 20, docs/scrub-design.md §1-2):
 * fixtures rebuilt from the brief's hexdumps of mkntfs and ntfs-3g records,
 * an INDX block and ext directory blocks; torn and hostile units stay
 * byte-identical; a second scrub changes nothing.  Every unit is handed
 * over in a heap block of exactly its size, so the sanitizer build sees
 * any read or write past it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/crc32c.h"
#include "mst_protect.h"
#include "layout/scrub_unit.h"

#define V31 P2V_NTFS_VERSION(3, 1)
#define V30 P2V_NTFS_VERSION(3, 0)

static int contains(const uint8_t *p, size_t n, const void *s, size_t k)
{
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, s, k) == 0)
            return 1;
    return 0;
}

/* One field overwritten: width 1, 2 or 4 bytes, little-endian. */
struct poke { uint16_t at; uint8_t width; uint32_t v; };
static void poke(uint8_t *b, struct poke p)
{
    if (p.width == 1)
        b[p.at] = (uint8_t)p.v;
    else if (p.width == 2)
        put_le16(b + p.at, (uint16_t)p.v);
    else
        put_le32(b + p.at, p.v);
}

/* A free record as mkntfs writes it (brief §1.1, c64k.img.rec30): record
 * number field 0, seq = its number, usn 2 after the write. */
static uint32_t header(uint8_t *r, uint32_t size, uint16_t seq)
{
    memset(r, 0, size);
    uint32_t count = size / 512 + 1, attrs = (0x30 + 2 * count + 7) & ~7u;
    memcpy(r, "FILE", 4);
    put_le16(r + 4, 0x30);
    put_le16(r + 6, (uint16_t)count);
    put_le16(r + 0x10, seq);
    put_le16(r + 0x14, (uint16_t)attrs);
    put_le32(r + 0x1C, size);
    return attrs;
}

static void mkntfs_free(uint8_t *r, uint32_t size, uint16_t seq, uint16_t usn)
{
    uint32_t attrs = header(r, size, seq);
    put_le32(r + 0x18, attrs + 8);
    put_le32(r + attrs, 0xFFFFFFFF);
    protect(r, usn);
}

/* A resident attribute without a name at off; returns the next offset. */
static uint32_t resident(uint8_t *r, uint32_t off, uint32_t type, const void *val, uint32_t vlen)
{
    uint32_t len = (0x18 + vlen + 7) & ~7u;
    put_le32(r + off, type);
    put_le32(r + off + 4, len);
    put_le16(r + off + 0x0A, 0x18);
    put_le32(r + off + 0x10, vlen);
    put_le16(r + off + 0x14, 0x18);
    memcpy(r + off + 0x18, val, vlen);
    return off + len;
}

/* A record with $STANDARD_INFORMATION, a $FILE_NAME "small1.txt" and a
 * resident $DATA of dlen bytes (MARKER-RESIDENT-001-rrr...), closed by
 * AT_END, before its update sequence is applied.  Returns bytes in use. */
static uint32_t file_record(uint8_t *r, uint32_t size, uint16_t flags, uint32_t dlen)
{
    uint32_t attrs = header(r, size, 2);
    put_le64(r + 8, 0x12345678);
    put_le16(r + 0x12, 1);
    put_le16(r + 0x16, flags);
    put_le16(r + 0x28, 4);
    put_le32(r + 0x2C, 64);
    uint8_t si[0x48], fn[0x56], data[0x140];
    memset(si, 0xdd, sizeof si);
    memset(fn, 0, sizeof fn);
    put_le64(fn, 5 | (uint64_t)5 << 48);
    fn[0x40] = 10;
    for (int i = 0; i < 10; i++)
        fn[0x42 + 2 * i] = (uint8_t)"small1.txt"[i];
    memset(data, 'r', sizeof data);
    memcpy(data, "MARKER-RESIDENT-001-", 20);
    uint32_t off = resident(r, attrs, 0x10, si, sizeof si);
    off = resident(r, off, 0x30, fn, sizeof fn);
    off = resident(r, off, 0x80, data, dlen);
    put_le32(r + off, 0xFFFFFFFF);
    put_le32(r + 0x18, off + 8);
    return off + 8;
}

static uint8_t *copy_of(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n);
    assert_non_null(c);
    memcpy(c, p, n);
    return c;
}

/* Scrubs a copy of the MFT record; a second pass must change nothing. */
static int scrub_mft(uint8_t *r, uint32_t size, uint64_t recno, int in_use, unsigned ver,
                     struct p2v_scrub_counts *cnt)
{
    uint8_t *b = copy_of(r, size);
    int rc = p2v_scrub_mft_record(b, size, recno, in_use, ver, cnt);
    uint8_t *again = copy_of(b, size);
    struct p2v_scrub_counts c2 = { 0 };
    assert_int_equal(p2v_scrub_mft_record(again, size, recno, in_use, ver, &c2), rc);
    assert_memory_equal(again, b, size);
    assert_int_equal(c2.mft_free_bytes + c2.mft_slack_bytes, 0);
    memcpy(r, b, size);
    free(again);
    free(b);
    return rc;
}

/* mkntfs's own free record comes out unchanged (record number field 0,
 * as mkntfs leaves it).  The freed record of
 * the brief (c512.rec64: seq 2, usn 6, a name and 300 bytes of resident
 * data, USA[1] = "rr") becomes that record but for seq, record number and
 * usn, and keeps no byte of the file.  1 KiB and 4 KiB records. */
static void free_records_become_pristine(void **state)
{
    (void)state;
    for (uint32_t size = 1024; size <= 4096; size *= 4) {
        uint8_t r[4096], want[4096], src[4096];
        mkntfs_free(want, size, 30, 2);
        memcpy(r, want, size);
        struct p2v_scrub_counts c = { 0 };
        assert_int_equal(scrub_mft(r, size, 30, 0, V31, &c), 0);
        assert_memory_equal(r, want, size);
        assert_true(c.mft_free_records == 0 && c.mft_free_bytes == 0);

        assert_true(file_record(r, size, 0, 0x140) > 0x200);  /* data over a stride end */
        protect(r, 6);
        assert_memory_equal(r + 0x32, "rr", 2);
        memcpy(src, r, size);
        assert_int_equal(scrub_mft(r, size, 64, 0, V31, &c), 0);
        uint64_t changed = 0;
        for (uint32_t i = 0; i < size; i++) {
            changed += r[i] != src[i];
            int masked = i == 0x10 || i == 0x11 || i == 0x30 || i == 0x31 || i % 512 >= 510;
            if (!masked)
                assert_int_equal(r[i], want[i]);
        }
        assert_true(get_le16(r + 0x10) == 2 && get_le32(r + 0x2C) == 0);
        for (uint32_t i = 512; i <= size; i += 512)
            assert_int_equal(get_le16(r + i - 2), 6);
        assert_int_equal(get_le16(r + 0x30), 6);
        assert_false(contains(r, size, "MARK", 4) || contains(r, size, "rr", 2));
        assert_false(contains(r, size, "s\0m\0a\0l\0l\0", 10));
        assert_int_equal(c.mft_free_records, 1);
        assert_int_equal(c.mft_free_bytes, changed);
        assert_int_equal(c.skipped_units, 0);
    }
}

/* seq 0 becomes 1, usn 0 and 0xFFFF become 1 (ntfs-3g's reuse rule);
 * NTFS 3.0 has its array at 0x2A and no record number field. */
static void free_record_numbers_and_old_layout(void **state)
{
    (void)state;
    uint8_t r[1024];
    mkntfs_free(r, 1024, 0, 0xFFFF);
    assert_int_equal(scrub_mft(r, 1024, 40, 0, V31, NULL), 0);
    assert_int_equal(get_le16(r + 0x10), 1);
    assert_int_equal(get_le16(r + 0x30), 1);
    assert_int_equal(get_le16(r + 0x3FE), 1);
    mkntfs_free(r, 1024, 7, 0);
    assert_int_equal(scrub_mft(r, 1024, 40, 0, V31, NULL), 0);
    assert_int_equal(get_le16(r + 0x30), 1);
    uint8_t torn[1024];
    file_record(torn, 1024, 0, 0x140);
    protect(torn, 6);
    put_le16(torn + 0x1FE, 5);
    memcpy(r, torn, sizeof r);
    struct p2v_scrub_counts c = { 0 };
    assert_int_equal(scrub_mft(r, 1024, 40, 0, V31, &c), 1);
    assert_memory_equal(r, torn, sizeof r);
    assert_int_equal(c.skipped_units, 1);

    file_record(r, 1024, 0, 100);
    protect(r, 9);
    assert_int_equal(scrub_mft(r, 1024, 40, 0, V30, NULL), 0);
    /* usa 0x2A, 3 entries (9, 0, 0), attributes at 0x30, in use 0x38 */
    assert_memory_equal(r + 4, "\x2a\0\3\0", 4);
    assert_memory_equal(r + 0x14, "\x30\0\0\0\x38\0\0\0\0\4\0\0", 12);
    assert_memory_equal(r + 0x2A, "\x09\0\0\0\0\0\xff\xff\xff\xff\0\0\0\0", 14);
    assert_true(r[0x3FE] == 9 && r[0x1FE] == 9);
}

/* Below record 24, and where the header says in use, only slack goes. */
static void free_low_records_only_lose_slack(void **state)
{
    (void)state;
    uint8_t r[1024], want[1024];
    uint32_t in_use = file_record(r, 1024, 0, 10);
    memcpy(want, r, sizeof want);
    memset(r + in_use, 'S', 1024 - in_use);
    protect(r, 3);
    protect(want, 3);
    assert_int_equal(scrub_mft(r, 1024, 23, 0, V31, NULL), 0);
    assert_memory_equal(r, want, sizeof want);  /* usn 3 kept, USA[1] now 0 */

    file_record(r, 1024, 1, 10);
    protect(r, 3);
    memcpy(want, r, sizeof want);
    assert_int_equal(scrub_mft(r, 1024, 100, 0, V31, NULL), 0);
    assert_memory_equal(r, want, sizeof want);  /* nothing stale to drop */
}

/* The brief's shrunk record: value "MARKERSHRI" with stale "NKMARK" in
 * its padding, MARKERSHRINK copies in the slack, USA[1] = "NK".  The same
 * usn stays; the stale array entry becomes the zero it now protects. */
static void shrunk_record_loses_slack_and_padding(void **state)
{
    (void)state;
    uint8_t r[1024], want[1024];
    uint32_t in_use = file_record(r, 1024, 1, 10);
    uint32_t data_attr = in_use - 8 - 0x28;
    memcpy(r + data_attr + 0x18, "MARKERSHRINKMARK", 16);  /* 10 value + 6 padding */
    for (uint32_t i = in_use; i < 1024; i++)
        r[i] = (uint8_t)"MARKERSHRINK"[(i - in_use) % 12];
    uint64_t stale = 6 + 1024 - in_use;
    memcpy(want, r, sizeof want);
    memset(want + data_attr + 0x18 + 10, 0, 6);
    memset(want + in_use, 0, 1024 - in_use);
    protect(want, 6);
    protect(r, 6);
    assert_false(get_le16(r + 0x32) == 0);  /* a stale entry */
    struct p2v_scrub_counts c = { 0 };
    assert_int_equal(scrub_mft(r, 1024, 70, 1, V31, &c), 0);
    assert_memory_equal(r, want, sizeof r);
    assert_true(get_le16(r + 0x30) == 6 && get_le16(r + 0x32) == 0);
    assert_int_equal(c.mft_slack_bytes, stale);
    assert_int_equal(c.mft_free_records, 0);
    assert_false(contains(r, sizeof r, "SHRINK", 6) || contains(r, sizeof r, "NKMARK", 6));
    assert_true(contains(r, sizeof r, "MARKERSHRI", 10));
}

/* A torn write (one stride with another usn), BAAD, or any malformed
 * header: left byte-identical and counted. */
static void bad_records_left_alone(void **state)
{
    (void)state;
    uint8_t src[1024];
    uint32_t in_use = file_record(src, 1024, 1, 0x140);
    memset(src + in_use, 'S', 1024 - in_use);
    protect(src, 6);
    assert_int_equal(in_use, 0x268);
    static const struct poke bad[] = {
        { 0x3FE, 2, 7 }, { 0, 4, 0x44414142 } /* BAAD */, { 4, 2, 0x31 } /* usa odd */,
        { 4, 2, 0x04 }, { 4, 2, 0x1FC } /* usa past 510 */, { 6, 2, 0xFFFF } /* count */,
        { 0x1C, 4, 4096 } /* allocated */, { 0x18, 4, 1025 } /* in use > size */,
        { 0x14, 2, 0x3C } /* attrs unaligned */, { 0x3C, 4, 0 } /* attribute length 0 */,
        { 0x3C, 4, 0xFFFFFFF8 }, { 0x3C, 4, 0x10 }, { 0x48, 4, 0x7FFFFFFF } /* value */,
        { 0x41, 1, 200 } /* name */, { 0x18, 4, 0x260 } /* no AT_END in use */,
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        uint8_t r[1024];
        memcpy(r, src, sizeof r);
        poke(r, bad[k]);
        /* The header says in use: the bitmap's bit changes nothing. */
        for (int in_use_bit = 0; in_use_bit < 2; in_use_bit++) {
            struct p2v_scrub_counts c = { 0 };
            uint8_t *b = copy_of(r, sizeof r);
            assert_int_equal(p2v_scrub_mft_record(b, sizeof r, 30, in_use_bit, V31, &c), 1);
            assert_memory_equal(b, r, sizeof r);
            assert_int_equal(c.skipped_units, 1);
            free(b);
        }
    }
    struct p2v_scrub_counts c = { 0 };
    uint8_t *small = copy_of(src, 500);
    assert_int_equal(p2v_scrub_mft_record(small, 500, 30, 1, V31, &c), 1);
    free(small);
    assert_int_equal(p2v_scrub_mft_record(NULL, 0, 30, 1, V31, &c), 1);
}

/* The brief's fresh root INDX block (usn 3, entries at 0x40, used 0x4e8)
 * with stale names behind index_length: zeroed up to the end, the first
 * two strides' saved bytes kept, the others zero. */
static void indx_block(uint8_t *r)
{
    memset(r, 0, 4096);
    memcpy(r, "INDX", 4);
    put_le16(r + 4, 0x28);
    put_le16(r + 6, 9);
    put_le32(r + 0x18, 0x28);
    put_le32(r + 0x1C, 0x4d0);
    put_le32(r + 0x20, 0xfe8);
    for (uint32_t i = 0x40; i < 0x4e8; i++)
        r[i] = (uint8_t)(i * 7 + 1);
}

static void indx_slack(void **state)
{
    (void)state;
    uint8_t r[4096], want[4096];
    indx_block(r);
    const char *stale = "A\0V\0e\0r\0y\0L\0o\0n\0g\0_\0M\0A\0R\0K\0E\0R\0I\0D\0X\0";
    uint64_t nonzero = 0;
    for (uint32_t i = 0x4e8; i < 4096; i++)
        nonzero += (r[i] = (uint8_t)stale[(i - 0x4e8) % 38]) != 0;
    memcpy(want, r, sizeof want);
    memset(want + 0x4e8, 0, 4096 - 0x4e8);
    protect(want, 3);
    protect(r, 3);
    assert_int_equal(get_le16(r + 0x2A), get_le16(want + 0x2A));
    struct p2v_scrub_counts c = { 0 };
    uint8_t *b = copy_of(r, sizeof r);
    assert_int_equal(p2v_scrub_indx(b, sizeof r, &c), 0);
    assert_memory_equal(b, want, sizeof want);
    assert_int_equal(c.index_slack_bytes, nonzero);
    assert_false(contains(b, sizeof r, "M\0A\0R\0K", 7));
    assert_int_equal(p2v_scrub_indx(b, sizeof r, &c), 0);
    assert_memory_equal(b, want, sizeof want);
    assert_int_equal(c.index_slack_bytes, nonzero);

    static const struct poke bad[] = {
        { 0x5FE, 2, 4 } /* torn */, { 3, 1, 'Y' }, { 0x20, 4, 0x1000 } /* allocated */,
        { 0x1C, 4, 0xfe9 } /* past allocated */, { 0x1C, 4, 0x28 } /* no entries */,
        { 0x18, 4, 0x8 } /* entries over the header */, { 4, 2, 0x20 } /* array over it */,
        { 0x18, 4, 0xFFFFFFF0 },
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        memcpy(b, r, sizeof r);
        poke(b, bad[k]);
        uint8_t keep[4096];
        memcpy(keep, b, sizeof keep);
        c.skipped_units = 0;
        assert_int_equal(p2v_scrub_indx(b, sizeof r, &c), 1);
        assert_memory_equal(b, keep, sizeof keep);
        assert_int_equal(c.skipped_units, 1);
    }
    free(b);
}

/* ---- ext ---- */

/* Bit by bit, independently of the module's table. */
static uint32_t ref_crc32c(uint32_t c, const uint8_t *p, size_t n)
{
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return c;
}

static uint32_t ref_csum(const uint8_t *b, uint32_t bs, uint32_t ino, uint32_t gen, uint32_t seed)
{
    uint8_t le[8];
    put_le32(le, ino);
    put_le32(le + 4, gen);
    return ref_crc32c(ref_crc32c(seed, le, 8), b, bs - 12);
}

static uint32_t dirent(uint8_t *b, uint32_t off, uint32_t ino, uint32_t rl, const char *name)
{
    put_le32(b + off, ino);
    put_le16(b + off + 4, (uint16_t)rl);
    b[off + 6] = (uint8_t)strlen(name);
    b[off + 7] = ino ? 1 : 0;
    memcpy(b + off + 8, name, strlen(name));
    return off + rl;
}

#define SEED 0xc0ffee
#define GEN 0x5eed

/* A 1 KiB leaf of directory 12: "." (or a deleted first entry, inode 0,
 * as the kernel leaves it), "..", "keep1" whose record hides a deleted
 * "MARKERDEL1" (as debugfs rm or an old kernel leaves it), "kept2" to the
 * end with a stale name behind it.  clean: the same without the stale
 * bytes, i.e. what the scrub should make of it. */
static void ext_leaf(uint8_t *b, int csum, int first_deleted, int clean)
{
    uint32_t bs = 1024, end = csum ? bs - 12 : bs;
    memset(b, 0, bs);
    uint32_t off = first_deleted ? dirent(b, 0, 0, 24, clean ? "" : "MARKERGONE")
                                 : dirent(b, 0, 12, 12, ".");
    off = dirent(b, off, 2, 12, "..");
    uint32_t next = dirent(b, off, 13, 40, "keep1");
    if (!clean)
        dirent(b, off + 16, 14, 24, "MARKERDEL1");
    off = next;
    dirent(b, off, 15, end - off, "kept2");
    if (!clean)
        memcpy(b + off + 40, "MARKERDEL2", 10);
    if (csum) {
        put_le16(b + end + 4, 12);
        b[end + 7] = 0xDE;
        put_le32(b + end + 8, ref_csum(b, bs, 12, GEN, SEED));
    }
}

/* Without and with the metadata_csum tail (its CRC checked first and
 * recomputed after): exactly the stale bytes change, once. */
static void ext_leaves(void **state)
{
    (void)state;
    for (int v = 0; v < 4; v++) {
        int csum = v & 1, first_deleted = v >> 1;
        uint8_t src[1024], want[1024];
        ext_leaf(src, csum, first_deleted, 0);
        ext_leaf(want, csum, first_deleted, 1);
        uint64_t stale = 0;
        for (int i = 0; i < 1024; i++)
            stale += src[i] != want[i];
        uint8_t *b = copy_of(src, sizeof src);
        struct p2v_scrub_counts c = { 0 };
        for (int pass = 0; pass < 2; pass++) {
            assert_int_equal(p2v_scrub_ext_leaf(b, 1024, 12, GEN, SEED, csum, &c), 0);
            assert_memory_equal(b, want, sizeof want);
            assert_int_equal(c.ext_dirent_slack_bytes, stale);
        }
        assert_false(contains(b, 1024, "MARKER", 6));
        assert_int_equal(c.skipped_units, 0);
        free(b);
    }
}

/* A wrong seed, inode or generation, a damaged or missing tail: the
 * block is not what the caller says, hands off. */
static void ext_csum_mismatch_left_alone(void **state)
{
    (void)state;
    uint8_t src[1024];
    ext_leaf(src, 1, 1, 0);
    assert_int_equal(p2v_scrub_ext_leaf_csum(src, 1024, 12, GEN, SEED), get_le32(src + 1020));
    uint8_t *b = copy_of(src, sizeof src);
    struct p2v_scrub_counts c = { 0 };
    assert_int_equal(p2v_scrub_ext_leaf(b, 1024, 12, GEN + 1, SEED, 1, &c), 1);
    assert_int_equal(p2v_scrub_ext_leaf(b, 1024, 13, GEN, SEED, 1, &c), 1);
    assert_int_equal(p2v_scrub_ext_leaf(b, 1024, 12, GEN, SEED + 1, 1, &c), 1);
    b[1019] = 0xDD;
    assert_int_equal(p2v_scrub_ext_leaf(b, 1024, 12, GEN, SEED, 1, &c), 1);
    b[1019] = 0xDE;
    b[1000] ^= 1;
    assert_int_equal(p2v_scrub_ext_leaf(b, 1024, 12, GEN, SEED, 1, &c), 1);
    b[1000] ^= 1;
    assert_memory_equal(b, src, sizeof src);
    assert_int_equal(c.skipped_units, 5);
    ext_leaf(b, 0, 1, 0);  /* no tail at all */
    assert_int_equal(p2v_scrub_ext_leaf(b, 1024, 12, GEN, SEED, 1, &c), 1);
    free(b);
}

/* A real block: directory 12 (generation 0x1234abcd set with debugfs) of
 * an ext4 made by mke2fs -b 1024 -O metadata_csum -U 0f1e2d3c-...-e1f0;
 * debugfs rm of its first entry (inode 0, name kept) and last (name left
 * in _28's record).  The filesystem seed is crc32c(~0, uuid) without the
 * final inversion, i.e. ~p2v_crc32c(uuid).  e2fsck -fn passed the image
 * with the block scrubbed (checksum 0x3132b6af). */
static void ext_leaf_from_mke2fs(void **state)
{
    (void)state;
    const char *uuid = "\x0f\x1e\x2d\x3c\x4b\x5a\x69\x78\x87\x96\xa5\xb4\xc3\xd2\xe1\xf0";
    const char *name = "MARKER_a_long_name_to_fill_the_block_quickly_2";
    uint8_t b[1024];
    memset(b, 0, sizeof b);
    for (int k = 0; k < 3; k++) {
        uint32_t off = k == 0 ? 0 : k == 1 ? 0x38 : 0x70;
        put_le32(b + off, k == 0 ? 0 : 0x1e + (uint32_t)k);
        put_le16(b + off + 4, k == 0 ? 0x38 : k == 1 ? 0x3bc : 0x384);
        b[off + 6] = 0x2f;
        b[off + 7] = 1;
        memcpy(b + off + 8, name, 46);
        b[off + 8 + 46] = (uint8_t)('7' + k);
    }
    put_le16(b + 1012 + 4, 12);
    b[1012 + 7] = 0xDE;
    put_le32(b + 1020, 0x70d43ceb);
    uint32_t seed = ~p2v_crc32c(uuid, 16);
    assert_int_equal(seed, 0x9fc604e5);
    assert_int_equal(p2v_scrub_ext_leaf_csum(b, 1024, 12, 0x1234abcd, seed), 0x70d43ceb);
    struct p2v_scrub_counts c = { 0 };
    assert_int_equal(p2v_scrub_ext_leaf(b, 1024, 12, 0x1234abcd, seed, 1, &c), 0);
    assert_int_equal(get_le32(b + 1020), 0x3132b6af);
    assert_int_equal(c.ext_dirent_slack_bytes, 105);
    assert_int_equal(get_le16(b + 4), 0x38);
    assert_true(contains(b, sizeof b, "quickly_28", 10));
    assert_false(contains(b, sizeof b, "quickly_27", 10) || contains(b, sizeof b, "quickly_29", 10));
}

/* 64 KiB blocks store rec_len 65536 as 0 (or 65535), bits 16-17 low: an
 * emptied block whose only entry still has its name. */
static void ext_64k_block(void **state)
{
    (void)state;
    uint32_t bs = 65536;
    uint8_t *b = calloc(1, bs);
    assert_non_null(b);
    put_le16(b + 4, 0);  /* 65536 */
    b[6] = 10;
    memcpy(b + 8, "MARKERGONE", 10);
    memcpy(b + 40000, "MARKEROLD", 9);
    assert_int_equal(p2v_scrub_ext_leaf(b, bs, 12, 0, 0, 0, NULL), 0);
    assert_false(contains(b, bs, "MARKER", 6));
    assert_int_equal(get_le16(b + 4), 0);
    free(b);
}

/* rec_len 0, odd, short, past the end, a name past its record, a live
 * entry without a name, type 0x12 (dirdata), a bad block size. */
static void ext_bad_walks(void **state)
{
    (void)state;
    uint8_t src[1024];
    ext_leaf(src, 0, 0, 0);
    static const struct poke bad[] = {
        { 28, 2, 0 }, { 28, 2, 42 }, { 28, 2, 8 }, { 68, 2, 1024 }, { 30, 1, 33 },
        { 30, 1, 0 }, { 31, 1, 0x12 }, { 0, 0, 1000 } /* block size */, { 0, 0, 512 },
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        uint8_t *b = copy_of(src, sizeof src);
        uint32_t bs = bad[k].width ? 1024 : bad[k].v;
        if (bad[k].width)
            poke(b, bad[k]);
        uint8_t keep[1024];
        memcpy(keep, b, sizeof keep);
        struct p2v_scrub_counts c = { 0 };
        assert_int_equal(p2v_scrub_ext_leaf(b, bs, 12, 0, 0, 0, &c), 1);
        assert_memory_equal(b, keep, sizeof keep);
        assert_int_equal(c.skipped_units, 1);
        free(b);
    }
}

/* htree blocks the caller should have left out are left alone: a dx_node
 * (fake entry over the block, count/limit behind it) and a dx_root. */
static void ext_htree_blocks_untouched(void **state)
{
    (void)state;
    uint8_t b[1024], keep[1024];
    memset(b, 0, sizeof b);
    put_le16(b + 4, 1024);
    put_le16(b + 8, 127);   /* limit */
    put_le16(b + 10, 3);    /* count */
    put_le32(b + 12, 5);
    memcpy(keep, b, sizeof b);
    assert_int_equal(p2v_scrub_ext_leaf(b, 1024, 12, 0, 0, 0, NULL), 1);
    assert_memory_equal(b, keep, sizeof b);
    assert_int_equal(p2v_scrub_ext_leaf(b, 1024, 12, 0, 0, 1, NULL), 1);

    memset(b, 0, sizeof b);
    uint32_t off = dirent(b, 0, 12, 12, ".");
    dirent(b, off, 2, 1012, "..");
    b[0x1C] = 1;        /* hash version */
    b[0x1D] = 8;        /* info_length */
    put_le16(b + 0x20, 123);
    put_le16(b + 0x22, 2);
    memcpy(keep, b, sizeof b);
    assert_int_equal(p2v_scrub_ext_leaf(b, 1024, 12, 0, 0, 0, NULL), 1);
    assert_memory_equal(b, keep, sizeof b);

    /* An empty leaf that is already clean is no htree and stays as is;
     * one with a stale name in its only entry is scrubbed. */
    memset(b, 0, sizeof b);
    put_le16(b + 4, 1024);
    assert_int_equal(p2v_scrub_ext_leaf(b, 1024, 12, 0, 0, 0, NULL), 0);
    b[6] = 10;
    memcpy(b + 8, "MARKERGONE", 10);
    assert_int_equal(p2v_scrub_ext_leaf(b, 1024, 12, 0, 0, 0, NULL), 0);
    for (int i = 6; i < 1024; i++)
        assert_int_equal(b[i], 0);
}

/* ---- hostile bytes ---- */

static uint32_t rnd_state = 20;
static uint32_t rnd(void) { return (rnd_state = rnd_state * 1103515245u + 12345u) >> 8; }

enum kind { MFT_FREE, MFT_USED, INDX, EXT, EXT_CSUM };

static int run(enum kind k, uint8_t *b, uint32_t size, struct p2v_scrub_counts *c)
{
    if (k == INDX)
        return p2v_scrub_indx(b, size, c);
    if (k >= EXT)
        return p2v_scrub_ext_leaf(b, size, 12, GEN, SEED, k == EXT_CSUM, c);
    return p2v_scrub_mft_record(b, size, 30, k == MFT_USED, V31, c);
}

/* Mutates a few bytes (mostly in the headers), sometimes makes the update
 * sequence or the checksum valid again so the walks are reached: a
 * skipped unit is unchanged, a scrubbed one is stable, and the update
 * sequence number survives. */
static void mutate_and_check(enum kind k, const uint8_t *src, uint32_t size)
{
    for (int it = 0; it < 3000; it++) {
        uint8_t *b = copy_of(src, size);
        for (uint32_t n = 1 + rnd() % 4; n--;) {
            uint32_t at = rnd() % 2 ? rnd() % 0x60 : rnd() % size;
            b[at] = rnd() % 3 ? (uint8_t)rnd() : (uint8_t)(b[at] + 1);
        }
        int ntfs = k == MFT_FREE || k == MFT_USED || k == INDX;
        uint32_t ofs = get_le16(b + 4), count = get_le16(b + 6);
        if (ntfs && rnd() % 2 && ofs + 2 * count <= 510 && (count - 1) * 512 <= size)
            protect(b, get_le16(b + ofs));
        if (k == EXT_CSUM && rnd() % 2)
            put_le32(b + size - 4, p2v_scrub_ext_leaf_csum(b, size, 12, GEN, SEED));
        uint8_t *in = copy_of(b, size);
        struct p2v_scrub_counts c = { 0 };
        int rc = run(k, b, size, &c);
        assert_int_equal(c.skipped_units, rc);
        if (rc) {
            assert_memory_equal(b, in, size);
        } else {
            uint8_t *again = copy_of(b, size);
            assert_int_equal(run(k, again, size, NULL), 0);
            assert_memory_equal(again, b, size);
            free(again);
            for (uint32_t i = 510; ntfs && i < size; i += 512) {
                uint16_t was = get_le16(in + i), now = get_le16(b + i);
                assert_true(now == was || ((was == 0 || was == 0xFFFF) && now == 1));
            }
        }
        free(in);
        free(b);
    }
}

static void hostile_units(void **state)
{
    (void)state;
    uint8_t r[4096];
    mkntfs_free(r, 1024, 30, 2);
    mutate_and_check(MFT_FREE, r, 1024);
    file_record(r, 4096, 0, 0x140);
    protect(r, 6);
    mutate_and_check(MFT_FREE, r, 4096);
    mutate_and_check(MFT_USED, r, 4096);
    uint32_t in_use = file_record(r, 1024, 1, 10);
    memset(r + in_use, 'S', 1024 - in_use);
    protect(r, 6);
    mutate_and_check(MFT_USED, r, 1024);

    indx_block(r);
    memset(r + 0x4e8, 'I', 4096 - 0x4e8);
    protect(r, 3);
    mutate_and_check(INDX, r, 4096);

    ext_leaf(r, 0, 1, 0);
    mutate_and_check(EXT, r, 1024);
    ext_leaf(r, 1, 0, 0);
    mutate_and_check(EXT_CSUM, r, 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(free_records_become_pristine),
        cmocka_unit_test(free_record_numbers_and_old_layout),
        cmocka_unit_test(free_low_records_only_lose_slack),
        cmocka_unit_test(shrunk_record_loses_slack_and_padding),
        cmocka_unit_test(bad_records_left_alone),
        cmocka_unit_test(indx_slack),
        cmocka_unit_test(ext_leaves),
        cmocka_unit_test(ext_csum_mismatch_left_alone),
        cmocka_unit_test(ext_leaf_from_mke2fs),
        cmocka_unit_test(ext_64k_block),
        cmocka_unit_test(ext_bad_walks),
        cmocka_unit_test(ext_htree_blocks_untouched),
        cmocka_unit_test(hostile_units),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
