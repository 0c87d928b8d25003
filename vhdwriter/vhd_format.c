#include "vhd_format.h"

#include "core/bytes.h"

#include <string.h>

uint32_t vhd_checksum(const uint8_t *buf, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += buf[i];
    return ~sum;
}

struct vhd_chs vhd_chs(uint64_t total)
{
    uint64_t spt, heads, cth;
    if (total > 65535ull * 16 * 255)
        total = 65535ull * 16 * 255;
    if (total >= 65535ull * 16 * 63) {
        spt = 255;
        heads = 16;
        cth = total / spt;
    } else {
        spt = 17;
        cth = total / spt;
        heads = (cth + 1023) / 1024;
        if (heads < 4)
            heads = 4;
        if (cth >= heads * 1024 || heads > 16) {
            spt = 31;
            heads = 16;
            cth = total / spt;
        }
        if (cth >= heads * 1024) {
            spt = 63;
            heads = 16;
            cth = total / spt;
        }
    }
    struct vhd_chs g = { (uint16_t)(cth / heads), (uint8_t)heads, (uint8_t)spt };
    return g;
}

uint32_t vhd_timestamp(int64_t unix_seconds)
{
    int64_t t = unix_seconds - VHD_EPOCH;
    if (t < 0)
        return 0;
    if (t > UINT32_MAX)
        return UINT32_MAX;
    return (uint32_t)t;
}

void vhd_build_footer(uint8_t f[VHD_FOOTER_SIZE], const struct vhd_footer_params *p)
{
    memset(f, 0, VHD_FOOTER_SIZE);
    memcpy(f, "conectix", 8);
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
    memcpy(h, "cxsparse", 8);
    put_be64(h + 8, UINT64_MAX);              /* no next structure */
    put_be64(h + 16, VHD_TABLE_OFFSET);
    put_be32(h + 24, 0x00010000);
    put_be32(h + 28, max_table_entries);
    put_be32(h + 32, VHD_BLOCK_SIZE);
    put_be32(h + 36, vhd_checksum(h, VHD_DYNHDR_SIZE));
}
