#include "guest_fs.h"

#include "ntfs_device.h"

#include "core/log.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/dir.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/unistr.h>

struct p2v_gfs {
    ntfs_volume *vol;
    char *name;
};

/* Closes an inode (through its directory when dir is given). When it cannot
 * be written back (the overlay is full or read-only) the apply fails and is
 * abandoned, so its changes are dropped here too: libntfs-3g otherwise keeps
 * a dirty inode it cannot sync, and its memory, for good. */
static int close_or_drop(ntfs_inode *ni, ntfs_inode *dir)
{
    if (!ni)
        return 0;
    int r = dir ? ntfs_inode_close_in_dir(ni, dir) : ntfs_inode_close(ni);
    if (r < 0) {
        int e = errno;
        NInoClearDirty(ni);
        NInoAttrListClearDirty(ni);
        NInoFileNameTestAndClearDirty(ni);
        ntfs_inode_close(ni);
        errno = e;
    }
    return r;
}

/* libntfs-3g wants '/' and no trailing or doubled separators. */
static char *norm(const char *path)
{
    char *p = malloc(strlen(path) + 2), *o = p;
    if (!p)
        return NULL;
    for (const char *s = path; *s; s++) {
        char c = *s == '\\' ? '/' : *s;
        if (c == '/' && (o == p || o[-1] == '/'))
            continue;
        *o++ = c;
    }
    if (o > p && o[-1] == '/')
        o--;
    *o = 0;
    if (!*p) {  /* the root */
        p[0] = '/';
        p[1] = 0;
    }
    return p;
}

int p2v_gfs_open(struct p2v_layer *l, uint64_t start, uint64_t size, const char *name, int rw,
                 struct p2v_gfs **out)
{
    struct p2v_gfs *g = calloc(1, sizeof *g);
    if (!g || !(g->name = strdup(name))) {
        free(g);
        return -ENOMEM;
    }
    g->vol = rw ? p2v_ntfs_mount_rw(l, start, size, name) : p2v_ntfs_mount(l, start, size, name);
    if (!g->vol) {
        int e = errno ? errno : EIO;
        char why[512];
        if (e == EPERM)
            p2v_err("%s: Windows is hibernated or Fast Startup left the volume in use; boot "
                    "it and shut down fully (shutdown /s /t 0), then try again", name);
        else if (e == EOPNOTSUPP)
            p2v_err("%s: the NTFS journal is unclean; boot Windows and shut it down cleanly, "
                    "or run chkdsk /f", name);
        else if (p2v_ntfs_damage(l, start, size, why, sizeof why) == 1)
            p2v_err("%s: %s", name, why);  /* what is wrong, not libntfs-3g's errno */
        else
            p2v_err("%s: libntfs-3g cannot open the NTFS volume %s: %s", name,
                    rw ? "for writing" : "", strerror(e));
        free(g->name);
        free(g);
        return -e;
    }
    ntfs_set_ignore_case(g->vol);  /* Windows paths */
    *out = g;
    return 0;
}

int p2v_gfs_close(struct p2v_gfs *g)
{
    if (!g)
        return 0;
    int r = p2v_ntfs_umount(g->vol);
    if (r < 0)
        p2v_err("%s: flushing the NTFS volume failed: %s", g->name, strerror(-r));
    free(g->name);
    free(g);
    return r;
}

static ntfs_inode *lookup(struct p2v_gfs *g, const char *path)
{
    char *p = norm(path);
    if (!p) {
        errno = ENOMEM;
        return NULL;
    }
    ntfs_inode *ni = ntfs_pathname_to_inode(g->vol, NULL, p);
    free(p);
    return ni;
}

int p2v_gfs_stat(struct p2v_gfs *g, const char *path, int *is_dir, uint64_t *size)
{
    ntfs_inode *ni = lookup(g, path);
    if (!ni)
        return errno == ENOENT ? 0 : -errno;
    if (is_dir)
        *is_dir = (ni->mrec->flags & MFT_RECORD_IS_DIRECTORY) != 0;
    if (size)
        *size = (uint64_t)ni->data_size;
    ntfs_inode_close(ni);
    return 1;
}

