#define _GNU_SOURCE
#include "vhdi_source.h"

#include "core/bytes.h"
#include "core/crc32c.h"
#include "core/log.h"
#include "vhd_diff.h"
#include "core/vhd_facts.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <libvhdi.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* A chain deeper than this is more likely a loop than a real image. */
#define MAX_CHAIN 16

struct vhdi_source {
    struct p2v_layer l;
    libvhdi_file_t *chain[MAX_CHAIN];  /* [0] the image, then its parents */
    int n;
    int read_idx;         /* the file libvhdi reads: 0, or a VHD chain's base */
    char paths[MAX_CHAIN][PATH_MAX];
    atomic_int reported;  /* a read error was explained */
    char path[PATH_MAX];
};

/* The first 8 bytes at b as text for a message: printable ASCII, else '?'. */
static void shown(const uint8_t *b, char out[9])
{
    for (int i = 0; i < 8; i++)
        out[i] = b[i] >= 0x20 && b[i] < 0x7f && b[i] != '"' ? (char)b[i] : '?';
    out[8] = 0;
}

const char *p2v_format_name(enum p2v_source_format fmt)
{
    return fmt == P2V_FMT_VHD ? "vhd" : fmt == P2V_FMT_VHDX ? "vhdx" : fmt == P2V_FMT_RAW ? "raw" : "auto";
}

/* A file named as a VHD or VHDX that holds neither signature is served as
 * the raw disk it may be; but a damaged image would be served as garbage
 * without a word, so this says so, and how to be explicit. */
static void named_image(const char *path, const uint8_t *head, const uint8_t *tail, off_t size)
{
    size_t n = strlen(path);
    int vhdx = n > 5 && !strcasecmp(path + n - 5, ".vhdx");
    if (!vhdx && !(n > 4 && !strcasecmp(path + n - 4, ".vhd")))
        return;
    char h[9], t[9];
    shown(head, h);
    shown(tail, t);
    if (vhdx)
        p2v_warn("%s is named .vhdx but does not start with the VHDX signature \""
                 VHDX_SIGNATURE "\" (offset 0 holds \"%s\"): serving it as a raw disk. If it "
                 "is a VHDX, it is damaged: check it with qemu-img check -f vhdx or vhdiinfo; "
                 "--source-format raw serves it raw without this warning", path, h);
    else
        p2v_warn("%s is named .vhd but holds no VHD cookie \"" VHD_COOKIE "\" at offset %lld "
                 "(its footer: \"%s\") or 0 (\"%s\"): serving it as a raw disk. If it is a "
                 "VHD, its footer is damaged: check it with qemu-img check -f vpc or vhdiinfo; "
                 "--source-format raw serves it raw without this warning", path,
                 (long long)(size - 512), t, h);
}

int p2v_vhdi_detect(const char *path, enum p2v_source_format *fmt)
{
    *fmt = P2V_FMT_RAW;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    struct stat st;
    char head[8] = { 0 }, tail[8] = { 0 };
    int r = 0;
    if (fstat(fd, &st) < 0)
        r = -errno;
    /* Only regular files: a block device holding a VHD file's bytes is a
     * disk, and is converted as one. */
    else if (S_ISREG(st.st_mode) && st.st_size >= 512) {
        /* An unreadable sector is for the --bad-sectors policy to handle,
         * not a reason to fail here: it just cannot be a signature. */
        if (pread(fd, head, 8, 0) != 8)
            memset(head, 0, sizeof head);
        if (pread(fd, tail, 8, st.st_size - 512) != 8)
            memset(tail, 0, sizeof tail);
        if (!memcmp(head, VHDX_SIGNATURE, 8))
            *fmt = P2V_FMT_VHDX;
        else if (!memcmp(tail, VHD_COOKIE, 8) || !memcmp(head, VHD_COOKIE, 8))
            *fmt = P2V_FMT_VHD;
        else
            named_image(path, (const uint8_t *)head, (const uint8_t *)tail, st.st_size);
    }
    close(fd);
    return r;
}

/* A snapshot's clone is opened through /proc/self/fd (the file p2v made,
 * whatever its name holds by now): messages name the image the user gave
 * instead.  Set for the duration of p2v_vhdi_open, which runs before any
 * reader thread. */
static const char *alias_path, *alias_name;

static const char *display(const char *path)
{
    return alias_path && path && !strcmp(path, alias_path) ? alias_name : path;
}

