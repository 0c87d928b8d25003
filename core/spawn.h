/* Runs a helper program (a hook, lvcreate): argv only, never a shell; its
 * own process group, so a timeout kills everything it started. */
#ifndef P2V_SPAWN_H
#define P2V_SPAWN_H

/* argv[0] is the program's path.  env: extra "NAME=value" entries (NULL
 * terminated, or NULL).  timeout_ms 0: no limit.  Output goes to stderr.
 * Returns the exit status (0..255), -ETIMEDOUT after killing it at the
 * timeout, -ECHILD if it died of a signal, or -errno if it did not run. */
int p2v_spawn(char *const argv[], char *const env[], int timeout_ms);

#endif
