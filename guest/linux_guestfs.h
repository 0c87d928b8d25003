/* A Linux guest opened with libguestfs: its appliance (a small VM) reads
 * and writes the disk p2v serves it over NBD (fs/nbd_export.h), so every
 * write lands in p2v's overlay, never in the source.  The guest's
 * filesystems are found by libguestfs's inspection (ext, XFS, btrfs
 * subvolumes, LVM) and mounted as the guest mounts them; commands run in
 * the guest's root, with the guest's own tools. */
#ifndef P2V_LINUX_GUESTFS_H
#define P2V_LINUX_GUESTFS_H

#include <stddef.h>

struct p2v_lgfs;

/* Launches the appliance on the NBD socket, finds the Linux root and
 * mounts its filesystems (read-only with ro).  -ENOENT when no Linux is
 * found; -EIO when libguestfs fails (its message is printed, with what
 * to do when the appliance cannot start). */
int p2v_lgfs_open(const char *nbd_socket, int ro, struct p2v_lgfs **out);
/* Only launches the appliance on the disk: nothing mounted, no root. */
int p2v_lgfs_launch(const char *nbd_socket, int ro, struct p2v_lgfs **out);
/* Unmounts, syncs and shuts the appliance down.  0 or -EIO. */
int p2v_lgfs_close(struct p2v_lgfs *g);

/* What the inspection found: "debian", "fedora" ...; the root's device
 * ("/dev/sda1", "/dev/vg/root") and its filesystem type. */
const char *p2v_lgfs_distro(const struct p2v_lgfs *g);
const char *p2v_lgfs_root(const struct p2v_lgfs *g);

/* A file's contents (NUL-terminated, malloc'd); -ENOENT if missing. */
int p2v_lgfs_read(struct p2v_lgfs *g, const char *path, char **data, size_t *len);
/* Creates or replaces a file. */
int p2v_lgfs_write(struct p2v_lgfs *g, const char *path, const char *data, size_t len);
int p2v_lgfs_exists(struct p2v_lgfs *g, const char *path);
/* The names in a directory; p2v_strv_free.  -ENOENT if missing. */
int p2v_lgfs_ls(struct p2v_lgfs *g, const char *dir, char ***names, size_t *n);
/* Runs /bin/sh -c cmd in the guest's root; *out gets what it printed
 * (stdout and stderr).  Its exit status (0 ok), or -EIO. */
int p2v_lgfs_sh(struct p2v_lgfs *g, const char *cmd, char **out);
/* The filesystem UUID of a device as the guest names its partitions of
 * this disk ("/dev/sda1" on a disk the appliance sees as /dev/sda).  1
 * found, 0 not. */
int p2v_lgfs_uuid(struct p2v_lgfs *g, const char *appliance_dev, char *out, size_t len);

/* The filesystem type on an appliance device ("vfat", "xfs"); 1 found, 0
 * not (no such device, or nothing libblkid knows on it). */
int p2v_lgfs_fstype(struct p2v_lgfs *g, const char *dev, char *out, size_t len);
/* Unmounts everything and mounts the disk's EFI System Partition (GPT
 * type) at /; its appliance name in dev.  -ENOENT when there is none. */
int p2v_lgfs_mount_esp(struct p2v_lgfs *g, char *dev, size_t len);
/* Copies a file inside the guest, making to's directory. */
int p2v_lgfs_copy(struct p2v_lgfs *g, const char *from, const char *to);
/* A file's SHA-256 in hex; -ENOENT if missing. */
int p2v_lgfs_sha256(struct p2v_lgfs *g, const char *path, char *out, size_t len);

#endif
