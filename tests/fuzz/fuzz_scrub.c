/* The scrub's unit rewrites (layout/scrub_unit.c) on arbitrary bytes: MFT
 * records, INDX blocks and ext directory blocks come from the disk being
 * copied.  Input: byte 0 the kind, byte 1 the unit size, byte 2 flags,
 * bytes 3-10 two little-endian parameters (record or inode number,
 * generation), then the unit (cut or zero-padded to its size).  Flag 4
 * repairs what a random unit almost never has (magic, update sequence,
 * sizes, checksum), so the walks behind those checks get fuzzed too.
 * Checked: a skipped unit is byte-identical, a second scrub changes
 * nothing, the update sequence number stays (0 and 0xFFFF may become 1). */
#include "tests/fuzz/harness.h"
#include "core/bytes.h"
#include "layout/scrub_unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* F_FLAG: the record is in use (MFT) or the block has a checksum tail
 * (ext); F_OLD: NTFS 3.0; F_LOW: record number below 32 (the system and
 * reserved records); F_ALLOC: the repair sets the allocated size too. */
enum { F_FLAG = 1, F_OLD = 2, F_REPAIR = 4, F_LOW = 8, F_ALLOC = 16 };

static const uint32_t ntfs_sizes[8] = { 1024, 4096, 512, 2048, 8192, 65536, 1000, 4096 };
static const uint32_t ext_sizes[8] = { 1024, 4096, 2048, 65536, 1024, 4096, 1000, 8192 };

static int scrub(unsigned kind, uint8_t *b, uint32_t size, unsigned flags, uint32_t p1,
                 uint32_t p2, struct p2v_scrub_counts *c)
{
    unsigned version = flags & F_OLD ? P2V_NTFS_VERSION(3, 0) : P2V_NTFS_VERSION(3, 1);
    uint64_t recno = flags & F_LOW ? p1 % 32 : p1;
    if (kind == 0)
        return p2v_scrub_mft_record(b, size, recno, flags & F_FLAG, version, c);
    if (kind == 1)
        return p2v_scrub_indx(b, size, c);
    return p2v_scrub_ext_leaf(b, size, p1, p2, p1 * 2654435761u ^ p2, flags & F_FLAG, c);
}

/* Gives an NTFS unit its magic, a well-formed update sequence array and
 * (F_ALLOC) its allocated size, then applies the sequence. */
static void repair_ntfs(unsigned kind, uint8_t *b, uint32_t size, unsigned flags)
{
    if (size < 512 || size % 512)
        return;
    uint32_t ofs = kind == 1 ? 0x28 : flags & F_OLD ? 0x2A : 0x30;
    uint32_t count = size / 512 + 1;
    if (ofs + 2 * count > 510)
        return;
    memcpy(b, kind == 1 ? "INDX" : "FILE", 4);
    put_le16(b + 4, (uint16_t)ofs);
    put_le16(b + 6, (uint16_t)count);
    if (flags & F_ALLOC) {
        if (kind == 1)
            put_le32(b + 0x20, size - 0x18);
        else
            put_le32(b + 0x1C, size);
    }
    for (uint32_t i = 1; i < count; i++) {
        memcpy(b + ofs + 2 * i, b + 512 * i - 2, 2);
        memcpy(b + 512 * i - 2, b + ofs, 2);
    }
}

static void repair_ext(uint8_t *b, uint32_t size, uint32_t p1, uint32_t p2)
{
    uint8_t *t = b + size - 12;
    memset(t, 0, 8);
    put_le16(t + 4, 12);
    t[7] = 0xDE;
    put_le32(t + 8, p2v_scrub_ext_leaf_csum(b, size, p1, p2, p1 * 2654435761u ^ p2));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 11)
        return 0;
    unsigned kind = data[0] % 3, flags = data[2];
    uint32_t size = (kind == 2 ? ext_sizes : ntfs_sizes)[data[1] % 8];
    uint32_t p1 = get_le32(data + 3), p2 = get_le32(data + 7);
    /* Exactly the unit's size on the heap: AddressSanitizer sees overruns. */
    uint8_t *b = calloc(1, size), *in = malloc(size), *again = malloc(size);
    if (!b || !in || !again)
        abort();
    memcpy(b, data + 11, len - 11 < size ? len - 11 : size);
    if (flags & F_REPAIR) {
        if (kind < 2)
            repair_ntfs(kind, b, size, flags);
        else if (flags & F_FLAG && size >= 1024)
            repair_ext(b, size, p1, p2);
    }
    memcpy(in, b, size);

    struct p2v_scrub_counts c = { 0 }, c2 = { 0 };
    int rc = scrub(kind, b, size, flags, p1, p2, &c);
    if ((rc != 0 && rc != 1) || c.skipped_units != (uint64_t)rc)
        abort();
    if (rc == 1 && memcmp(b, in, size) != 0)
        abort();
    if (rc == 0) {
        memcpy(again, b, size);
        if (scrub(kind, again, size, flags, p1, p2, &c2) != 0 || memcmp(again, b, size) != 0 ||
            c2.mft_free_records + c2.mft_free_bytes + c2.mft_slack_bytes +
            c2.index_slack_bytes + c2.ext_dirent_slack_bytes != 0)
            abort();
        for (uint32_t i = 510; kind < 2 && i < size; i += 512) {
            uint16_t was = get_le16(in + i), now = get_le16(b + i);
            if (now != was && !((was == 0 || was == 0xFFFF) && now == 1))
                abort();
        }
    }
    free(again);
    free(in);
    free(b);
    return 0;
}
