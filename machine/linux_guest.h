/* What the Linux inventory files (inventory_linux*.c) share: the guest's
 * files, read through libext2fs or libguestfs, and the readers that live
 * outside inventory_linux.c. */
#ifndef P2V_LINUX_GUEST_H
#define P2V_LINUX_GUEST_H

#include "machine.h"
#include "guest/linux_guestfs.h"

#include <ext2fs/ext2fs.h>
#include <stddef.h>

/* The guest's files: the root filesystem, and /boot when it is another
 * ext volume (the fast path, libext2fs); or every filesystem the guest
 * mounts, through libguestfs's appliance (XFS, btrfs, LVM). */
struct guest {
    ext2_filsys root, boot;
    struct p2v_lgfs *lg;
};

/* A file (at most max bytes; *d malloc'd, NUL-terminated), a directory's
 * names (p2v_strv_free), whether a directory exists. */
int p2v_lg_read(struct guest *g, const char *path, size_t max, char **d, size_t *len);
int p2v_lg_list(struct guest *g, const char *path, char ***names, size_t *n);
int p2v_lg_exists(struct guest *g, const char *dir);

/* Adds name to a comma-separated list that has room, once. */
void p2v_lg_list_add(char *list, size_t len, const char *name);

/* inventory_linux_net.c: interfaces, their addresses and what pins their
 * names. */
void p2v_lg_read_network(struct guest *g, struct p2v_machine *m);
/* inventory_linux_pkgs.c: other hypervisors' tools; the target's tools
 * whose packages are on the disk. */
void p2v_lg_read_packages(struct guest *g, struct p2v_machine *m);

#endif
