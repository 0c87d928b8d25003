/* What p2v knows about boot storage drivers: the PCI IDs of the virtual
 * controllers each one drives and its device class, and the built-in list
 * of other vendors' services (guest/vendor-services.txt). */
#ifndef P2V_DRIVERS_H
#define P2V_DRIVERS_H

#include <stdint.h>

#define P2V_CLASS_SCSI_ADAPTER "{4D36E97B-E325-11CE-BFC1-08002BE10318}"
#define P2V_CLASS_HDC          "{4D36E96A-E325-11CE-BFC1-08002BE10318}"

struct p2v_driver_info {
    const char *name;
    const char *pci;    /* comma-separated PCI IDs; "" when it has none of its own */
    const char *cls;
    /* The compatible ID Windows' own driver package (mshdc.inf) matches the
     * controller by (a PCI class code), or "": where the hive maps it, no
     * entries of p2v's own are needed. */
    const char *compat;
};

const struct p2v_driver_info *p2v_driver_lookup(const char *name);
/* "{GUID}" as the 16 bytes Windows stores (first three fields
 * little-endian).  0 or -EINVAL. */
int p2v_driver_class_bytes(const char *guid, uint8_t out[16]);

extern const char p2v_vendor_services[];

#endif
