/* Kernel modules in an initramfs (initramfs.h).  The newc layout: a
 * 110-byte ASCII header ("070701" or "070702", then 13 fields of 8 hex
 * digits, of which filesize and namesize matter here), the name, padding
 * to 4 bytes, the data, padding to 4 bytes; "TRAILER!!!" ends an archive.
 * The kernel accepts zero bytes between archives, so they are skipped. */
#include "guest/initramfs.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEWC_HDR 110u
#define MAX_MODULES 65536u

static const char *const suffixes[] = { ".ko", ".ko.xz", ".ko.zst", ".ko.gz", NULL };

int p2v_module_name(const char *path, char *out, size_t len)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t blen = strlen(base);
    for (int i = 0; suffixes[i]; i++) {
        size_t sl = strlen(suffixes[i]);
        if (blen > sl && !strcmp(base + blen - sl, suffixes[i]) && blen - sl < len) {
            for (size_t k = 0; k < blen - sl; k++)
                out[k] = base[k] == '-' ? '_' : base[k];
            out[blen - sl] = 0;
            return 1;
        }
    }
    return 0;
}

struct names {
    struct p2v_initramfs *ir;
    size_t cap;
};

static int add_path(struct names *nm, const char *path)
{
    struct p2v_initramfs *ir = nm->ir;
    ir->files++;
    /* The tool that built it leaves its own files behind. */
    if (!ir->generator[0]) {
        const char *g = strstr(path, "conf/initramfs.conf") ? "initramfs-tools"
                      : strstr(path, "dracut") && strstr(path, "lib/dracut") ? "dracut"
                      : !strcmp(path, "buildconfig") || !strcmp(path, "./buildconfig") ? "mkinitcpio"
                      : NULL;
        if (g)
            snprintf(ir->generator, sizeof ir->generator, "%s", g);
    }
    char name[64];
    if (!p2v_module_name(path, name, sizeof name))
        return 0;
    if (ir->nmodules >= MAX_MODULES)
        return -EINVAL;
    if (ir->nmodules == nm->cap) {
        size_t cap = nm->cap ? nm->cap * 2 : 64;
        char **m = realloc(ir->modules, cap * sizeof *m);
        if (!m)
            return -ENOMEM;
        ir->modules = m;
        nm->cap = cap;
    }
    if (!(ir->modules[ir->nmodules] = strdup(name)))
        return -ENOMEM;
    ir->nmodules++;
    return 0;
}

static void set_why(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

static int hex8(const uint8_t *p, uint32_t *v)
{
    *v = 0;
    for (int i = 0; i < 8; i++) {
        int c = p[i], d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        *v = *v << 4 | (uint32_t)d;
    }
    return 0;
}

static size_t pad4(size_t x) { return (x + 3) & ~(size_t)3; }

/* One uncompressed newc archive from *off; *off is left after its trailer. */
static int walk_newc(const uint8_t *d, size_t len, size_t *off, struct names *nm, char *why,
                     size_t wl)
{
    size_t at = *off;
    for (;;) {
        uint32_t fsize, nsize;
        if (len - at < NEWC_HDR || (memcmp(d + at, "070701", 6) && memcmp(d + at, "070702", 6)) ||
            hex8(d + at + 54, &fsize) || hex8(d + at + 94, &nsize) || nsize == 0 ||
            nsize > 4096 || len - at - NEWC_HDR < nsize) {
            set_why(why, wl, "byte %zu: a damaged cpio header (the archive began at byte %zu)", at,
                    *off);
            return -EINVAL;
        }
        char name[4097];
        memcpy(name, d + at + NEWC_HDR, nsize);
        name[nsize] = 0;  /* namesize counts the NUL; a missing one is cut here */
        size_t data = pad4(at + NEWC_HDR + nsize);
        if (data > len || len - data < fsize) {
            set_why(why, wl, "byte %zu: entry '%s' runs past the end of the file", at, name);
            return -EINVAL;
        }
        at = pad4(data + fsize);
        if (!strcmp(name, "TRAILER!!!")) {
            *off = at > len ? len : at;
            return 0;
        }
        int r = add_path(nm, name);
        if (r < 0)
            return r;
        if (at >= len) {
            set_why(why, wl, "the archive that began at byte %zu has no trailer", *off);
            return -EINVAL;
        }
    }
}

/* The compressed rest, through libarchive (it finds the filter itself). */
static int read_compressed(const uint8_t *d, size_t len, size_t off, struct names *nm, char *why,
                           size_t wl)
{
    struct archive *a = archive_read_new();
    if (!a)
        return -ENOMEM;
    int r = 0;
    if (archive_read_support_filter_all(a) != ARCHIVE_OK ||
        archive_read_support_format_cpio(a) != ARCHIVE_OK ||
        archive_read_open_memory(a, d + off, len - off) != ARCHIVE_OK) {
        set_why(why, wl, "byte %zu: neither a cpio archive nor a compressed one libarchive reads "
                "(%s)", off, archive_error_string(a) ? archive_error_string(a) : "no reason given");
        r = -EINVAL;
    }
    struct archive_entry *e;
    int st = ARCHIVE_EOF;
    while (!r && (st = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *p = archive_entry_pathname(e);
        if (p && (r = add_path(nm, p)) < 0)
            break;
    }
    if (!r && st != ARCHIVE_EOF) {
        set_why(why, wl, "the compressed archive at byte %zu: %s", off,
                archive_error_string(a) ? archive_error_string(a) : "damaged");
        r = -EINVAL;
    }
    archive_read_free(a);
    return r;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int p2v_initramfs_read(const uint8_t *data, size_t len, struct p2v_initramfs *out, char *why,
                       size_t whylen)
{
    memset(out, 0, sizeof *out);
    struct names nm = { .ir = out };
    size_t off = 0;
    int r = 0;
    why[0] = 0;
    while (!r) {
        while (off < len && data[off] == 0)
            off++;
        if (off >= len)
            break;
        if (len - off >= 6 && (!memcmp(data + off, "070701", 6) || !memcmp(data + off, "070702", 6)))
            r = walk_newc(data, len, &off, &nm, why, whylen);
        else {
            r = read_compressed(data, len, off, &nm, why, whylen);
            break;  /* the compressed archive is the last one a kernel unpacks here */
        }
    }
    if (!r && !out->files) {
        set_why(why, whylen, "it is empty");
        r = -EINVAL;
    }
    if (r < 0) {
        p2v_initramfs_free(out);
        return r;
    }
    qsort(out->modules, out->nmodules, sizeof *out->modules, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < out->nmodules; i++) {
        if (u && !strcmp(out->modules[u - 1], out->modules[i]))
            free(out->modules[i]);
        else
            out->modules[u++] = out->modules[i];
    }
    out->nmodules = u;
    return 0;
}

void p2v_initramfs_free(struct p2v_initramfs *ir)
{
    for (size_t i = 0; i < ir->nmodules; i++)
        free(ir->modules[i]);
    free(ir->modules);
    ir->modules = NULL;
    ir->nmodules = 0;
}

int p2v_initramfs_has(const struct p2v_initramfs *ir, const char *name)
{
    char want[64];
    size_t n = strlen(name);
    if (n >= sizeof want)
        return 0;
    for (size_t i = 0; i <= n; i++)
        want[i] = name[i] == '-' ? '_' : name[i];
    const char *key = want;
    return bsearch(&key, ir->modules, ir->nmodules, sizeof *ir->modules, cmp_str) != NULL;
}
