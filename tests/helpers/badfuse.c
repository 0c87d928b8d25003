/* badfuse: a test helper that simulates a disk with unreadable sectors.
 *
 *   badfuse [-f] IMAGE MOUNTDIR LBA_RANGE...
 *
 * Serves IMAGE read-only as MOUNTDIR/disk (direct_io, no caching, so every
 * read reaches this process).  A read touching any 512-byte sector in one of
 * the ranges ("A-B" inclusive, or "A") fails with EIO; everything else reads
 * as IMAGE.  Without -f it returns once the mount is live (daemonizes).
 * Unmount with fusermount3 -u MOUNTDIR.  Used by tests/it_badsectors.sh. */
#define _FILE_OFFSET_BITS 64
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct range { uint64_t first, last; };

static int img_fd = -1;
static off_t img_size;
static struct range *bad;
static size_t nbad;

static int touches_bad(off_t off, size_t len)
{
    uint64_t first = (uint64_t)off / 512, last = ((uint64_t)off + len - 1) / 512;
    for (size_t i = 0; i < nbad; i++)
        if (first <= bad[i].last && bad[i].first <= last)
            return 1;
    return 0;
}

static void *bf_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    (void)conn;
    cfg->direct_io = 1;
    cfg->kernel_cache = 0;
    cfg->auto_cache = 0;
    cfg->entry_timeout = 0;
    cfg->attr_timeout = 0;
    cfg->negative_timeout = 0;
    return NULL;
}

static int bf_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    (void)fi;
    memset(st, 0, sizeof(*st));
    if (strcmp(path, "/") == 0) {
        st->st_mode = S_IFDIR | 0555;
        st->st_nlink = 2;
    } else if (strcmp(path, "/disk") == 0) {
        st->st_mode = S_IFREG | 0444;
        st->st_nlink = 1;
        st->st_size = img_size;
        st->st_blocks = (img_size + 511) / 512;
    } else {
        return -ENOENT;
    }
    return 0;
}

static int bf_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    (void)off; (void)fi; (void)flags;
    if (strcmp(path, "/") != 0)
        return -ENOENT;
    if (fill(buf, ".", NULL, 0, 0) || fill(buf, "..", NULL, 0, 0) ||
        fill(buf, "disk", NULL, 0, 0))
        return -ENOMEM;
    return 0;
}

static int bf_open(const char *path, struct fuse_file_info *fi)
{
    if (strcmp(path, "/disk") != 0)
        return -ENOENT;
    if ((fi->flags & O_ACCMODE) != O_RDONLY)
        return -EROFS;
    fi->direct_io = 1;
    fi->keep_cache = 0;
    return 0;
}

static int bf_read(const char *path, char *buf, size_t len, off_t off,
                   struct fuse_file_info *fi)
{
    (void)path; (void)fi;
    if (off >= img_size || len == 0)
        return 0;
    if ((off_t)len > img_size - off)
        len = (size_t)(img_size - off);
    if (touches_bad(off, len))
        return -EIO;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(img_fd, buf + done, len - done, off + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (int)done;
}

static const struct fuse_operations ops = {
    .init = bf_init, .getattr = bf_getattr, .readdir = bf_readdir,
    .open = bf_open, .read = bf_read,
};

static int parse_range(const char *s, struct range *r)
{
    char *end;
    errno = 0;
    unsigned long long a = strtoull(s, &end, 10), b = a;
    if (errno || end == s || *s == '-')
        return -1;
    if (*end == '-') {
        const char *t = end + 1;
        b = strtoull(t, &end, 10);
        if (errno || end == t || *t == '-')
            return -1;
    }
    if (*end != '\0' || b < a)
        return -1;
    r->first = a;
    r->last = b;
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: badfuse [-f] IMAGE MOUNTDIR LBA_RANGE...  (ranges: A-B or A)\n");
    return 2;
}

int main(int argc, char **argv)
{
    int fg = 0, i = 1;
    if (i < argc && strcmp(argv[i], "-f") == 0) {
        fg = 1;
        i++;
    }
    if (argc - i < 3)
        return usage();
    const char *image = argv[i];
    char mnt[PATH_MAX];  /* absolute: the daemon changes to / */
    if (!realpath(argv[i + 1], mnt)) {
        fprintf(stderr, "badfuse: %s: %s\n", argv[i + 1], strerror(errno));
        return 1;
    }
    nbad = (size_t)(argc - i - 2);
    bad = calloc(nbad, sizeof(*bad));
    if (!bad) {
        perror("badfuse: calloc");
        return 1;
    }
    for (size_t k = 0; k < nbad; k++)
        if (parse_range(argv[i + 2 + (int)k], &bad[k]) != 0) {
            fprintf(stderr, "badfuse: bad LBA range '%s'\n", argv[i + 2 + (int)k]);
            return usage();
        }
    img_fd = open(image, O_RDONLY | O_CLOEXEC);
    if (img_fd < 0) {
        fprintf(stderr, "badfuse: %s: %s\n", image, strerror(errno));
        return 1;
    }
    img_size = lseek(img_fd, 0, SEEK_END);
    if (img_size < 0) {
        fprintf(stderr, "badfuse: %s: %s\n", image, strerror(errno));
        return 1;
    }

    char *fargv[] = { argv[0], "-o", "ro,fsname=badfuse,subtype=badfuse", NULL };
    struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
    struct fuse *f = fuse_new(&args, &ops, sizeof(ops), NULL);
    if (!f) {
        fprintf(stderr, "badfuse: fuse_new failed\n");
        return 1;
    }
    int rc = 1;
    if (fuse_mount(f, mnt) != 0) {
        fprintf(stderr, "badfuse: cannot mount on %s\n", mnt);
        goto out_destroy;
    }
    struct fuse_session *se = fuse_get_session(f);
    if (fuse_set_signal_handlers(se) != 0) {
        fprintf(stderr, "badfuse: cannot set signal handlers\n");
        goto out_unmount;
    }
    if (fuse_daemonize(fg) != 0) {
        fprintf(stderr, "badfuse: cannot daemonize\n");
        goto out_signals;
    }
    rc = fuse_loop(f) < 0 ? 1 : 0;
out_signals:
    fuse_remove_signal_handlers(se);
out_unmount:
    fuse_unmount(f);
out_destroy:
    fuse_destroy(f);
    fuse_opt_free_args(&args);
    close(img_fd);
    free(bad);
    return rc;
}
