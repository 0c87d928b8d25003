/* FAT12/16/32 volumes (an EFI System Partition), read through a layer:
 * enough to find and read the boot loaders a firmware would start.  Names
 * are the long (VFAT) names where the volume has them, else the 8.3 names;
 * they match case-insensitively, as the firmware matches them.  Read-only:
 * p2v writes an ESP only through libguestfs (fixup/apply_linux.c). */
#ifndef P2V_FAT_H
#define P2V_FAT_H

#include "core/layer.h"

#include <stddef.h>
#include <stdint.h>

struct p2v_fat;

/* Opens the FAT volume at [start, start+size) of l.  0, or -EINVAL with a
 * message naming the volume (name) and what is wrong with its boot sector. */
int p2v_fat_open(struct p2v_layer *l, uint64_t start, uint64_t size, const char *name,
                 struct p2v_fat **out);
void p2v_fat_close(struct p2v_fat *f);

/* 1 if path ('/' or '\' separated) exists (*is_dir and *size set when not
 * NULL), 0 if not, -EIO when a directory on the way is damaged. */
int p2v_fat_stat(struct p2v_fat *f, const char *path, int *is_dir, uint64_t *size);
/* Calls fn for each entry of directory dir ("." and ".." left out), in
 * the order the directory holds them; fn returning non-zero stops the walk
 * and is returned.  -ENOENT if dir is missing or not a directory. */
typedef int (*p2v_fat_entry_fn)(void *ctx, const char *name, int is_dir, uint64_t size);
int p2v_fat_list(struct p2v_fat *f, const char *dir, p2v_fat_entry_fn fn, void *ctx);
/* A file's contents, at most max bytes (-EFBIG beyond); *data malloc'd.
 * -ENOENT, -EISDIR, -EIO (a cluster chain that ends early, loops or leaves
 * the volume). */
int p2v_fat_read(struct p2v_fat *f, const char *path, size_t max, uint8_t **data, size_t *len);

/* The removable-media fallback loader's path for an architecture
 * ("x86_64", "amd64", "aarch64", "i386"): /EFI/BOOT/BOOTX64.EFI ... */
const char *p2v_efi_fallback_name(const char *arch);

#endif
