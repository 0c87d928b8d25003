/* Who has a source in use read-write: processes with it open for writing,
 * read-write mounts of the device or its partitions, swap on it, kernel
 * holders (device-mapper, md), and loop devices over an image file that
 * are themselves in use.  Offline conversion refuses such a source. */
#ifndef P2V_HOLDERS_H
#define P2V_HOLDERS_H

#define P2V_HOLDERS_MAX 8
#define P2V_HOLDER_LEN 320

/* Fills out with up to P2V_HOLDERS_MAX descriptions ("pid 12 (qemu) has
 * it open for writing", "loop3p1 is mounted read-write at /mnt").
 * Returns how many were found (0: not in use), or -errno. */
int p2v_holders_find(const char *path, char out[][P2V_HOLDER_LEN], int max);

#endif
