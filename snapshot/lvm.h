/* Snapshot provider for LVM logical volumes: `lvcreate --snapshot`, read
 * only, removed with lvremove when released.  Needs device-mapper. */
#ifndef P2V_LVM_H
#define P2V_LVM_H

#include <stddef.h>
#include <sys/types.h>

/* 1 if rdev is an LVM logical volume (its VG and LV names filled). */
int p2v_lvm_is_lv(dev_t rdev, char *vg, size_t vglen, char *lv, size_t lvlen);
/* 1 if device-mapper works and the LVM tools are installed; else 0 with
 * the reason in why. */
int p2v_lvm_available(char *why, size_t len);
/* Creates VG/p2v-snap-ID of VG/LV; size: an lvcreate size ("20%ORIGIN"
 * when NULL).  Fills the device path and "VG/NAME".  0 or -errno. */
int p2v_lvm_create(const char *vg, const char *lv, const char *id, const char *size,
                   char *path, size_t plen, char *name, size_t nlen);
int p2v_lvm_remove(const char *name);

#endif
