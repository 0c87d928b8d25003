#include "bootsector.h"

#include "core/bytes.h"
#include "core/vhd_facts.h"

#include <errno.h>
#include <string.h>


/* BIOS geometry for partition entries and boot sectors: the VHD's own,
 * so everything in the image describes the same disk. */
static void geometry(uint64_t disk_sectors, unsigned *heads, unsigned *spt)
{
    struct vhd_chs g = vhd_chs(disk_sectors);
    *heads = g.heads;
    *spt = g.sectors;
}

static void chs(uint8_t out[3], uint64_t lba, unsigned heads, unsigned spt)
{
    uint64_t c = lba / (heads * spt), h = lba / spt % heads, s = lba % spt + 1;
    if (c > 1023) {  /* not addressable by CHS: the conventional maximum */
        c = 1023;
        h = 254;
        s = 63;
    }
    out[0] = (uint8_t)h;
    out[1] = (uint8_t)(s | (c >> 8) << 6);
    out[2] = (uint8_t)c;
}

void p2v_build_mbr(uint8_t mbr[512], uint32_t signature, uint8_t type, uint64_t start_lba,
                   uint64_t sectors, uint64_t disk_sectors)
{
    unsigned heads, spt;
    geometry(disk_sectors, &heads, &spt);
    memset(mbr, 0, 512);
    memcpy(mbr, p2v_mbr_code, sizeof p2v_mbr_code);
    put_le32(mbr + 440, signature);
    uint8_t *e = mbr + 446;
    e[0] = 0x80;  /* active: the boot code chain-loads it */
    chs(e + 1, start_lba, heads, spt);
    e[4] = type;
    chs(e + 5, start_lba + sectors - 1, heads, spt);
    put_le32(e + 8, (uint32_t)start_lba);
    put_le32(e + 12, (uint32_t)sectors);
    mbr[510] = 0x55;
    mbr[511] = 0xAA;
}

/* Fixes one NTFS boot sector in place; 1 if anything changed. */
static int fix_bpb(uint8_t *b, uint64_t disk_lba, unsigned heads, unsigned spt)
{
    uint8_t before[512];
    memcpy(before, b, 512);
    put_le16(b + 0x18, (uint16_t)spt);
    put_le16(b + 0x1A, (uint16_t)heads);
    put_le32(b + 0x1C, (uint32_t)disk_lba);  /* hidden sectors: where the volume starts */
    return memcmp(before, b, 512) != 0;
}

int p2v_ntfs_boot_patches(struct p2v_layer *l, uint64_t vol_off, uint64_t vol_size,
                          uint64_t disk_lba, uint64_t disk_sectors, struct p2v_patch out[2])
{
    unsigned heads, spt;
    geometry(disk_sectors, &heads, &spt);
    uint8_t b[512];
    int r = p2v_layer_read(l, b, 512, vol_off), n = 0;
    if (r < 0)
        return r;
    if (memcmp(b + 3, "NTFS    ", 8) != 0)
        return -EINVAL;
    /* The backup sits just past the sectors the volume counts (Windows
     * makes that the partition's last sector). */
    uint64_t backup = get_le64(b + 0x28) * 512;
    if (fix_bpb(b, disk_lba, heads, spt)) {
        out[n].off = disk_lba * 512;
        memcpy(out[n++].data, b, 512);
    }
    if (backup + 512 <= vol_size) {
        if ((r = p2v_layer_read(l, b, 512, vol_off + backup)) < 0)
            return r;
        if (memcmp(b + 3, "NTFS    ", 8) == 0 && fix_bpb(b, disk_lba, heads, spt)) {
            out[n].off = disk_lba * 512 + backup;
            memcpy(out[n++].data, b, 512);
        }
    }
    return n;
}