/* path as one shell word, for a command line a user may paste. */
static const char *shell_word(const char *path, char *out, size_t len)
{
    if (strspn(path, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._+-") ==
        strlen(path))
        return path;
    size_t o = 0;
    if (len < 3)
        return "";
    out[o++] = '\'';
    for (const char *c = path; *c && o + 5 < len; c++) {
        if (*c == '\'') {
            memcpy(out + o, "'\\''", 4);
            o += 4;
        } else {
            out[o++] = *c;
        }
    }
    out[o++] = '\'';
    out[o] = 0;
    return out;
}

/* libvhdi's messages are a backtrace, innermost last; the first line
 * says what failed in words a user can act on. */
static void vhdi_fail(const char *path, const char *what, libvhdi_error_t **e)
{
    char msg[512] = "";
    if (e && *e) {
        msg[0] = ':', msg[1] = ' ';
        libvhdi_error_sprint(*e, msg + 2, sizeof msg - 2);
        msg[strcspn(msg, "\n")] = 0;
        libvhdi_error_free(e);
    }
    /* Without libvhdi's text, what failed is the whole story. */
    p2v_err("%s: %s%s; the image is damaged or not a VHD/VHDX (check it with "
            "qemu-img check, or read it as plain bytes with --source-format raw)",
            display(path), what, msg);
}

static int vhdi_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off)
{
    struct vhdi_source *s = (struct vhdi_source *)l;
    libvhdi_error_t *e = NULL;
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = libvhdi_file_read_buffer_at_offset(s->chain[s->read_idx], p, len, (off64_t)off, &e);
        if (n <= 0) {
            char msg[512] = "unexpected end of data";
            if (e) {
                libvhdi_error_sprint(e, msg, sizeof msg);
                msg[strcspn(msg, "\n")] = 0;
                libvhdi_error_free(&e);
            }
            /* Once: the bad-sector layer above retries sector by sector. */
            if (!atomic_exchange(&s->reported, 1))
                p2v_err("source %s: the VHD/VHDX is damaged or truncated: reading the virtual "
                        "disk at byte %llu (LBA %llu) failed (%s); its unreadable sectors "
                        "follow (--bad-sectors zero reads them as zeros)", s->path,
                        (unsigned long long)off, (unsigned long long)(off / P2V_SECTOR), msg);
            return -EIO;
        }
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

static void vhdi_close(struct p2v_layer *l)
{
    struct vhdi_source *s = (struct vhdi_source *)l;
    /* The child uses its parent until it is closed: children first. */
    for (int i = 0; i < s->n; i++) {
        libvhdi_file_close(s->chain[i], NULL);
        libvhdi_file_free(&s->chain[i], NULL);
    }
    free(s);
}

static const struct p2v_layer_ops vhdi_ops;

int p2v_vhdi_parents(struct p2v_layer *l, char (*out)[4096], int max)
{
    /* The differencing layers sit on the libvhdi one: walk down to it. */
    while (l && l->ops != &vhdi_ops)
        l = l->below;
    if (!l)
        return 0;
    struct vhdi_source *s = (struct vhdi_source *)l;
    int n = 0;
    for (int i = 1; i < s->n && n < max; i++)
        memcpy(out[n++], s->paths[i], 4096);
    return n;
}

static const struct p2v_layer_ops vhdi_ops = {
    .name = "vhdi-source",
    .read = vhdi_read,
    .close = vhdi_close,
};

/* What is wrong with the VHD footer f read at offset at: its cookie, or
 * its checksum; NULL when it is sound. */
static const char *footer_damage(const uint8_t *f, long long at, char *why, size_t len)
{
    char c[9];
    if (memcmp(f, VHD_COOKIE, 8) != 0) {
        shown(f, c);
        snprintf(why, len, "the footer at offset %lld starts with \"%s\", not the cookie "
                 "\"" VHD_COOKIE "\"", at, c);
        return why;
    }
    uint8_t t[VHD_FOOTER_SIZE];
    memcpy(t, f, sizeof t);
    uint32_t want = get_be32(t + VHD_CHECKSUM_OFF);
    memset(t + VHD_CHECKSUM_OFF, 0, 4);
    uint32_t sum = vhd_checksum(t, VHD_FOOTER_SIZE);
    if (sum != want) {
        snprintf(why, len, "the footer's checksum at offset %lld is 0x%08x, but the footer "
                 "sums to 0x%08x", at + VHD_CHECKSUM_OFF, want, sum);
        return why;
    }
    return NULL;
}

/* libvhdi reads the footer at the end of the file and trusts it: it must
 * be sound.  A dynamic disk's copy at 0, when sound, is how to repair it. */
static int check_footer(const char *path, int fd, off_t size)
{
    uint8_t end[VHD_FOOTER_SIZE], head[VHD_FOOTER_SIZE];
    char why[256], why0[256];
    off_t at = size - VHD_FOOTER_SIZE;
    if (pread(fd, end, sizeof end, at) != (ssize_t)sizeof end)
        memset(end, 0, sizeof end);
    if (!footer_damage(end, at, why, sizeof why))
        return 0;
    int copy = pread(fd, head, sizeof head, 0) == (ssize_t)sizeof head &&
               !footer_damage(head, 0, why0, sizeof why0);
    char c0[9], c1[9];
    shown(head, c0);
    shown(end, c1);
    char q[2 * PATH_MAX];
    const char *name = display(path), *word = shell_word(name, q, sizeof q);
    if (copy && at % 512 == 0)
        p2v_err("%s: damaged VHD: %s; its copy at offset 0 is sound: on a copy of the image, "
                "put it back with dd if=%s of=%s bs=512 count=1 seek=%lld conv=notrunc "
                "(then check it with qemu-img check -f vpc)", name, why, word, word,
                (long long)(at / 512));
    else if (copy)
        p2v_err("%s: damaged VHD: %s; its copy at offset 0 is sound: on a copy of the image, "
                "copy those 512 bytes over the footer at offset %lld (then check it with "
                "qemu-img check -f vpc)", name, why, (long long)at);
    else if (memcmp(end, VHD_COOKIE, 8) && memcmp(head, VHD_COOKIE, 8))  /* forced format */
        p2v_err("%s: neither a VHDX (no signature \"" VHDX_SIGNATURE "\" at offset 0: it "
                "holds \"%s\") nor a VHD (no cookie \"" VHD_COOKIE "\" at offset %lld, its "
                "footer: it holds \"%s\"); check it with qemu-img check or vhdiinfo, or read "
                "it as plain bytes with --source-format raw", name, c0, (long long)at, c1);
    else
        p2v_err("%s: damaged VHD: %s (check it with qemu-img check -f vpc, or read it as "
                "plain bytes with --source-format raw)", name, why);
    return -EINVAL;
}

/* libvhdi does not verify checksums; QEMU and Hyper-V refuse an image
 * whose VHD footer or both VHDX headers fail theirs, and so does p2v:
 * their fields would be trusted blindly otherwise. */
static int check_sums(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    uint8_t b[VHDX_HEADER_SIZE];
    int r = 0;
    if (fstat(fd, &st) < 0) {
        r = -errno;
    } else if (st.st_size >= 512 && pread(fd, b, 8, 0) == 8 && !memcmp(b, VHDX_SIGNATURE, 8)) {
        int good = 0;
        for (int h = 1; h <= 2; h++) {
            off_t at = h == 1 ? VHDX_HEADER1_OFF : VHDX_HEADER2_OFF;
            if (pread(fd, b, VHDX_HEADER_SIZE, at) != VHDX_HEADER_SIZE || memcmp(b, "head", 4))
                continue;
            uint32_t want = get_le32(b + 4);
            memset(b + 4, 0, 4);
            good += p2v_crc32c(b, VHDX_HEADER_SIZE) == want;
        }
        if (!good) {
            p2v_err("%s: damaged VHDX: neither of its two headers (at offsets %u and %u) has "
                    "a valid signature \"head\" and CRC-32C (check it with qemu-img check -f "
                    "vhdx)", display(path), VHDX_HEADER1_OFF, VHDX_HEADER2_OFF);
            r = -EINVAL;
        }
    } else if (st.st_size >= 512) {
        r = check_footer(path, fd, st.st_size);
        /* A fixed disk is its data then its footer: a footer that claims
         * more than the file holds would fail every read past the end. */
        if (r == 0 && pread(fd, b, 512, st.st_size - 512) == 512 && !memcmp(b, VHD_COOKIE, 8) &&
            get_be32(b + 60) == 2 && get_be64(b + 48) > (uint64_t)st.st_size - 512) {
            p2v_err("%s: damaged or truncated fixed VHD: its footer says the disk is %llu bytes, "
                    "but the file holds %llu bytes before the footer (check it with qemu-img check "
                    "-f vpc, or read it as plain bytes with --source-format raw)", display(path),
                    (unsigned long long)get_be64(b + 48), (unsigned long long)(st.st_size - 512));
            r = -EINVAL;
        }
    }
    close(fd);
    return r;
}

static int open_one(const char *path, libvhdi_file_t **f)
{
    int r = check_sums(path);
    if (r < 0)
        return r;
    libvhdi_error_t *e = NULL;
    *f = NULL;
    if (libvhdi_file_initialize(f, &e) != 1) {
        vhdi_fail(path, "cannot set up libvhdi", &e);
        return -ENOMEM;
    }
    if (libvhdi_file_open(*f, path, libvhdi_get_access_flags_read(), &e) != 1) {
        vhdi_fail(path, "cannot open the VHD/VHDX", &e);
        libvhdi_file_free(f, NULL);
        return -EINVAL;
    }
    return 0;
}

/* The name a child records for its parent, as a path in dir: Windows
 * separators become '/', and a leading ".\" or drive path is dropped for
 * the bare file name when the recorded path does not exist. */
static int parent_path(libvhdi_file_t *f, const char *child, const char *dir, char *out,
                       size_t len)
{
    size_t sz = 0;
    libvhdi_error_t *e = NULL;
    int got = libvhdi_file_get_utf8_parent_filename_size(f, &sz, &e);
    if (got < 0) {
        vhdi_fail(child, "cannot read the parent's name from the differencing image", &e);
        return -EINVAL;
    }
    if (got == 0 || sz <= 1 || sz > PATH_MAX) {  /* 0: libvhdi found no name */
        /* p2v finds a parent only by the name its child records. */
        p2v_err("%s: the differencing image records %s parent file name (its header's "
                "parent name and locators are %s), so its parent cannot be found. Convert "
                "the chain where it is whole (qemu-img convert, or merge it in Hyper-V), "
                "or check the image with vhdiinfo", display(child), got == 0 || sz <= 1 ? "no" : "an over-long",
                got == 0 || sz <= 1 ? "empty or damaged" : "damaged");
        return -EINVAL;
    }
    char name[PATH_MAX];
    if (libvhdi_file_get_utf8_parent_filename(f, (uint8_t *)name, sz, &e) != 1) {
        vhdi_fail(child, "cannot read the parent's name", &e);
        return -EINVAL;
    }
    name[sz - 1] = 0;
    for (char *c = name; *c; c++)
        if (*c == '\\')
            *c = '/';
    const char *rel = name;
    while (!strncmp(rel, "./", 2))
        rel += 2;
    int n;
    if (rel[0] != '/' && !strchr(rel, ':') &&
        (n = snprintf(out, len, "%s/%s", dir, rel)) > 0 && (size_t)n < len &&
        access(out, R_OK) == 0)
        return 0;
    const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
    if ((n = snprintf(out, len, "%s/%s", dir, base)) > 0 && (size_t)n < len &&
        access(out, R_OK) == 0)
        return 0;
    p2v_err("%s: its parent image \"%s\" is not in %s; put the parent beside it "
            "(differencing images find their parent by name)", display(child), name, dir);
    return -ENOENT;
}

static int same_guid(libvhdi_file_t *child, libvhdi_file_t *parent)
{
    uint8_t want[16], got[16];
    if (libvhdi_file_get_parent_identifier(child, want, 16, NULL) != 1 ||
        libvhdi_file_get_identifier(parent, got, 16, NULL) != 1)
        return 1;  /* nothing recorded to compare */
    return !memcmp(want, got, 16);
}

static void append_ident(char *ident, size_t len, const char *path)
{
    struct stat st;
    size_t n = strlen(ident);
    if (n < len && stat(path, &st) == 0)
        snprintf(ident + n, len - n, "|%s|%lld|%lld.%09ld", path, (long long)st.st_size,
                 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

/* Opens the chain below the image s->chain[0] (at path) down to a parent
 * that is not differencing, each found by the name its child records and
 * checked against the identifier its child expects. */
static int open_chain(struct vhdi_source *s, const char *path, const char *parent_dir,
                      char *ident, size_t ident_len)
{
    char cur[PATH_MAX], dir[PATH_MAX];
    snprintf(cur, sizeof cur, "%s", path);
    snprintf(dir, sizeof dir, "%s", parent_dir);
    for (;;) {
        uint32_t type = 0;
        libvhdi_error_t *e = NULL;
        if (libvhdi_file_get_disk_type(s->chain[s->n - 1], &type, &e) != 1) {
            vhdi_fail(cur, "cannot read the disk type", &e);
            return -EINVAL;
        }
        if (type != LIBVHDI_DISK_TYPE_DIFFERENTIAL)
            return 0;
        if (s->n == MAX_CHAIN) {
            p2v_err("%s: more than %d differencing images in a chain (a loop?)", display(path), MAX_CHAIN);
            return -ELOOP;
        }
        char ppath[PATH_MAX];
        int r = parent_path(s->chain[s->n - 1], cur, dir, ppath, sizeof ppath);
        if (r < 0 || (r = open_one(ppath, &s->chain[s->n])) < 0)
            return r;
        memcpy(s->paths[s->n], ppath, PATH_MAX);
        s->n++;
        if (!same_guid(s->chain[s->n - 2], s->chain[s->n - 1])) {
            p2v_err("%s: the parent %s has another identifier than the child records: it "
                    "was replaced or modified since the child was made", display(cur), ppath);
            return -EINVAL;
        }
        append_ident(ident, ident_len, ppath);
        memcpy(cur, ppath, sizeof cur);
        char tmp[PATH_MAX];
        memcpy(tmp, ppath, sizeof tmp);
        memcpy(dir, dirname(tmp), strlen(tmp) + 1);
    }
}

/* Links each child to its parent, the deepest first, and finds the disk's
 * size and sector size. */
static int link_chain(struct vhdi_source *s, const char *path, uint32_t *bps)
{
    for (int i = s->n - 2; i >= 0; i--) {
        libvhdi_error_t *e = NULL;
        if (libvhdi_file_set_parent_file(s->chain[i], s->chain[i + 1], &e) != 1) {
            vhdi_fail(path, "cannot attach the parent image", &e);
            return -EINVAL;
        }
    }
    /* A VHD chain: libvhdi reads only its base; p2v reads the
     * differencing levels (vhd_diff.c says why). */
    int ftype = 0;
    if (s->n > 1 && libvhdi_file_get_file_type(s->chain[0], &ftype, NULL) == 1 &&
        ftype == LIBVHDI_FILE_TYPE_VHD)
        s->read_idx = s->n - 1;
    size64_t size = 0;
    libvhdi_error_t *e = NULL;
    if (libvhdi_file_get_media_size(s->chain[s->read_idx], &size, &e) != 1 ||
        libvhdi_file_get_bytes_per_sector(s->chain[0], bps, &e) != 1) {
        vhdi_fail(path, "cannot read the disk size", &e);
        return -EINVAL;
    }
    if (size == 0 || size % P2V_SECTOR) {
        p2v_err("%s: the virtual disk is %llu bytes, not a whole number of sectors; the "
                "image is damaged", display(path), (unsigned long long)size);
        return -EINVAL;
    }
    s->l.size = size;
    return 0;
}

/* The differencing levels of a VHD chain over the libvhdi layer, then a
 * read of the first sector: a damaged BAT or a missing block fails here,
 * not in the middle of a copy. */
static int stack_levels(struct vhdi_source *s, struct p2v_layer **out)
{
    struct p2v_layer *top = &s->l;
    int r = 0;
    for (int i = s->read_idx - 1; r == 0 && i >= 0; i--) {
        struct p2v_layer *d;
        if ((r = p2v_vhd_diff_open(s->paths[i], top, &d)) == 0)
            top = d;
    }
    uint8_t probe[P2V_SECTOR];
    if (r == 0)
        r = p2v_layer_read(top, probe, sizeof probe, 0);
    if (r < 0)
        p2v_layer_close_stack(top);
    else
        *out = top;
    return r;
}

static int open_all(struct vhdi_source *s, const char *path, const char *parent_dir,
                    struct p2v_layer **out, struct p2v_source_info *info, char *ident,
                    size_t ident_len);

int p2v_vhdi_open(const char *path, const char *name, const char *parent_dir,
                  struct p2v_layer **out, struct p2v_source_info *info, char *ident,
                  size_t ident_len)
{
    struct vhdi_source *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->l.ops = &vhdi_ops;
    snprintf(s->path, sizeof s->path, "%s", name);  /* for messages */
    alias_path = path;
    alias_name = name;
    int r = open_all(s, path, parent_dir, out, info, ident, ident_len);
    alias_path = alias_name = NULL;
    return r;
}

static int open_all(struct vhdi_source *s, const char *path, const char *parent_dir,
                    struct p2v_layer **out, struct p2v_source_info *info, char *ident,
                    size_t ident_len)
{
    if (ident_len)
        ident[0] = 0;
    snprintf(s->paths[0], PATH_MAX, "%s", path);
    uint32_t bps = 512;
    int r = open_one(path, &s->chain[0]);
    if (r == 0) {
        s->n = 1;
        r = open_chain(s, path, parent_dir, ident, ident_len);
    }
    if (r == 0)
        r = link_chain(s, path, &bps);
    if (r < 0) {
        vhdi_close(&s->l);
        return r;
    }
    struct stat st;
    memset(info, 0, sizeof *info);
    snprintf(info->path, sizeof info->path, "%s", path);
    info->real_size = info->size = s->l.size;
    info->logical_sector = info->physical_sector = bps ? bps : P2V_SECTOR;
    if (stat(path, &st) == 0) {
        info->mtime = st.st_mtim;
        info->ctime = st.st_ctim;
    }
    return stack_levels(s, out);
}
