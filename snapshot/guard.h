/* The consistency guard: for a source read without a snapshot, every read
 * is followed by a check that the source has not changed since it was
 * opened (a file's size, mtime and ctime; a block device's write and
 * discard counters and writes in flight in sysfs).  Once it has, that
 * read and every later one fails with EIO, and the log says why: a view
 * never mixes data from two moments silently. */
#ifndef P2V_GUARD_H
#define P2V_GUARD_H

#include "core/layer.h"

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct p2v_guard_watch {
    const char *path;         /* a file, or a block device node */
    const char *name;         /* for messages, if not path (a /proc/self/fd name) */
    int is_blockdev;
    dev_t rdev;               /* the device, for its sysfs counters */
    /* For a file: what it was when the source was opened (0 size: now). */
    off_t size;
    struct timespec mtime, ctime;
};

/* name: the source, for messages.  Watches up to 16 objects. */
int p2v_guard_open(struct p2v_layer *below, const char *name,
                   const struct p2v_guard_watch *w, int n, struct p2v_layer **out);
/* 0 unchanged; 1 changed, with the reason in reason. */
int p2v_guard_state(struct p2v_layer *l, char *reason, size_t len);
/* Checks now (not only after reads). */
int p2v_guard_check(struct p2v_layer *l);

#endif
