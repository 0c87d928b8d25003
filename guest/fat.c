/* FAT12/16/32, read-only (fat.h).  The facts used: Microsoft's FAT
 * specification (the BIOS parameter block, the cluster-count rule that
 * decides the FAT type, 32-byte directory entries, VFAT long-name entries
 * with their checksum of the 8.3 name).  A hostile volume is expected:
 * every cluster number is checked against the volume and every chain is
 * bounded by the cluster count, so a loop or a wild pointer is -EIO. */
#define _GNU_SOURCE
#include "fat.h"

#include "core/bytes.h"
#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The fallback's name for the guest's architecture (UEFI spec, 3.5.1.1). */
const char *p2v_efi_fallback_name(const char *arch)
{
    if (!strcmp(arch, "aarch64") || !strcmp(arch, "arm64"))
        return "/EFI/BOOT/BOOTAA64.EFI";
    if (!strcmp(arch, "i386") || !strcmp(arch, "i686") || !strcmp(arch, "x86"))
        return "/EFI/BOOT/BOOTIA32.EFI";
    return "/EFI/BOOT/BOOTX64.EFI";
}

struct p2v_fat {
    struct p2v_layer *l;
    uint64_t start;
    char name[64];
    int bits;                  /* 12, 16, 32 */
    uint32_t bps, cluster;     /* bytes per sector, per cluster */
    uint64_t fat_off;          /* the first FAT, bytes into the volume */
    uint64_t root_off;         /* FAT12/16: the fixed root directory */
    uint32_t root_bytes;
    uint32_t root_clus;        /* FAT32: the root directory's first cluster */
    uint64_t data_off;         /* cluster 2 */
    uint32_t nclusters;        /* data clusters: valid numbers are 2..nclusters+1 */
};

int p2v_fat_open(struct p2v_layer *l, uint64_t start, uint64_t size, const char *name,
                 struct p2v_fat **out)
{
    uint8_t b[512];
    *out = NULL;
    if (size < sizeof b)
        return p2v_err("%s: %llu bytes is too small for a FAT volume", name,
                       (unsigned long long)size), -EINVAL;
    int r = p2v_layer_read(l, b, sizeof b, start);
    if (r < 0)
        return r;
    uint32_t bps = get_le16(b + 11), spc = b[13], rsvd = get_le16(b + 14), nfats = b[16];
    uint32_t root_ent = get_le16(b + 17), fatsz = get_le16(b + 22), total = get_le16(b + 19);
    if (!fatsz)
        fatsz = get_le32(b + 36);
    if (!total)
        total = get_le32(b + 32);
    const char *bad = NULL;
    if (b[510] != 0x55 || b[511] != 0xaa)
        bad = "no 55 AA signature";
    else if (bps < 512 || bps > 4096 || (bps & (bps - 1)))
        bad = "bytes per sector not 512, 1024, 2048 or 4096";
    else if (!spc || (spc & (spc - 1)))
        bad = "sectors per cluster not a power of two";
    else if (!rsvd || !nfats || !fatsz)
        bad = "no reserved sectors, no FAT or an empty FAT";
    else if ((uint64_t)total * bps > size)
        bad = "the volume it describes is larger than its partition";
    uint64_t root_sec = ((uint64_t)root_ent * 32 + bps - 1) / bps;
    uint64_t meta = rsvd + (uint64_t)nfats * fatsz + root_sec;
    if (!bad && meta >= total)
        bad = "its FATs and root directory fill the volume";
    if (bad)
        return p2v_err("%s: not a FAT volume p2v can read (%s)", name, bad), -EINVAL;
    struct p2v_fat *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    f->l = l;
    f->start = start;
    snprintf(f->name, sizeof f->name, "%s", name);
    f->bps = bps;
    f->cluster = bps * spc;
    f->nclusters = (uint32_t)((total - meta) / spc);
    f->bits = f->nclusters < 4085 ? 12 : f->nclusters < 65525 ? 16 : 32;
    f->fat_off = (uint64_t)rsvd * bps;
    f->root_off = f->fat_off + (uint64_t)nfats * fatsz * bps;
    f->root_bytes = (uint32_t)(root_sec * bps);
    f->data_off = meta * bps;
    f->root_clus = f->bits == 32 ? get_le32(b + 44) & 0x0fffffff : 0;
    /* The FAT must hold an entry for every cluster. */
    if ((uint64_t)fatsz * bps * 8 / f->bits < (uint64_t)f->nclusters + 2 ||
        (f->bits == 32 && (f->root_clus < 2 || f->root_clus > f->nclusters + 1))) {
        free(f);
        return p2v_err("%s: not a FAT volume p2v can read (its FAT is too small for its "
                       "clusters, or its root directory is outside the volume)", name), -EINVAL;
    }
    *out = f;
    return 0;
}

