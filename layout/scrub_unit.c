/* The per-unit rewrites of the scrub (docs/scrub-design.md §1.1-1.3, §2):
 * every offset read from a unit is checked against the unit's size before
 * it is used, and a unit is only written once every check has passed, so
 * a skipped unit stays byte-identical. */
#include "scrub_unit.h"

#include <stddef.h>
#include <string.h>

#include "core/bytes.h"
#include "core/crc32c.h"

#define NTFS_STRIDE 512u      /* the update sequence protects 512-byte strides */
#define MST_MAX 65536u
#define MFT_OLD_HEADER 0x2Au  /* MFT_RECORD of NTFS <= 3.0 ends here */
#define MFT_HEADER 0x30u      /* 3.1 adds the record number (aligned up) */
#define MFT_IN_USE 0x0001u
#define AT_END 0xFFFFFFFFu
#define ATTR_RESIDENT_HEADER 0x18u
#define INDX_HEADER 0x18u     /* INDEX_BLOCK up to its INDEX_HEADER */
#define INDX_MIN_USA 0x28u    /* ... and after the 16-byte INDEX_HEADER */
#define FIRST_USER_RECORD 24u /* 0-15 system files, 16-23 reserved for $MFT */
#define EXT_TAIL 12u
#define EXT_TAIL_TYPE 0xDEu
#define EXT_MIN_REC 12u       /* the kernel's EXT4_DIR_REC_LEN(1) */

static uint64_t zero_bytes(uint8_t *p, uint32_t from, uint32_t to)
{
    uint64_t n = 0;
    for (uint32_t i = from; i < to; i++)
        if (p[i]) {
            p[i] = 0;
            n++;
        }
    return n;
}

static void put8(uint8_t *p, uint8_t v, uint64_t *changed)
{
    if (*p != v) {
        *p = v;
        ++*changed;
    }
}

/* ---- NTFS multi-sector transfer protection ---- */

/* 0 if the update sequence array of a FILE or INDX unit is well formed and
 * every stride ends with its number (ntfs-3g mst.c's checks, plus a header
 * the array must not overlap). */
static int mst_check(const uint8_t *b, uint32_t size, uint32_t min_ofs)
{
    if (size < NTFS_STRIDE || size > MST_MAX || size % NTFS_STRIDE)
        return -1;
    uint32_t ofs = get_le16(b + 4), count = get_le16(b + 6);
    if ((ofs & 1) || ofs < min_ofs || count != size / NTFS_STRIDE + 1 ||
        ofs + 2 * count > NTFS_STRIDE - 2)
        return -1;
    uint16_t usn = get_le16(b + ofs);
    for (uint32_t i = 1; i < count; i++)
        if (get_le16(b + i * NTFS_STRIDE - 2) != usn)
            return -1;
    return 0;
}

/* Puts each stride's own last two bytes back (after mst_check). */
static void mst_decode(uint8_t *b)
{
    uint32_t ofs = get_le16(b + 4), count = get_le16(b + 6);
    for (uint32_t i = 1; i < count; i++)
        memcpy(b + i * NTFS_STRIDE - 2, b + ofs + 2 * i, 2);
}

/* Saves each stride's last two bytes in the array and writes the number
 * there instead.  After mst_decode with the same number, the identity. */
static void mst_encode(uint8_t *b)
{
    uint32_t ofs = get_le16(b + 4), count = get_le16(b + 6);
    for (uint32_t i = 1; i < count; i++) {
        memcpy(b + ofs + 2 * i, b + i * NTFS_STRIDE - 2, 2);
        memcpy(b + i * NTFS_STRIDE - 2, b + ofs, 2);
    }
}

/* ---- MFT records ---- */

/* Walks the attributes of a decoded record in [attrs, in_use): -1 unless
 * they end in AT_END inside it.  With apply, zeroes each resident
 * attribute's bytes after its value (and name) up to its length: stale
 * bytes of a longer former value. */