int p2v_gfs_spelling(struct p2v_gfs *g, const char *dir, const char *name, char *out,
                     size_t len)
{
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    if (!path)
        return -ENOMEM;
    sprintf(path, "%s/%s", dir, name);
    ntfs_inode *ni = lookup(g, path);
    free(path);
    if (!ni)
        return errno == ENOENT ? 0 : -errno;
    /* The $FILE_NAME attributes hold the names as written; the directory
     * listing of a case-insensitive volume is folded to lower case.  The
     * short (8.3) name is an alias: the long one is the name. */
    ntfs_attr_search_ctx *ctx = ntfs_attr_get_search_ctx(ni, NULL);
    int r = ctx ? 0 : -errno;
    while (r == 0 && ntfs_attr_lookup(AT_FILE_NAME, NULL, 0, CASE_SENSITIVE, 0, NULL, 0, ctx) == 0) {
        const FILE_NAME_ATTR *fn = (const FILE_NAME_ATTR *)((const uint8_t *)ctx->attr +
                                                            le16_to_cpu(ctx->attr->value_offset));
        /* A damaged record's name may not fit its attribute: not a name. */
        if (ctx->attr->non_resident ||
            le16_to_cpu(ctx->attr->value_offset) + offsetof(FILE_NAME_ATTR, file_name) +
                    2u * fn->file_name_length > le32_to_cpu(ctx->attr->length) ||
            fn->file_name_type == FILE_NAME_DOS)
            continue;
        ntfschar u[256];  /* the attribute is packed: copy the name out aligned */
        memcpy(u, (const uint8_t *)fn + offsetof(FILE_NAME_ATTR, file_name),
               fn->file_name_length * sizeof *u);
        char *mbs = NULL;
        if (ntfs_ucstombs(u, fn->file_name_length, &mbs, 0) < 0)
            r = -errno;
        else
            r = snprintf(out, len, "%s", mbs) < (int)len ? 1 : -ENAMETOOLONG;
        free(mbs);
    }
    if (ctx)
        ntfs_attr_put_search_ctx(ctx);
    ntfs_inode_close(ni);
    return r;
}

/* NTFS names hold at most 255 UTF-16 units (a u8 length in the
 * directory entry): a longer one must be refused, not cut to fit. */
static int name_fits(struct p2v_gfs *g, const char *path, int ulen)
{
    if (ulen <= 255)
        return 0;
    p2v_err("%s: %s: a name in it is %d UTF-16 units long, over the 255 NTFS allows; "
            "shorten it", g->name, path, ulen);
    return -ENAMETOOLONG;
}

int p2v_gfs_read(struct p2v_gfs *g, const char *path, uint8_t **data, size_t *len)
{
    ntfs_inode *ni = lookup(g, path);
    if (!ni) {
        int e = errno ? errno : EIO;
        if (e != ENOENT && e != ENOTDIR)  /* absent is an answer; the rest is said here */
            p2v_err("%s: looking up %s failed: %s%s", g->name, path, strerror(e),
                    e == ENAMETOOLONG ? " (NTFS names hold at most 255 UTF-16 units)" : "");
        return -e;
    }
    ntfs_attr *na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
    int r = 0;
    if (!na) {
        r = -errno;
        ntfs_inode_close(ni);
        return r;
    }
    size_t n = (size_t)na->data_size;
    *data = malloc(n ? n : 1);
    if (!*data)
        r = -ENOMEM;
    else if (ntfs_attr_pread(na, 0, (s64)n, *data) != (s64)n)
        r = errno ? -errno : -EIO;
    ntfs_attr_close(na);
    ntfs_inode_close(ni);
    if (r < 0) {
        free(*data);
        *data = NULL;
        p2v_err("%s: reading %s failed: %s", g->name, path, strerror(-r));
        return r;
    }
    *len = n;
    return 0;
}

/* Splits path into its parent directory (opened, created if missing when
 * make_dirs) and its last component as NTFS Unicode. */
