/* A forked twin that tries each operation before the process makes it, for
 * libraries that abort on bad input instead of failing (hivex asserts on
 * some damaged hives). The twin is forked at the first operation and then
 * repeats every operation the process makes, in the same order, so its
 * copy of the library's state stays the same as ours; one fork serves a
 * whole session. */
#ifndef P2V_FIXUP_SHADOW_H
#define P2V_FIXUP_SHADOW_H

#include <stddef.h>

/* Runs one operation, described by msg, on ctx; 0 or -errno. In the twin it
 * runs on the twin's copy of ctx. */
typedef int (*p2v_shadow_fn)(void *ctx, const void *msg, size_t len);

struct p2v_shadow {
    int pid;      /* 0: no twin yet (or it ended) */
    int sock;
    int last;     /* the twin's result of the last operation */
};

/* Tries msg in the twin (forking it first if needed): 0 if the twin
 * survived it (whatever the operation returned), or a signal number > 0 if
 * it killed the twin (SIGABRT for an assertion), or -errno if the twin could
 * not be used (then the caller may not know whether msg is safe). */
int p2v_shadow_try(struct p2v_shadow *s, p2v_shadow_fn fn, void *ctx, const void *msg,
                   size_t len);

/* After the process made the operation itself: its result. A twin whose
 * result differed (a resource failure in one of them) is stopped, and the
 * next operation forks a new one from this process's state. */
void p2v_shadow_made(struct p2v_shadow *s, int result);

void p2v_shadow_stop(struct p2v_shadow *s);

#endif
