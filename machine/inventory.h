/* What the two inventories (inventory_local.c: the running machine;
 * inventory_source.c: an offline disk) share. */
#ifndef P2V_INVENTORY_H
#define P2V_INVENTORY_H

#include "machine.h"
#include "layout/partitions.h"


#include <stddef.h>

/* The disk facts of a partition table: type, id, partitions, filesystems. */
void p2v_machine_table(struct p2v_m_disk *d, const struct p2v_partition_table *t);
/* The value of key in an os-release text ("" when absent), unquoted. */
void p2v_os_release_value(const char *text, const char *key, char *out, size_t len);

struct p2v_disk_view;
/* The Linux on an offline disk (inventory_linux.c): -ENOENT if none. */
int p2v_inventory_linux(const struct p2v_disk_view *dv, struct p2v_machine *m);

/* A UEFI disk's ESP: its fallback loader and installed loader (m->efi;
 * machine/efi.c). */
void p2v_inventory_efi(const struct p2v_disk_view *dv, struct p2v_machine *m);

#endif