static int open_parent(struct p2v_gfs *g, const char *path, int make_dirs, ntfs_inode **dir,
                       ntfschar **uname, int *ulen)
{
    char *p = norm(path);
    if (!p)
        return -ENOMEM;
    char *slash = strrchr(p, '/');
    const char *leaf = slash ? slash + 1 : p;
    if (slash)
        *slash = 0;
    ntfs_inode *d = ntfs_pathname_to_inode(g->vol, NULL, "/");
    int r = d ? 0 : -errno;
    /* Walk down, making what is missing. */
    for (char *part = p, *next; r == 0 && slash && *part; part = next) {
        next = strchr(part, '/');
        if (next)
            *next++ = 0;
        else
            next = part + strlen(part);
        if (!*part)
            continue;
        ntfs_inode *c = ntfs_pathname_to_inode(g->vol, d, part);
        if (!c && errno == ENOENT && make_dirs) {
            ntfschar *u = NULL;
            int ul = ntfs_mbstoucs(part, &u);
            if (ul > 0 && (r = name_fits(g, path, ul)) == 0)
                c = ntfs_create(d, 0, u, (u8)ul, S_IFDIR);
            else if (ul <= 0)
                r = errno ? -errno : -EILSEQ;
            free(u);
        }
        if (!c && r == 0)
            r = errno ? -errno : -EIO;
        if (close_or_drop(d, NULL) < 0 && r == 0)
            r = errno ? -errno : -EIO;
        d = c;
    }
    if (r == 0) {
        *ulen = ntfs_mbstoucs(leaf, uname);
        if (*ulen <= 0)
            r = -EINVAL;
        else
            r = name_fits(g, path, *ulen);
    }
    free(p);
    if (r < 0) {
        close_or_drop(d, NULL);
        return r;
    }
    *dir = d;
    return 0;
}

int p2v_gfs_write(struct p2v_gfs *g, const char *path, const void *data, size_t len)
{
    ntfs_inode *dir = NULL, *ni = NULL;
    ntfschar *u = NULL;
    int ulen = 0;
    int r = open_parent(g, path, 1, &dir, &u, &ulen);
    if (r == 0) {
        u64 mref = ntfs_inode_lookup_by_name(dir, u, ulen);
        if (mref != (u64)-1)
            ni = ntfs_inode_open(g->vol, mref);
        else if (errno == ENOENT)
            ni = ntfs_create(dir, 0, u, (u8)ulen, S_IFREG);
        if (!ni)
            r = errno ? -errno : -EIO;
    }
    ntfs_attr *na = r == 0 ? ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0) : NULL;
    if (r == 0 && !na)
        r = -errno;
    if (r == 0 && ntfs_attr_truncate(na, (s64)len) < 0)
        r = -errno;
    if (r == 0 && len && ntfs_attr_pwrite(na, 0, (s64)len, data) != (s64)len)
        r = errno ? -errno : -EIO;
    if (na)
        ntfs_attr_close(na);
    /* The parent is open with the new entry in its index: the file's name
     * must be synced through it, not through a fresh copy from disk. */
    if (close_or_drop(ni, dir) < 0 && r == 0)
        r = -errno;
    if (close_or_drop(dir, NULL) < 0 && r == 0)
        r = -errno;
    free(u);
    if (r < 0)
        p2v_err("%s: writing %s (%zu bytes) failed: %s", g->name, path, len, strerror(-r));
    return r;
}

int p2v_gfs_delete(struct p2v_gfs *g, const char *path)
{
    ntfs_inode *dir = NULL;
    ntfschar *u = NULL;
    int ulen = 0;
    int r = open_parent(g, path, 0, &dir, &u, &ulen);
    if (r < 0) {
        free(u);
        return r;
    }
    u64 mref = ntfs_inode_lookup_by_name(dir, u, ulen);
    ntfs_inode *ni = mref != (u64)-1 ? ntfs_inode_open(g->vol, mref) : NULL;
    if (!ni) {
        r = -ENOENT;
        ntfs_inode_close(dir);
    } else {
        char *p = norm(path);
        /* ntfs_delete closes both inodes, whatever happens. */
        if (ntfs_delete(g->vol, p, ni, dir, u, (u8)ulen) < 0)
            r = -errno;
        free(p);
    }
    free(u);
    if (r < 0 && r != -ENOENT)
        p2v_err("%s: deleting %s failed: %s", g->name, path, strerror(-r));
    return r;
}
