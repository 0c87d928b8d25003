/* XFS: whether the volume was unmounted cleanly, read from its log (what
 * xfs_logprint -t calls CLEAN or DIRTY).  XFS has no free-space map here:
 * it is copied whole.
 *
 * The log is a ring of 512-byte blocks, each stamped with the number of
 * the pass that wrote it (its cycle).  The head is where the newest pass
 * ends; a clean unmount leaves, just before it, a record holding nothing
 * but an unmount operation.  The head is found as the kernel's log
 * recovery finds it, less its repairs of torn writes: anything but an
 * unmount record ending at the head reads as unclean. */
#include "fsmap.h"

#include "core/bytes.h"

#include <stdlib.h>
#include <string.h>

#define BB 512u
#define REC_MAGIC 0xFEEDBABEu
#define CYCLE_SIZE 32768u         /* bytes of data one header block describes */
#define UNMOUNT_TRANS 0x20        /* op header flag: the unmount record */
#define SCAN_BLOCKS 4096u         /* 8 in-flight records of 256 KiB: where holes can be */

struct xlog {
    struct p2v_layer *l;
    uint64_t start;               /* byte offset of the log's block 0 */
    uint64_t n;                   /* its 512-byte blocks */
};

static int read_bb(const struct xlog *g, uint64_t b, uint8_t buf[BB])
{
    return p2v_layer_read(g->l, buf, BB, g->start + (b % g->n) * BB);
}

/* The cycle stamped on block b: the first word of a data block, the
 * second of a record header. */
static int cycle_of(const struct xlog *g, uint64_t b, uint32_t *c)
{
    uint8_t buf[BB];
    if (read_bb(g, b, buf) < 0)
        return -1;
    *c = get_be32(buf) == REC_MAGIC ? get_be32(buf + 4) : get_be32(buf);
    return 0;
}

static int find_head(const struct xlog *g, uint64_t *head)
{
    uint32_t first, last, c;
    if (cycle_of(g, 0, &first) < 0 || cycle_of(g, g->n - 1, &last) < 0)
        return -1;
    uint64_t h = g->n;
    uint32_t stop = last - 1;
    if (first != last) {
        /* x+1 ... x+1 | x ... x: the head is the first block of cycle x. */
        uint64_t lo = 0, hi = g->n - 1;
        while (hi - lo > 1) {
            uint64_t mid = lo + (hi - lo) / 2;
            if (cycle_of(g, mid, &c) < 0)
                return -1;
            if (c == last)
                hi = mid;
            else
                lo = mid;
        }
        h = hi;
        stop = last;
    }
    /* Records in flight are written out of order: an older cycle just
     * before the head is a hole, and the head is its start. */
    uint64_t scan = g->n < SCAN_BLOCKS ? g->n : SCAN_BLOCKS;
    uint64_t from = h >= scan ? h - scan : 0;
    for (uint64_t b = from; b < h; b++) {
        if (cycle_of(g, b, &c) < 0)
            return -1;
        if (c == stop) {
            h = b;
            break;
        }
    }
    *head = h % g->n;
    return 0;
}

/* 1 if the record ending at head is an unmount record, 0 if not, -1 if no
 * record header is found before it. */
static int unmounted_at(const struct xlog *g, uint64_t head)
{
    uint8_t buf[BB];
    uint64_t limit = g->n < SCAN_BLOCKS + 8 ? g->n : SCAN_BLOCKS + 8;
    for (uint64_t back = 1; back <= limit; back++) {
        uint64_t b = (head + g->n - back) % g->n;
        if (read_bb(g, b, buf) < 0)
            return -1;
        if (get_be32(buf) != REC_MAGIC)
            continue;
        uint32_t version = get_be32(buf + 8), len = get_be32(buf + 12);
        uint32_t ops = get_be32(buf + 40), hsize = get_be32(buf + 320);
        uint64_t hblks = 1;
        if ((version & 2) && hsize > CYCLE_SIZE)
            hblks = (hsize + CYCLE_SIZE - 1) / CYCLE_SIZE;
        uint64_t after = (b + hblks + (len + BB - 1) / BB) % g->n;
        if (after != head || ops != 1)
            return 0;
        if (read_bb(g, b + hblks, buf) < 0)
            return -1;
        return (buf[9] & UNMOUNT_TRANS) != 0;  /* the first op header's flags */
    }
    return -1;
}

const char *p2v_fsmap_xfs_state(struct p2v_layer *l, uint64_t start, uint64_t size)
{
    uint8_t sb[512];
    if (size < sizeof sb || p2v_layer_read(l, sb, sizeof sb, start) < 0 || memcmp(sb, "XFSB", 4))
        return NULL;
    uint32_t bsize = get_be32(sb + 4), agblocks = get_be32(sb + 84), logblocks = get_be32(sb + 96);
    uint64_t logstart = get_be64(sb + 48);
    unsigned agblklog = sb[124];
    /* An external log (logstart 0) is on another device. */
    if (!logstart || bsize < BB || bsize > 65536 || (bsize & (bsize - 1)) || agblklog > 31 ||
        !logblocks)
        return NULL;
    uint64_t agno = logstart >> agblklog, agbno = logstart & ((1ull << agblklog) - 1);
    struct xlog g = { l, start + (agno * agblocks + agbno) * bsize, (uint64_t)logblocks * (bsize / BB) };
    if (g.start < start || g.start - start > size || g.n * BB > size - (g.start - start))
        return NULL;
    uint64_t head;
    if (find_head(&g, &head) < 0)
        return NULL;
    int r = unmounted_at(&g, head);
    return r < 0 ? NULL : r ? "clean" : "unclean";
}