static int walk_attrs(uint8_t *b, uint32_t attrs, uint32_t in_use, int apply, uint64_t *changed)
{
    uint32_t off = attrs;
    for (;;) {
        if (in_use - off < 4)
            return -1;
        if (get_le32(b + off) == AT_END)
            return 0;
        if (in_use - off < ATTR_RESIDENT_HEADER)
            return -1;
        uint32_t len = get_le32(b + off + 4);
        if (len < ATTR_RESIDENT_HEADER || (len & 7) || len > in_use - off)
            return -1;
        if (b[off + 8] == 0) {
            uint32_t vlen = get_le32(b + off + 0x10), vofs = get_le16(b + off + 0x14);
            if (vofs > len || vlen > len - vofs)
                return -1;
            uint32_t keep = vofs + vlen;
            uint32_t nlen = b[off + 9], nofs = get_le16(b + off + 0x0A);
            if (nlen) {
                if (nofs > len || 2 * nlen > len - nofs)
                    return -1;
                if (nofs + 2 * nlen > keep)
                    keep = nofs + 2 * nlen;
            }
            if (keep < ATTR_RESIDENT_HEADER)
                keep = ATTR_RESIDENT_HEADER;
            if (apply)
                *changed += zero_bytes(b + off, keep, len);
        }
        off += len;  /* len >= 0x18: at most size / 0x18 turns */
    }
}

/* A record in use (or one never rewritten): its slack and value padding.
 * The update sequence was checked by the caller. */
static int scrub_mft_slack(uint8_t *b, uint32_t size, struct p2v_scrub_counts *cnt)
{
    uint32_t usa_end = get_le16(b + 4) + 2u * get_le16(b + 6);
    mst_decode(b);
    uint32_t attrs = get_le16(b + 0x14), in_use = get_le32(b + 0x18);
    uint64_t changed = 0;
    if ((attrs & 7) || attrs < usa_end || in_use > size || attrs > in_use ||
        get_le32(b + 0x1C) != size || walk_attrs(b, attrs, in_use, 0, NULL) != 0) {
        mst_encode(b);  /* undoes mst_decode exactly */
        cnt->skipped_units++;
        return 1;
    }
    walk_attrs(b, attrs, in_use, 1, &changed);
    changed += zero_bytes(b, in_use, size);
    mst_encode(b);
    cnt->mft_slack_bytes += changed;
    return 0;
}

/* Rewrites a free record as ntfs_mft_record_layout() lays one out, with
 * the source's sequence and update sequence numbers, counting the bytes
 * that change.  The header and array end before the first stride's end
 * (at most 0x140 bytes for 64 KiB records). */
static uint64_t write_free_record(uint8_t *b, uint32_t size, unsigned version, uint16_t seq,
                                  uint16_t usn)
{
    uint8_t h[NTFS_STRIDE - 2];
    memset(h, 0, sizeof h);
    uint32_t ofs = version >= P2V_NTFS_VERSION(3, 1) ? MFT_HEADER : MFT_OLD_HEADER;
    uint32_t count = size / NTFS_STRIDE + 1;
    uint32_t attrs = (uint32_t)round_up(ofs + 2 * count, 8);
    memcpy(h, "FILE", 4);
    put_le16(h + 4, (uint16_t)ofs);
    put_le16(h + 6, (uint16_t)count);
    put_le16(h + 0x10, seq);
    put_le16(h + 0x14, (uint16_t)attrs);
    put_le32(h + 0x18, attrs + 8);
    put_le32(h + 0x1C, size);
    /* The record number field (0x2A-0x2F in 3.1) stays 0, as mkntfs
     * leaves it in the free records of a new volume: a scrubbed free record
     * then equals a formatted one.  ntfs-3g and Windows fill it in when
     * they use the record. */
    put_le16(h + ofs, usn);  /* the array's other entries: the zeros below */
    put_le32(h + attrs, AT_END);
    uint32_t hlen = attrs + 8;

    uint64_t changed = 0;
    for (uint32_t i = 0; i < hlen; i++)
        put8(b + i, h[i], &changed);
    for (uint32_t s = 0; s < size; s += NTFS_STRIDE) {
        uint32_t end = s + NTFS_STRIDE - 2;
        changed += zero_bytes(b, s < hlen ? hlen : s, end);
        put8(b + end, (uint8_t)usn, &changed);
        put8(b + end + 1, (uint8_t)(usn >> 8), &changed);
    }
    return changed;
}

