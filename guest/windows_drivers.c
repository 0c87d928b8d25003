#include "windows_drivers.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* PCI IDs of the controllers QEMU and Hyper-V show (virt-v2v's for virtio). */
static const struct p2v_driver_info table[] = {
    { "viostor", "VEN_1AF4&DEV_1001&REV_00,VEN_1AF4&DEV_1042&REV_01", P2V_CLASS_SCSI_ADAPTER, "" },
    { "vioscsi", "VEN_1AF4&DEV_1004&REV_00,VEN_1AF4&DEV_1048&REV_01", P2V_CLASS_SCSI_ADAPTER, "" },
    /* PIIX3 (QEMU i440fx, Hyper-V Gen 1) and PIIX4 IDE: mshdc.inf's. */
    { "intelide", "VEN_8086&DEV_7010,VEN_8086&DEV_7111", P2V_CLASS_HDC, "CC_0101" },
    { "pciide", "", P2V_CLASS_HDC, "CC_0101" },
    { "atapi", "", P2V_CLASS_HDC, "" },
    /* ICH9 AHCI (QEMU q35): mshdc.inf's, class HDC (storahci and msahci). */
    { "storahci", "VEN_8086&DEV_2922&CC_0106", P2V_CLASS_HDC, "CC_010601" },
    { "msahci", "VEN_8086&DEV_2922&CC_0106", P2V_CLASS_HDC, "CC_010601" },
    { "vmbus", "", "{4D36E97D-E325-11CE-BFC1-08002BE10318}", "" },
    { "storvsc", "", P2V_CLASS_SCSI_ADAPTER, "" },
};

const struct p2v_driver_info *p2v_driver_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (!strcasecmp(table[i].name, name))
            return &table[i];
    return NULL;
}

int p2v_driver_class_bytes(const char *g, uint8_t out[16])
{
    unsigned a, b, c, d[8];
    if (strlen(g) != 38 ||
        sscanf(g, "{%8x-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x}", &a, &b, &c, &d[0], &d[1], &d[2],
               &d[3], &d[4], &d[5], &d[6], &d[7]) != 11)
        return -EINVAL;
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(a >> (8 * i));
    out[4] = (uint8_t)b;
    out[5] = (uint8_t)(b >> 8);
    out[6] = (uint8_t)c;
    out[7] = (uint8_t)(c >> 8);
    for (int i = 0; i < 8; i++)
        out[8 + i] = (uint8_t)d[i];
    return 0;
}
