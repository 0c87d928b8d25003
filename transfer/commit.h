/* p2v commit: the image out of a view (or an image file named directly),
 * with what a hypervisor host needs beside it: machine.xml, the VM
 * definitions that can work with the image, the view's fixups.json and
 * status.json, and a SHA256SUMS manifest of them all.
 *
 * The machine configuration comes from the caller (a --config file, or
 * what the image shows, which needs the stack builder of tools/). */
#ifndef P2V_COMMIT_H
#define P2V_COMMIT_H

#include "copy.h"
#include "machine/machine.h"

#include <limits.h>

#define P2V_COMMIT_MAX_FILES 8

struct p2v_commit_file {
    char name[128];            /* in the destination directory */
    char sha[65];              /* its SHA-256, hex */
};

struct p2v_commit {
    /* Inputs. */
    const char *mnt;           /* the view's mount point, or the image file */
    const char *dest;          /* the destination directory (made if missing) */
    const char *name, *target; /* the VM definitions' name and disk bus (NULL: defaults) */
    struct p2v_copy_opts copy;
    /* Set by p2v_commit_prepare. */
    char image[PATH_MAX];      /* the image file copied */
    char final[PATH_MAX];      /* where it ends up: DEST made absolute, then its name */
    int from_view;             /* mnt is a directory: a view, with reports to keep */
    /* Set by p2v_commit_run. */
    struct p2v_copy_result res;
    struct p2v_commit_file files[P2V_COMMIT_MAX_FILES];  /* files[0]: the image */
    int nfiles;
};

/* Finds the image of c->mnt and makes c->dest.  0, or -1 with a message. */
int p2v_commit_prepare(struct p2v_commit *c);

/* Reads the view's reports, copies the image, then writes the files beside
 * it for the machine m.  0; -EINTR when SIGINT/SIGTERM stopped the copy
 * (run again to resume); else negative, with a message saying what failed
 * unless memory ran out. */
int p2v_commit_run(struct p2v_commit *c, const struct p2v_machine *m);

#endif