int p2v_scrub_mft_record(uint8_t *buf, uint32_t size, uint64_t recno, int in_use,
                         unsigned ntfs_version, struct p2v_scrub_counts *cnt)
{
    struct p2v_scrub_counts dummy = { 0 };
    if (!cnt)
        cnt = &dummy;
    if (size < 4 || memcmp(buf, "FILE", 4) != 0 || mst_check(buf, size, MFT_OLD_HEADER) != 0) {
        cnt->skipped_units++;
        return 1;
    }
    /* A record whose header says it is in use is never dropped on the
     * bitmap's word alone: a stale bitmap must not cost a live file. */
    if (in_use || recno < FIRST_USER_RECORD || (get_le16(buf + 0x16) & MFT_IN_USE))
        return scrub_mft_slack(buf, size, cnt);

    uint16_t seq = get_le16(buf + 0x10);
    uint16_t usn = get_le16(buf + get_le16(buf + 4));
    if (seq == 0)
        seq = 1;
    if (usn == 0 || usn == 0xFFFF)
        usn = 1;
    uint64_t changed = write_free_record(buf, size, ntfs_version, seq, usn);
    if (changed) {
        cnt->mft_free_records++;
        cnt->mft_free_bytes += changed;
    }
    return 0;
}

/* ---- INDX blocks ---- */

int p2v_scrub_indx(uint8_t *buf, uint32_t size, struct p2v_scrub_counts *cnt)
{
    struct p2v_scrub_counts dummy = { 0 };
    if (!cnt)
        cnt = &dummy;
    if (size < 4 || memcmp(buf, "INDX", 4) != 0 || mst_check(buf, size, INDX_MIN_USA) != 0) {
        cnt->skipped_units++;
        return 1;
    }
    uint32_t usa_end = get_le16(buf + 4) + 2u * get_le16(buf + 6);
    mst_decode(buf);
    /* INDEX_HEADER offsets count from 0x18 (ntfs-3g's
     * ntfs_index_block_inconsistent checks the same). */
    uint32_t entries = get_le32(buf + 0x18), length = get_le32(buf + 0x1C);
    uint32_t allocated = get_le32(buf + 0x20);
    if (allocated != size - INDX_HEADER || entries < 0x10 || entries >= length ||
        length > allocated || INDX_HEADER + entries < usa_end) {
        mst_encode(buf);
        cnt->skipped_units++;
        return 1;
    }
    cnt->index_slack_bytes += zero_bytes(buf, INDX_HEADER + length, size);
    mst_encode(buf);
    return 0;
}

/* ---- ext2/3/4 directory leaf blocks ---- */

uint32_t p2v_scrub_ext_leaf_csum(const uint8_t *buf, uint32_t bs, uint32_t ino, uint32_t gen,
                                 uint32_t csum_seed)
{
    uint8_t le[4];
    put_le32(le, ino);
    uint32_t c = p2v_crc32c_update(csum_seed, le, 4);
    put_le32(le, gen);
    c = p2v_crc32c_update(c, le, 4);
    return p2v_crc32c_update(c, buf, bs >= EXT_TAIL ? bs - EXT_TAIL : 0);
}

/* rec_len as stored: 64 KiB blocks fold 65536 into 0 or 65535 and bits
 * 16-17 into the low two bits (the kernel's ext4_rec_len_from_disk). */
static uint32_t rec_len(const uint8_t *p, uint32_t bs)
{
    uint32_t v = get_le16(p);
    if (bs < 65536)
        return v;
    if (v == 0 || v == 65535)
        return 65536;
    return (v & 65532) | (v & 3) << 16;
}

