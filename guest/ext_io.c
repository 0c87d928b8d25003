#include "ext_io.h"

#include "hive.h"

#include <ext2fs/ext2_err.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct volume {
    struct p2v_layer *l;
    uint64_t start, size;
};

static struct struct_io_manager p2v_io;

static errcode_t io_open(const char *name, int flags, io_channel *out)
{
    struct volume *v = NULL;
    if (flags & IO_FLAG_RW)
        return EXT2_ET_RO_FILSYS;
    /* The volume travels in the name: open() gets nothing else. */
    if (sscanf(name, "p2v-ext:%p", (void **)&v) != 1 || !v)
        return EXT2_ET_BAD_DEVICE_NAME;
    io_channel ch = calloc(1, sizeof *ch);
    if (!ch || !(ch->name = strdup(name))) {
        free(ch);
        return EXT2_ET_NO_MEMORY;
    }
    ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
    ch->manager = &p2v_io;
    ch->block_size = 1024;
    ch->refcount = 1;
    ch->private_data = v;
    *out = ch;
    return 0;
}

static errcode_t io_close(io_channel ch)
{
    if (--ch->refcount > 0)
        return 0;
    free(ch->name);
    free(ch);
    return 0;
}

static errcode_t io_set_blksize(io_channel ch, int blksize)
{
    ch->block_size = blksize;
    return 0;
}

static errcode_t io_read_blk64(io_channel ch, unsigned long long block, int count, void *data)
{
    struct volume *v = ch->private_data;
    /* A negative count is a byte count, not blocks. */
    uint64_t len = count < 0 ? (uint64_t)-(int64_t)count : (uint64_t)count * (uint64_t)ch->block_size;
    uint64_t off = block * (uint64_t)ch->block_size;
    if (off > v->size || len > v->size - off)
        return EXT2_ET_SHORT_READ;
    return p2v_layer_read(v->l, data, (size_t)len, v->start + off) < 0 ? EXT2_ET_SHORT_READ : 0;
}

static errcode_t io_read_blk(io_channel ch, unsigned long block, int count, void *data)
{
    return io_read_blk64(ch, block, count, data);
}

static errcode_t io_write_blk64(io_channel ch, unsigned long long block, int count,
                                const void *data)
{
    (void)ch, (void)block, (void)count, (void)data;
    return EXT2_ET_RO_FILSYS;
}

static errcode_t io_write_blk(io_channel ch, unsigned long block, int count, const void *data)
{
    return io_write_blk64(ch, block, count, data);
}

static errcode_t io_flush(io_channel ch)
{
    (void)ch;
    return 0;
}

static struct struct_io_manager p2v_io = {
    .magic = EXT2_ET_MAGIC_IO_MANAGER,
    .name = "p2v layer",
    .open = io_open,
    .close = io_close,
    .set_blksize = io_set_blksize,
    .read_blk = io_read_blk,
    .write_blk = io_write_blk,
    .flush = io_flush,
    .read_blk64 = io_read_blk64,
    .write_blk64 = io_write_blk64,
};

/* error_message() knows libext2fs's codes only once its table is added:
 * without it a bad superblock checksum reads "Unknown code ext2 152". */
static pthread_once_t error_table_once = PTHREAD_ONCE_INIT;

errcode_t p2v_ext_open(struct p2v_layer *l, uint64_t start, uint64_t size, ext2_filsys *out)
{
    int pr = pthread_once(&error_table_once, initialize_ext2_error_table);
    if (pr != 0)
        return pr;  /* an errno value: error_message() shows it as such */
    struct volume *v = malloc(sizeof *v);
    if (!v)
        return EXT2_ET_NO_MEMORY;
    *v = (struct volume){ l, start, size };
    char dev[64];
    snprintf(dev, sizeof dev, "p2v-ext:%p", (void *)v);
    *out = NULL;
    errcode_t err = ext2fs_open2(dev, NULL, EXT2_FLAG_64BITS, 0, 0, &p2v_io, out);
    if (err)
        free(v);  /* libext2fs closed its channel; the volume is ours */
    return err;
}

void p2v_ext_close(ext2_filsys *fs)
{
    if (!*fs)
        return;
    struct volume *v = (*fs)->io ? (*fs)->io->private_data : NULL;
    ext2fs_close_free(fs);
    free(v);
}

int p2v_ext_read_file(ext2_filsys fs, const char *path, size_t max, char **data, size_t *len)
{
    ext2_ino_t ino;
    if (ext2fs_namei_follow(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, &ino) != 0)
        return -ENOENT;
    struct ext2_inode inode;
    if (ext2fs_read_inode(fs, ino, &inode) != 0)
        return -EIO;
    if (!LINUX_S_ISREG(inode.i_mode))
        return -ENOENT;
    uint64_t size = EXT2_I_SIZE(&inode);
    if (size > max)
        return -EFBIG;
    ext2_file_t f;
    if (ext2fs_file_open(fs, ino, 0, &f) != 0)
        return -EIO;
    char *buf = malloc(size + 1);
    unsigned got = 0;
    int r = buf ? 0 : -ENOMEM;
    if (r == 0 && size && (ext2fs_file_read(f, buf, (unsigned)size, &got) != 0 || got != size))
        r = -EIO;
    ext2fs_file_close(f);
    if (r < 0) {
        free(buf);
        return r;
    }
    buf[size] = 0;
    *data = buf;
    *len = size;
    return 0;
}

struct dir_list {
    char **v;
    size_t n, cap;
    int err;
};

static int add_entry(struct ext2_dir_entry *d, int off, int bs, char *buf, void *ctx)
{
    (void)off, (void)bs, (void)buf;
    struct dir_list *dl = ctx;
    int len = ext2fs_dirent_name_len(d);
    if ((len == 1 && d->name[0] == '.') || (len == 2 && !memcmp(d->name, "..", 2)))
        return 0;
    if (dl->n == dl->cap) {
        size_t cap = dl->cap ? dl->cap * 2 : 16;
        char **v = realloc(dl->v, cap * sizeof *v);
        if (!v) {
            dl->err = -ENOMEM;
            return DIRENT_ABORT;
        }
        dl->v = v;
        dl->cap = cap;
    }
    if (!(dl->v[dl->n] = strndup(d->name, (size_t)len))) {
        dl->err = -ENOMEM;
        return DIRENT_ABORT;
    }
    dl->n++;
    return 0;
}

int p2v_ext_list_dir(ext2_filsys fs, const char *path, char ***names, size_t *n)
{
    ext2_ino_t ino;
    if (ext2fs_namei_follow(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, &ino) != 0)
        return -ENOENT;
    struct dir_list dl = { 0 };
    errcode_t err = ext2fs_dir_iterate(fs, ino, 0, NULL, add_entry, &dl);
    if (err || dl.err) {
        p2v_strv_free(dl.v, dl.n);
        return dl.err ? dl.err : err == EXT2_ET_NO_DIRECTORY ? -ENOTDIR : -EIO;
    }
    *names = dl.v;
    *n = dl.n;
    return 0;
}
