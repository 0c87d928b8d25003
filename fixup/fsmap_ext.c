/* ext2/3/4 free blocks through libext2fs, read through the layer stack by
 * an io_manager of p2v's own (libext2fs only ever sees a name). */
#include "fsmap.h"

#include "../core/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <et/com_err.h>
#include <ext2fs/ext2fs.h>

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

/* Why the bitmaps cannot be trusted, or NULL. */
static const char *unsafe_state(ext2_filsys fs)
{
    if (ext2fs_has_feature_journal_needs_recovery(fs->super))
        return "in need of journal recovery (mounted, or not unmounted cleanly)";
    if (!(fs->super->s_state & EXT2_VALID_FS) || (fs->super->s_state & EXT2_ERROR_FS))
        return "not clean (mounted, or with errors to fix with e2fsck)";
    return NULL;
}

static int add_free(ext2_filsys fs, uint64_t start, struct p2v_ranges *zero, uint64_t *bytes)
{
    ext2fs_block_bitmap map = fs->block_map;
    blk64_t b = ext2fs_get_block_bitmap_start2(map), end = ext2fs_get_block_bitmap_end2(map);
    uint64_t bs = fs->blocksize;
    /* Blocks outside [start, end] (block 0 of 1 KiB filesystems, any tail)
     * are not in the bitmap and are kept. */
    while (b <= end) {
        blk64_t z, used;
        if (ext2fs_find_first_zero_block_bitmap2(map, b, end, &z) != 0)
            break;
        if (ext2fs_find_first_set_block_bitmap2(map, z, end, &used) != 0)
            used = end + 1;
        int r = p2v_ranges_add(zero, start + z * bs, (used - z) * bs);
        if (r < 0)
            return r;
        *bytes += (used - z) * bs;
        b = used;
    }
    return 0;
}

int p2v_fsmap_ext(struct p2v_layer *l, uint64_t start, uint64_t size, const char *name,
                  unsigned flags, struct p2v_ranges *zero, struct p2v_fsmap_stats *st)
{
    (void)flags;
    struct volume v = { l, start, size };
    char dev[64];
    snprintf(dev, sizeof dev, "p2v-ext:%p", (void *)&v);
    ext2_filsys fs = NULL;
    errcode_t err = ext2fs_open2(dev, NULL, EXT2_FLAG_64BITS, 0, 0, &p2v_io, &fs);
    if (err) {
        p2v_err("%s: the ext2/3/4 filesystem cannot be opened (%s); it may be damaged: run "
                "e2fsck on it, or pass --keep-free-space to copy it unmodified", name,
                error_message(err));
        return -EIO;
    }
    int r = 0;
    const char *why = unsafe_state(fs);
    if (why) {
        p2v_warn("%s: the ext filesystem is %s; copying it whole, free space included", name, why);
    } else if ((err = ext2fs_read_block_bitmap(fs)) != 0) {
        p2v_err("%s: reading the ext block bitmaps failed (%s)", name, error_message(err));
        r = -EIO;
    } else {
        r = add_free(fs, start, zero, &st->free_bytes);
    }
    ext2fs_close_free(&fs);
    return r;
}
