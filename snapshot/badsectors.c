#include "badsectors.h"

#include "core/log.h"
#include "core/plural.h"

#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SECTOR 512u
/* Failing reads are retried in pages, then sectors: a dying disk can take
 * seconds per bad read, so healthy pages are not split further. */
#define PAGE 4096u

struct bad {
    struct p2v_layer l;
    enum p2v_bad_policy policy;
    char *name;
    pthread_mutex_t lock;
    struct p2v_ranges known;  /* sorted and merged after every add */
    atomic_int any;           /* known is not empty: the read path skips the lock */
};

const char *p2v_bad_policy_name(enum p2v_bad_policy p)
{
    return p == P2V_BAD_ZERO ? "zero" : "fail";
}

/* Is any byte of [off, off+len) known to be bad?  Then [*bad_start,
 * *bad_end) is the first known bad range that ends after off. */
static int overlaps_known(struct bad *b, uint64_t off, uint64_t len, uint64_t *bad_start,
                          uint64_t *bad_end)
{
    if (!atomic_load_explicit(&b->any, memory_order_acquire))
        return 0;
    pthread_mutex_lock(&b->lock);
    size_t i = p2v_ranges_find(&b->known, off);
    int hit = i < b->known.n && b->known.r[i].start < off + len;
    if (hit) {
        *bad_start = b->known.r[i].start;
        *bad_end = b->known.r[i].end;
    }
    pthread_mutex_unlock(&b->lock);
    return hit;
}

static int record(struct bad *b, uint64_t off, uint64_t len)
{
    /* A read of part of a sector failed: the whole sector is bad. */
    uint64_t end = (off + len + SECTOR - 1) / SECTOR * SECTOR;
    off = off / SECTOR * SECTOR;
    len = end - off;
    pthread_mutex_lock(&b->lock);
    int r = p2v_ranges_add(&b->known, off, len);
    p2v_ranges_finish(&b->known);
    atomic_store_explicit(&b->any, b->known.n > 0, memory_order_release);
    pthread_mutex_unlock(&b->lock);
    char lbas[96];
    if (len / SECTOR == 1)
        snprintf(lbas, sizeof lbas, "sector LBA %llu (1 sector)", (unsigned long long)(off / SECTOR));
    else
        snprintf(lbas, sizeof lbas, "sectors LBA %llu-%llu (%llu sectors)",
                 (unsigned long long)(off / SECTOR), (unsigned long long)((off + len) / SECTOR - 1),
                 (unsigned long long)(len / SECTOR));
    p2v_err("source %s: unreadable %s: Input/output error; %s", b->name, lbas,
            b->policy == P2V_BAD_ZERO ? "served as zeros"
                                      : "the read fails (--bad-sectors zero reads zeros instead)");
    return r;
}

/* Reads [off, off+len), which failed as a whole, in smaller pieces; the
 * pieces that fail again are recorded and zeroed.  Returns how many
 * bytes were bad, or -errno for an error other than EIO. */
static int64_t salvage(struct bad *b, uint8_t *p, size_t len, uint64_t off, unsigned unit)
{
    int64_t bad = 0;
    uint64_t run = 0, run_len = 0;
    for (size_t done = 0; done < len;) {
        size_t n = unit - (off + done) % unit;
        if (n > len - done)
            n = len - done;
        int r = p2v_layer_read(b->l.below, p + done, n, off + done);
        if (r == -EIO && unit > SECTOR) {
            int64_t s = salvage(b, p + done, n, off + done, SECTOR);
            if (s < 0)
                return s;
            bad += s;
        } else if (r == -EIO) {
            memset(p + done, 0, n);
            if (run_len && run + run_len == off + done) {
                run_len += n;
            } else {
                if (run_len && record(b, run, run_len) < 0)
                    return -ENOMEM;
                run = off + done;
                run_len = n;
            }
            bad += (int64_t)n;
        } else if (r < 0) {
            return r;
        }
        done += n;
    }
    if (run_len && record(b, run, run_len) < 0)
        return -ENOMEM;
    return bad;
}

static int read_piece(struct bad *b, uint8_t *p, size_t len, uint64_t off)
{
    int r = p2v_layer_read(b->l.below, p, len, off);
    if (r != -EIO)
        return r;
    int64_t s = salvage(b, p, len, off, PAGE);
    if (s < 0)
        return (int)s;
    /* EIO without one bad sector: the error did not repeat.  The data
     * read on retry is good. */
    return s > 0 && b->policy == P2V_BAD_FAIL ? -EIO : 0;
}

static int bad_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off)
{
    struct bad *b = (struct bad *)l;
    uint8_t *p = buf;
    /* Known bad ranges are not read again: zeros, or EIO once the rest of
     * the read has been tried too, so that sectors beside a known range
     * are still found and reported (a read overlapping it would otherwise
     * never reach them). */
    int failed = 0;
    while (len > 0) {
        uint64_t bs, be;
        if (!overlaps_known(b, off, len, &bs, &be)) {
            int r = read_piece(b, p, len, off);
            return r == 0 && failed ? -EIO : r;
        }
        if (bs > off) {
            int r = read_piece(b, p, (size_t)(bs - off), off);
            if (r == -EIO)
                failed = 1;
            else if (r < 0)
                return r;
        } else {
            bs = off;
        }
        uint64_t stop = be < off + len ? be : off + len;
        memset(p + (bs - off), 0, (size_t)(stop - bs));
        failed |= b->policy == P2V_BAD_FAIL;
        len -= (size_t)(stop - off);
        p += stop - off;
        off = stop;
    }
    return failed ? -EIO : 0;
}

static int bad_extents(struct p2v_layer *l, uint64_t off, uint64_t len, p2v_extent_fn fn,
                       void *ctx)
{
    return p2v_layer_extents(l->below, off, len, fn, ctx);
}

static void bad_close(struct p2v_layer *l)
{
    struct bad *b = (struct bad *)l;
    p2v_ranges_free(&b->known);
    free(b->name);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

static const struct p2v_layer_ops bad_ops = {
    .name = "bad-sectors",
    .read = bad_read,
    .extents = bad_extents,
    .close = bad_close,
};

int p2v_badsectors_open(struct p2v_layer *below, enum p2v_bad_policy policy, const char *name,
                        struct p2v_layer **out)
{
    struct bad *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->l.ops = &bad_ops;
    b->l.below = below;
    b->l.size = below->size;
    b->policy = policy;
    b->name = strdup(name);
    if (!b->name) {
        free(b);
        return -ENOMEM;
    }
    pthread_mutex_init(&b->lock, NULL);
    *out = &b->l;
    return 0;
}

int p2v_badsectors_get(struct p2v_layer *l, struct p2v_ranges *out)
{
    struct bad *b = p2v_layer_cast(l, &bad_ops);
    memset(out, 0, sizeof *out);
    if (!b)
        return -EINVAL;
    pthread_mutex_lock(&b->lock);
    int r = 0;
    for (size_t i = 0; r == 0 && i < b->known.n; i++)
        r = p2v_ranges_add(out, b->known.r[i].start, b->known.r[i].end - b->known.r[i].start);
    pthread_mutex_unlock(&b->lock);
    if (r < 0)
        p2v_ranges_free(out);
    else
        p2v_ranges_finish(out);
    return r;
}

enum p2v_bad_policy p2v_badsectors_policy(struct p2v_layer *l)
{
    struct bad *b = p2v_layer_cast(l, &bad_ops);
    return b ? b->policy : P2V_BAD_FAIL;
}