void p2v_fat_close(struct p2v_fat *f)
{
    free(f);
}

/* The FAT's entry for cluster c: the next cluster, 0 at the chain's end;
 * -EIO for a free, bad or out-of-range entry (a chain must not reach one). */
static int64_t next_cluster(struct p2v_fat *f, uint32_t c)
{
    uint8_t b[4] = { 0 };
    uint64_t off = f->bits == 12 ? c + c / 2 : (uint64_t)c * (f->bits / 8);
    int r = p2v_layer_read(f->l, b, f->bits == 32 ? 4 : 2, f->start + f->fat_off + off);
    if (r < 0)
        return r;
    uint32_t v = f->bits == 12 ? (c & 1 ? get_le16(b) >> 4 : get_le16(b) & 0xfff)
               : f->bits == 16 ? get_le16(b) : get_le32(b) & 0x0fffffff;
    uint32_t eoc = f->bits == 12 ? 0xff8 : f->bits == 16 ? 0xfff8 : 0x0ffffff8;
    if (v >= eoc)
        return 0;
    if (v < 2 || v > f->nclusters + 1) {
        p2v_err("%s: cluster %u's FAT entry is 0x%x, not a cluster of the volume (damaged FAT)",
                f->name, c, v);
        return -EIO;
    }
    return v;
}

/* The clusters a chain has visited: a chain that comes back to one loops. */
struct visited {
    uint8_t *bits;
};

static int visit(struct p2v_fat *f, struct visited *v, uint32_t c, const char *what)
{
    if (!v->bits && !(v->bits = calloc(((size_t)f->nclusters + 2 + 7) / 8, 1)))
        return -ENOMEM;
    if (v->bits[c / 8] & (1u << (c % 8))) {
        p2v_err("%s: %s's clusters loop back to cluster %u (damaged FAT)", f->name, what, c);
        return -EIO;
    }
    v->bits[c / 8] |= (uint8_t)(1u << (c % 8));
    return 0;
}

static uint64_t cluster_off(const struct p2v_fat *f, uint32_t c)
{
    return f->start + f->data_off + (uint64_t)(c - 2) * f->cluster;
}

struct entry {
    char name[256];            /* UTF-8 */
    int is_dir;
    uint32_t first;
    uint64_t size;
};

/* The checksum of an 8.3 name that its long-name entries carry. */
static uint8_t short_sum(const uint8_t *n)
{
    uint8_t s = 0;
    for (int i = 0; i < 11; i++)
        s = (uint8_t)(((s & 1) << 7) + (s >> 1) + n[i]);
    return s;
}

static void put_utf8(char *out, size_t *o, size_t len, uint16_t u)
{
    if (u < 0x80 && *o + 1 < len)
        out[(*o)++] = (char)u;
    else if (u < 0x800 && *o + 2 < len) {
        out[(*o)++] = (char)(0xc0 | u >> 6);
        out[(*o)++] = (char)(0x80 | (u & 0x3f));
    } else if (u >= 0x800 && *o + 3 < len) {
        out[(*o)++] = (char)(0xe0 | u >> 12);
        out[(*o)++] = (char)(0x80 | ((u >> 6) & 0x3f));
        out[(*o)++] = (char)(0x80 | (u & 0x3f));
    }
    out[*o] = 0;
}

