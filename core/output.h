/* Where a command's document goes: stdout, or a file written under a
 * temporary name, synced and renamed, so a reader never sees half of it. */
#ifndef P2V_OUTPUT_H
#define P2V_OUTPUT_H

#include <stdio.h>
#include <sys/types.h>

/* Calls write(f, ctx) on stdout (path NULL or "-") or on path, created with
 * mode.  0, or -1 with a message naming the file. */
int p2v_write_output(const char *path, mode_t mode, void (*write)(FILE *f, const void *ctx),
                     const void *ctx);

#endif
