#include "vhd_format.h"

#include "core/bytes.h"

#include <string.h>

void vhd_build_footer(uint8_t f[VHD_FOOTER_SIZE], const struct vhd_footer_params *p)
{
    memset(f, 0, VHD_FOOTER_SIZE);
    memcpy(f, VHD_COOKIE, 8);
    put_be32(f + 8, 2);                       /* features: reserved bit set */
    put_be32(f + 12, 0x00010000);             /* format version 1.0 */
    /* Fixed disks have no next structure: all 64 bits set, as Hyper-V
     * writes and libvhdi requires (the spec's 0xFFFFFFFF is a typo). */
    put_be64(f + 16, p->disk_type == VHD_TYPE_FIXED ? UINT64_MAX : 512);
    put_be32(f + 24, p->timestamp);
    /* Creator "win ": QEMU before 10.0 sizes a VHD from its CHS geometry,
     * which rounds down, unless the creator is one it trusts ("win ",
     * "qem2", "d2v ", "CTXS", "tap\0"); then it uses Current size.  "win "
     * is also what Hyper-V writes, so every reader sees the exact size. */
    memcpy(f + 28, "win ", 4);
    put_be32(f + 32, 0x00060001);             /* creator version, as Hyper-V */
    memcpy(f + 36, "Wi2k", 4);                /* creator host OS */
    put_be64(f + 40, p->size);                /* original size: libvhdi uses it */
    put_be64(f + 48, p->size);                /* current size: everyone else */
    struct vhd_chs g = vhd_chs(p->size / 512);
    put_be16(f + 56, g.cylinders);
    f[58] = g.heads;
    f[59] = g.sectors;
    put_be32(f + 60, p->disk_type);
    memcpy(f + 68, p->unique_id, 16);
    put_be32(f + 64, vhd_checksum(f, VHD_FOOTER_SIZE));
}

void vhd_build_dynamic_header(uint8_t h[VHD_DYNHDR_SIZE], uint32_t max_table_entries)
{
    memset(h, 0, VHD_DYNHDR_SIZE);
    memcpy(h, VHD_DYNHDR_COOKIE, 8);
    put_be64(h + 8, UINT64_MAX);              /* no next structure */
    put_be64(h + 16, VHD_TABLE_OFFSET);
    put_be32(h + 24, 0x00010000);
    put_be32(h + 28, max_table_entries);
    put_be32(h + 32, VHD_BLOCK_SIZE);
    put_be32(h + 36, vhd_checksum(h, VHD_DYNHDR_SIZE));
}