/* The 8.3 name as Windows shows it: blanks dropped, NT's lower-case flags. */
static void short_name(const uint8_t *d, char *out, size_t len)
{
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < 11; i++) {
        if (i == 8 && d[8] != ' ')
            put_utf8(out, &o, len, '.');
        uint8_t ch = (i == 0 && d[0] == 0x05) ? 0xe5 : d[i];
        if (ch == ' ')
            continue;
        if ((i < 8 && (d[12] & 0x08)) || (i >= 8 && (d[12] & 0x10)))
            ch = (uint8_t)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
        put_utf8(out, &o, len, ch);
    }
}

/* Long-name pieces gathered before their 8.3 entry. */
struct lfn {
    uint16_t u[20 * 13 + 1];
    int expect;                /* the next sequence number expected; 0 none */
    uint8_t sum;
};

static const int lfn_pos[13] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };

/* One 32-byte entry: 1 with *e filled for a file or directory, 0 for
 * anything else, -1 at the end of the directory. */
static int parse_entry(const uint8_t *d, struct lfn *ln, struct entry *e)
{
    if (d[0] == 0)
        return -1;
    if (d[0] == 0xe5) {
        ln->expect = 0;
        return 0;
    }
    if ((d[11] & 0x3f) == 0x0f) {
        int seq = d[0] & 0x1f;
        if (d[0] & 0x40) {
            ln->expect = seq;
            ln->sum = d[13];
            memset(ln->u, 0, sizeof ln->u);
        }
        if (seq < 1 || seq > 20 || seq != ln->expect || d[13] != ln->sum) {
            ln->expect = 0;
            return 0;
        }
        for (int k = 0; k < 13; k++)
            ln->u[(seq - 1) * 13 + k] = get_le16(d + lfn_pos[k]);
        ln->expect = seq == 1 ? -1 : seq - 1;   /* -1: complete, awaiting its 8.3 entry */
        return 0;
    }
    int complete = ln->expect == -1 && ln->sum == short_sum(d);
    ln->expect = 0;
    if (d[11] & 0x08)          /* the volume label */
        return 0;
    e->is_dir = !!(d[11] & 0x10);
    e->first = (uint32_t)get_le16(d + 26) | (uint32_t)get_le16(d + 20) << 16;
    e->size = get_le32(d + 28);
    if (complete) {
        size_t o = 0;
        e->name[0] = 0;
        for (int k = 0; k < 20 * 13 && ln->u[k] && ln->u[k] != 0xffff; k++)
            put_utf8(e->name, &o, sizeof e->name, ln->u[k]);
    } else
        short_name(d, e->name, sizeof e->name);
    return !strcmp(e->name, ".") || !strcmp(e->name, "..") ? 0 : 1;
}

typedef int (*entry_fn)(void *ctx, const struct entry *e);

/* Walks the directory starting at cluster first (0: FAT12/16's fixed root). */
static int walk_dir(struct p2v_fat *f, uint32_t first, entry_fn fn, void *ctx)
{
    uint32_t chunk = first ? f->cluster : f->bps;
    uint8_t *buf = malloc(chunk);
    if (!buf)
        return -ENOMEM;
    struct lfn ln = { .expect = 0 };
    struct visited v = { NULL };
    uint64_t off = 0;
    int64_t c = first;
    int r = 0;
    for (;;) {
        uint64_t at;
        if (first) {
            if (c == 0 || (r = visit(f, &v, (uint32_t)c, "a directory")) < 0)
                break;
            at = cluster_off(f, (uint32_t)c);
        } else {
            if (off >= f->root_bytes)
                break;
            at = f->start + f->root_off + off;
            off += chunk;
        }
        if ((r = p2v_layer_read(f->l, buf, chunk, at)) < 0)
            break;
        for (uint32_t i = 0; i < chunk; i += 32) {
            struct entry e;
            int k = parse_entry(buf + i, &ln, &e);
            if (k < 0)
                goto done;
            if (k > 0 && (r = fn(ctx, &e)) != 0)
                goto done;
        }
        if (first && (c = next_cluster(f, (uint32_t)c)) < 0) {
            r = (int)c;
            break;
        }
    }
done:
    free(v.bits);
    free(buf);
    return r;
}

struct find {
    const char *name;
    size_t len;
    struct entry *out;
};

