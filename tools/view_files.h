/* The files a mount shows for one stack: disk.vhd, disk.raw, one
 * partitions/N.raw per partition, fixups.json from the state directory
 * and status.json (the job's report, made when opened). */
#ifndef P2V_VIEW_FILES_H
#define P2V_VIEW_FILES_H

#include "stack.h"
#include "fs/fuse_view.h"

#define P2V_VIEW_MAX_FILES (4 + P2V_MAX_PARTITIONS)

/* Fills files (P2V_VIEW_MAX_FILES entries); returns how many, or -errno
 * with a message. */
int mount_files(struct p2v_stack *st, const struct p2v_stack_opts *o,
                struct p2v_view_file *files);
void mount_files_close(struct p2v_view_file *files, int n);

#endif
