/* Going to the background around a FUSE mount, so that killing `p2v mount`
 * at any moment never leaves a dead mount (ENOTCONN) behind. */
#ifndef P2V_FS_DAEMON_H
#define P2V_FS_DAEMON_H

/* Forks before the mount. The caller (the command the user started) waits
 * there and never returns: it exits 0 once the child calls
 * p2v_daemon_ready, or with the child's own exit status if the child ends
 * first. The child returns 0 and does the mount: since it already is the
 * process that will serve, killing the waiting one cannot take the server
 * away from a mount in the making. Returns -errno if fork fails. */
int p2v_daemon_start(void);

/* In the child, once the view answers: lets the waiting command exit 0,
 * then leaves its session and terminal (new session, cwd /, stdio on
 * /dev/null). */
void p2v_daemon_ready(void);

#endif
