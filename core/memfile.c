#include "memfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct memfile {
    struct p2v_layer l;
    unsigned char data[];
};

static int mem_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off)
{
    memcpy(buf, ((struct memfile *)l)->data + off, len);
    return 0;
}

static void mem_close(struct p2v_layer *l)
{
    free(l);
}

static const struct p2v_layer_ops mem_ops = { .name = "memory", .read = mem_read, .close = mem_close };

int p2v_memfile_open(const void *data, size_t len, struct p2v_layer **out)
{
    struct memfile *m = malloc(sizeof *m + len);
    if (!m)
        return -ENOMEM;
    memset(&m->l, 0, sizeof m->l);
    m->l.ops = &mem_ops;
    m->l.size = len;
    memcpy(m->data, data, len);
    *out = &m->l;
    return 0;
}
