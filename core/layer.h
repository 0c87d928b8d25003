/* The one interface every layer of the data path implements.
 *
 *   source -> snapshot view -> disk layout -> COW overlay -> allocation map
 *          -> VHD/VHDX encoder -> FUSE
 *
 * A layer is a byte range of fixed size.  It can be read at any offset,
 * it can say which ranges hold data (everything else reads as zeros), and
 * some layers accept writes.  A layer only talks to the layer below it.
 *
 * With P2V_TRACE=1 in the environment every call through the wrappers
 * below is logged with the layer's name, offset, length and result. */
#ifndef P2V_LAYER_H
#define P2V_LAYER_H

#include <stddef.h>
#include <stdint.h>

struct p2v_layer;

enum p2v_extent_kind {
    P2V_EXTENT_ZERO,   /* the range reads as zeros */
    P2V_EXTENT_DATA,   /* it may hold data */
    P2V_EXTENT_USED,   /* a filesystem uses it: data, no need to look for zeros */
};

/* Called once per extent, in ascending order.  Return non-zero to stop
 * the walk early (that value is then returned by p2v_layer_extents). */
typedef int (*p2v_extent_fn)(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind);

struct p2v_layer_ops {
    const char *name;
    /* Fill buf with len bytes at off; off + len <= size.  0 or -errno. */
    int (*read)(struct p2v_layer *l, void *buf, size_t len, uint64_t off);
    /* Report the extents of [off, off+len), in order and without gaps.
     * The first may start before off and the last end after off+len
     * (p2v_layer_extents clips them), so a layer can report whole runs of
     * its own; once the range is covered the callback returns non-zero
     * and the layer should stop.  NULL: all data. */
    int (*extents)(struct p2v_layer *l, uint64_t off, uint64_t len,
                   p2v_extent_fn fn, void *ctx);
    /* NULL: the layer is read-only (writes fail with -EROFS). */
    int (*write)(struct p2v_layer *l, const void *buf, size_t len, uint64_t off);
    void (*close)(struct p2v_layer *l);
};

struct p2v_layer {
    const struct p2v_layer_ops *ops;
    struct p2v_layer *below;  /* the neighbour this layer reads from, or NULL */
    uint64_t size;            /* bytes */
};

/* Checked wrappers: bounds are enforced here so layers need not repeat it. */
int p2v_layer_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off);
int p2v_layer_write(struct p2v_layer *l, const void *buf, size_t len, uint64_t off);
/* fn sees extents that tile [off, off+len) exactly, in order, with
 * neighbours of one kind merged, whatever pieces the layer reports them
 * in.  A layer whose extents leave a gap, overlap or run backwards is a
 * bug: -EIO, with a message naming it. */
int p2v_layer_extents(struct p2v_layer *l, uint64_t off, uint64_t len,
                      p2v_extent_fn fn, void *ctx);
/* The extents of [from, from+len) of below, reported as if they started
 * at offset to: for a layer that shows the one below at another offset. */
int p2v_layer_extents_moved(struct p2v_layer *below, uint64_t from, uint64_t len, uint64_t to,
                            p2v_extent_fn fn, void *ctx);
/* Sums the data extents (what is not known to be zero) in [off, off+len). */
int p2v_layer_data_bytes(struct p2v_layer *l, uint64_t off, uint64_t len, uint64_t *bytes);
/* l as the layer type whose operations are ops, or NULL (with a message
 * naming both) when it is another: the checked cast of a layer's own
 * accessors. */
void *p2v_layer_cast(struct p2v_layer *l, const struct p2v_layer_ops *ops);
/* Closes l only (a view that does not own the layers below it). */
void p2v_layer_close(struct p2v_layer *l);
/* Closes l and every layer below it. */
void p2v_layer_close_stack(struct p2v_layer *l);

#endif