/* 0 if the entries tile [0, limit) as the kernel's ext4_check_dir_entry
 * would accept them, with the stricter file type rule. */
static int walk_entries(const uint8_t *b, uint32_t bs, uint32_t limit)
{
    uint32_t off = 0;
    while (off < limit) {
        if (limit - off < EXT_MIN_REC)
            return -1;
        uint32_t rl = rec_len(b + off + 4, bs);
        if (rl < EXT_MIN_REC || (rl & 3) || rl > limit - off)
            return -1;
        if (get_le32(b + off) != 0) {
            uint32_t nl = b[off + 6];
            /* Types above 7 would be another format's (dirdata): hands off. */
            if (nl == 0 || 8 + nl > rl || b[off + 7] > 7)
                return -1;
        }
        off += rl;
    }
    return 0;
}

static int all_zero(const uint8_t *p, uint32_t n)
{
    while (n--)
        if (*p++)
            return 0;
    return 1;
}

/* 1 if the block could be an htree node, which the caller should not have
 * passed: a dx_node's fake entry (inode 0 over the whole block, no name)
 * with its count and entries behind it, or a dx_root: "." and then ".."
 * running to the end, followed by dx_root_info.  An empty leaf that is
 * already clean is not reported (nothing would change anyway). */
static int looks_like_htree(const uint8_t *b, uint32_t bs, uint32_t limit)
{
    if (get_le32(b) == 0 && rec_len(b + 4, bs) == bs && b[6] == 0 && b[7] == 0)
        return !all_zero(b + 8, bs - 8);
    if (get_le32(b) != 0 && rec_len(b + 4, bs) == 12 && b[6] == 1 && b[8] == '.' &&
        get_le32(b + 12) != 0 && 12 + rec_len(b + 16, bs) == limit && b[18] == 2 &&
        b[20] == '.' && b[21] == '.')
        return get_le32(b + 0x18) == 0 && b[0x1D] == 8;
    return 0;
}

static int ext_tail_ok(const uint8_t *b, uint32_t bs, uint32_t ino, uint32_t gen, uint32_t seed)
{
    const uint8_t *t = b + bs - EXT_TAIL;
    return get_le32(t) == 0 && get_le16(t + 4) == EXT_TAIL && t[6] == 0 &&
           t[7] == EXT_TAIL_TYPE && get_le32(t + 8) == p2v_scrub_ext_leaf_csum(b, bs, ino, gen, seed);
}

int p2v_scrub_ext_leaf(uint8_t *buf, uint32_t bs, uint32_t ino, uint32_t gen,
                       uint32_t csum_seed, int has_csum_tail, struct p2v_scrub_counts *cnt)
{
    struct p2v_scrub_counts dummy = { 0 };
    if (!cnt)
        cnt = &dummy;
    uint32_t limit = has_csum_tail ? bs - EXT_TAIL : bs;
    if (bs < 1024 || bs > 65536 || (bs & (bs - 1)) || walk_entries(buf, bs, limit) != 0 ||
        (has_csum_tail && !ext_tail_ok(buf, bs, ino, gen, csum_seed)) ||
        looks_like_htree(buf, bs, limit)) {
        cnt->skipped_units++;
        return 1;
    }
    uint64_t changed = 0;
    for (uint32_t off = 0; off < limit;) {
        uint32_t rl = rec_len(buf + off + 4, bs);
        uint32_t keep = get_le32(buf + off) ? 8u + buf[off + 6] : 6u;
        changed += zero_bytes(buf + off, keep, rl);
        off += rl;
    }
    if (has_csum_tail && changed) {
        uint8_t *sum = buf + bs - 4;
        uint32_t c = p2v_scrub_ext_leaf_csum(buf, bs, ino, gen, csum_seed);
        for (int i = 0; i < 4; i++)
            put8(sum + i, (uint8_t)(c >> 8 * i), &changed);
    }
    cnt->ext_dirent_slack_bytes += changed;
    return 0;
}