static int find_fn(void *ctx, const struct entry *e)
{
    struct find *fd = ctx;
    if (strlen(e->name) != fd->len || strncasecmp(e->name, fd->name, fd->len) != 0)
        return 0;
    *fd->out = *e;
    return 1;
}

/* Finds path; 1 with *e, 0 missing, -errno.  The root reads as a directory
 * at cluster root_clus (0 on FAT12/16). */
static int lookup(struct p2v_fat *f, const char *path, struct entry *e)
{
    memset(e, 0, sizeof *e);
    e->is_dir = 1;
    e->first = f->root_clus;
    for (const char *p = path; *p;) {
        p += strspn(p, "/\\");
        size_t n = strcspn(p, "/\\");
        if (!n)
            break;
        if (!e->is_dir)
            return 0;
        if (e->first && (e->first < 2 || e->first > f->nclusters + 1))
            return p2v_err("%s: a directory on the way to %s starts outside the volume "
                           "(cluster %u)", f->name, path, e->first), -EIO;
        struct entry found;
        struct find fd = { p, n, &found };
        int r = walk_dir(f, e->first, find_fn, &fd);
        if (r <= 0)
            return r;
        *e = found;
        /* A subdirectory's ".." may say 0 for the root; so may a hostile
         * entry: a directory at cluster 0 other than the root is damage. */
        if (e->is_dir && !e->first)
            return p2v_err("%s: directory %.*s has no cluster (damaged entry)", f->name, (int)n,
                           p), -EIO;
        p += n;
    }
    return 1;
}

int p2v_fat_stat(struct p2v_fat *f, const char *path, int *is_dir, uint64_t *size)
{
    struct entry e;
    int r = lookup(f, path, &e);
    if (r == 1) {
        if (is_dir)
            *is_dir = e.is_dir;
        if (size)
            *size = e.is_dir ? 0 : e.size;
    }
    return r;
}

struct list {
    p2v_fat_entry_fn fn;
    void *ctx;
};

static int list_fn(void *ctx, const struct entry *e)
{
    struct list *ls = ctx;
    return ls->fn(ls->ctx, e->name, e->is_dir, e->is_dir ? 0 : e->size);
}

int p2v_fat_list(struct p2v_fat *f, const char *dir, p2v_fat_entry_fn fn, void *ctx)
{
    struct entry e;
    int r = lookup(f, dir, &e);
    if (r < 0)
        return r;
    if (r == 0 || !e.is_dir)
        return -ENOENT;
    struct list ls = { fn, ctx };
    return walk_dir(f, e.first, list_fn, &ls);
}

int p2v_fat_read(struct p2v_fat *f, const char *path, size_t max, uint8_t **data, size_t *len)
{
    struct entry e;
    *data = NULL;
    *len = 0;
    int r = lookup(f, path, &e);
    if (r <= 0)
        return r < 0 ? r : -ENOENT;
    if (e.is_dir)
        return -EISDIR;
    if (e.size > max)
        return -EFBIG;
    uint8_t *d = malloc(e.size ? e.size : 1);
    if (!d)
        return -ENOMEM;
    int64_t c = e.first;
    uint64_t done = 0;
    struct visited v = { NULL };
    while (done < e.size) {
        if (c < 2 || c > f->nclusters + 1) {
            p2v_err("%s: %s's clusters end after %llu of its %llu bytes (damaged FAT)", f->name,
                    path, (unsigned long long)done, (unsigned long long)e.size);
            r = -EIO;
            break;
        }
        if ((r = visit(f, &v, (uint32_t)c, path)) < 0)
            break;
        uint64_t n = e.size - done < f->cluster ? e.size - done : f->cluster;
        if ((r = p2v_layer_read(f->l, d + done, n, cluster_off(f, (uint32_t)c))) < 0)
            break;
        done += n;
        /* A chain longer than the file is cut here. */
        if (done < e.size && (c = next_cluster(f, (uint32_t)c)) < 0) {
            r = (int)c;
            break;
        }
    }
    free(v.bits);
    if (r < 0) {
        free(d);
        return r;
    }
    *data = d;
    *len = e.size;
    return 0;
}
