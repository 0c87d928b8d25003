/* The GPT work libblkid does not do.  It reads the backup only when the
 * primary is bad, so a damaged backup would go unnoticed until the day it
 * is needed: this file checks it (signature, header CRC, entries CRC,
 * agreement with the primary).  And it rewrites both copies when
 * --drop-unselected removes entries. */
#include "partitions.h"

#include "disklayout.h"

#include "core/bytes.h"
#include "core/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* Where GPT sectors come from: the disk's file (probing) or a layer
 * (planning the image). */
struct disk {
    int fd;
    struct p2v_layer *l;
};

static int disk_read(const struct disk *d, void *buf, size_t len, uint64_t off)
{
    if (d->l)
        return off + len <= d->l->size && p2v_layer_read(d->l, buf, len, off) == 0;
    return pread(d->fd, buf, len, (off_t)off) == (ssize_t)len;
}

struct gpt_header {
    uint64_t my_lba, alt_lba, entries_lba;
    uint32_t header_size, header_crc, n_entries, entry_size, entries_crc;
    uint8_t guid[16];
};


/* Reads and checks the header at lba; NULL message when it is sound. */
static const char *read_header(const struct disk *d, uint64_t lba, struct gpt_header *h)
{
    uint8_t b[512];
    if (!disk_read(d, b, sizeof b, lba * 512))
        return "it cannot be read (the disk is shorter than the GPT says: truncated?)";
    if (memcmp(b, "EFI PART", 8) != 0)
        return "its signature is missing";
    h->header_size = get_le32(b + 12);
    h->header_crc = get_le32(b + 16);
    if (h->header_size < 92 || h->header_size > 512)
        return "its size field is invalid";
    memset(b + 16, 0, 4);
    if ((uint32_t)crc32(0, b, h->header_size) != h->header_crc)
        return "its header CRC does not match";
    h->my_lba = get_le64(b + 24);
    h->alt_lba = get_le64(b + 32);
    memcpy(h->guid, b + 56, 16);
    h->entries_lba = get_le64(b + 72);
    h->n_entries = get_le32(b + 80);
    h->entry_size = get_le32(b + 84);
    h->entries_crc = get_le32(b + 88);
    if (h->entry_size < 128 || h->entry_size > 4096 || h->n_entries > 65536)
        return "its entry array size is invalid";
    return NULL;
}

static const char *entries_ok(const struct disk *d, const struct gpt_header *h)
{
    size_t len = (size_t)h->n_entries * h->entry_size;
    uint8_t *e = malloc(len ? len : 1);
    const char *why = NULL;
    if (!e)
        return "out of memory";
    if (!disk_read(d, e, len, h->entries_lba * 512))
        why = "its partition entries cannot be read";
    else if ((uint32_t)crc32(0, e, (uInt)len) != h->entries_crc)
        why = "its partition entries CRC does not match";
    free(e);
    return why;
}

int p2v_gpt_check_backup(int fd, uint64_t disk_size, const char *path)
{
    struct gpt_header pri, bak;
    const struct disk d = { fd, NULL };
    if (read_header(&d, 1, &pri) != NULL)
        return 0;  /* libblkid used the backup already, and said so */
    const char *why = pri.alt_lba >= disk_size / 512 ? "it lies past the end of the disk (truncated image?)"
                      : read_header(&d, pri.alt_lba, &bak);
    if (!why && bak.my_lba != pri.alt_lba)
        why = "it does not point at itself";
    if (!why)
        why = entries_ok(&d, &bak);
    if (!why && (memcmp(bak.guid, pri.guid, 16) != 0 || bak.entries_crc != pri.entries_crc))
        why = "it disagrees with the primary header";
    if (why)
        p2v_warn("%s: the backup GPT header at LBA %llu is damaged: %s; using the primary "
                 "(repair it with gdisk or sgdisk -e before relying on it)", path,
                 (unsigned long long)pri.alt_lba, why);
    return why ? 1 : 0;
}

int p2v_gpt_truncated(int fd, uint64_t disk_size, uint64_t *expected_lba)
{
    struct gpt_header pri;
    const struct disk d = { fd, NULL };
    if (read_header(&d, 1, &pri) != NULL || pri.alt_lba < disk_size / 512)
        return 0;
    *expected_lba = pri.alt_lba;
    return 1;
}


/* Patches for one GPT copy with the entries of unselected partitions
 * cleared: the entry sectors that change, then the header with new CRCs. */
static int drop_copy(const struct disk *d, uint64_t header_lba, const int *keep, struct p2v_patch *out, size_t *n)
{
    struct gpt_header h;
    if (read_header(d, header_lba, &h) != NULL)
        return 0;  /* a copy libblkid did not use: leave it as it is */
    size_t len = (size_t)h.n_entries * h.entry_size, span = (len + 511) / 512 * 512;
    uint8_t *orig = malloc(span), *e = malloc(span), hdr[512];
    int r = 0;
    if (!orig || !e)
        r = -ENOMEM;
    else if (!disk_read(d, orig, span, h.entries_lba * 512) ||
             !disk_read(d, hdr, 512, header_lba * 512))
        r = -EIO;
    if (r == 0) {
        memcpy(e, orig, span);
        for (uint32_t i = 0; i < h.n_entries && i < P2V_MAX_PARTITIONS; i++)
            if (!keep[i])
                memset(e + (size_t)i * h.entry_size, 0, h.entry_size);
        for (size_t s = 0; s < span; s += 512) {
            if (memcmp(e + s, orig + s, 512) == 0)
                continue;
            out[*n].off = h.entries_lba * 512 + s;
            memcpy(out[*n].data, e + s, 512);
            (*n)++;
        }
        put_le32(hdr + 88, (uint32_t)crc32(0, e, (uInt)len));
        memset(hdr + 16, 0, 4);
        put_le32(hdr + 16, (uint32_t)crc32(0, hdr, h.header_size));
        out[*n].off = header_lba * 512;
        memcpy(out[*n].data, hdr, 512);
        (*n)++;
    }
    free(orig);
    free(e);
    return r;
}

int p2v_gpt_drop(struct p2v_layer *l, const int *keep, struct p2v_patch **out, size_t *n)
{
    struct gpt_header pri;
    const struct disk d = { -1, l };
    *n = 0;
    if (read_header(&d, 1, &pri) != NULL)
        return -EINVAL;
    /* Header and entry sectors of both copies, at most. */
    size_t max = 2 * (1 + ((size_t)pri.n_entries * pri.entry_size + 511) / 512);
    *out = calloc(max, sizeof **out);
    if (!*out)
        return -ENOMEM;
    int r = drop_copy(&d, 1, keep, *out, n);
    if (r == 0)
        r = drop_copy(&d, pri.alt_lba, keep, *out, n);
    return r;
}
