/* The one interface every layer of the data path implements.
 *
 *   source -> snapshot view -> disk layout -> COW overlay -> allocation map
 *          -> VHD/VHDX encoder -> FUSE
 *
 * A layer is a byte range of fixed size.  It can be read at any offset,
 * it can say which ranges hold data (everything else reads as zeros), and
 * some layers accept writes.  A layer only talks to the layer below it.
 */
#ifndef P2V_LAYER_H
#define P2V_LAYER_H

#include <stddef.h>
#include <stdint.h>

struct p2v_layer;

/* Called once per extent, in ascending order, with is_data one of:
 *   P2V_EXTENT_ZERO  the range reads as zeros;
 *   P2V_EXTENT_DATA  it may hold data;
 *   P2V_EXTENT_USED  a filesystem uses it: data, no need to look for zeros.
 * Return non-zero to stop the walk early (that value is then returned by
 * p2v_layer_extents). */
enum { P2V_EXTENT_ZERO = 0, P2V_EXTENT_DATA = 1, P2V_EXTENT_USED = 2 };
typedef int (*p2v_extent_fn)(void *ctx, uint64_t off, uint64_t len, int is_data);

struct p2v_layer_ops {
    const char *name;
    /* Fill buf with len bytes at off; off + len <= size.  0 or -errno. */
    int (*read)(struct p2v_layer *l, void *buf, size_t len, uint64_t off);
    /* Report [off, off+len) as data/zero extents.  NULL: all data. */
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
int p2v_layer_extents(struct p2v_layer *l, uint64_t off, uint64_t len,
                      p2v_extent_fn fn, void *ctx);
/* Sums the data extents (what is not known to be zero) in [off, off+len). */
int p2v_layer_data_bytes(struct p2v_layer *l, uint64_t off, uint64_t len, uint64_t *bytes);
/* Closes l only (a view that does not own the layers below it). */
void p2v_layer_close(struct p2v_layer *l);
/* Closes l and every layer below it. */
void p2v_layer_close_stack(struct p2v_layer *l);

#endif
