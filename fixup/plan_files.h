/* A plan's local files, opened as the plan's owner would (plan_files.c). */
#ifndef P2V_PLAN_FILES_H
#define P2V_PLAN_FILES_H

#include "plan.h"

/* Opens path (a file action a of plan names) for reading as the plan
 * file's owner: 0 and *fd, or -errno with a message naming the plan's line
 * (-EACCES: the owner cannot read it; -EINVAL: not a regular file, or one
 * of the kernel's (/proc, /sys, /dev); -ENOENT: missing). */
int p2v_plan_open_local(const struct p2v_plan *plan, const struct p2v_action *a,
                        const char *path, int *fd);

#endif
