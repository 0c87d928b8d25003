/* Application consistency, the VSS-writer role: pre-freeze hooks, FIFREEZE
 * of the mounted filesystems for only as long as the snapshot takes, thaw,
 * post-thaw hooks.  A watchdog process thaws them if p2v dies (SIGKILL
 * included) or the freeze outlasts its timeout: a filesystem is never left
 * frozen. */
#ifndef P2V_FREEZE_H
#define P2V_FREEZE_H

#define P2V_FREEZE_MAX 8

struct p2v_freeze_opts {
    const char *mounts[P2V_FREEZE_MAX];  /* mount points to freeze */
    int nmounts;
    const char *hooks;       /* directory of hook programs, or NULL */
    int hook_timeout_s;      /* per hook call (default 60) */
    int freeze_timeout_s;    /* the watchdog's limit (default 30) */
    const char *source;      /* for the hooks' environment (P2V_SOURCE) */
};

/* Checks the mount points and the hooks before running anything, then
 * freezes (hooks, FIFREEZE), calls snap(ctx), thaws (FITHAW, hooks in
 * reverse order).  Returns snap's result, or -errno if freezing failed
 * (snap not called) or the watchdog thawed before snap finished
 * (-ETIMEDOUT: the snapshot is not consistent; the caller discards it). */
int p2v_freeze_run(const struct p2v_freeze_opts *o, int (*snap)(void *ctx), void *ctx);

#endif
