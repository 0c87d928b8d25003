#include "gpt_build.h"

#include "core/bytes.h"

#include <errno.h>
#include <string.h>
#include <uuid/uuid.h>
#include <zlib.h>

#define ENTRY_SIZE 128
#define ARRAY_SECTORS (P2V_GPT_ENTRIES * ENTRY_SIZE / 512)


/* GPT keeps the first three GUID fields little-endian. */
static void put_guid(uint8_t *p, const uint8_t u[16])
{
    static const int order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
    for (int i = 0; i < 16; i++)
        p[i] = u[order[i]];
}

static void header(uint8_t *h, const struct p2v_gpt_disk *g, uint64_t my, uint64_t alt,
                   uint64_t entries, uint32_t entries_crc)
{
    memset(h, 0, 512);
    memcpy(h, "EFI PART", 8);
    put_le32(h + 8, 0x00010000);        /* revision 1.0 */
    put_le32(h + 12, 92);               /* header size */
    put_le64(h + 24, my);
    put_le64(h + 32, alt);
    put_le64(h + 40, 2 + ARRAY_SECTORS);                   /* first usable */
    put_le64(h + 48, g->disk_sectors - 2 - ARRAY_SECTORS); /* last usable */
    put_guid(h + 56, g->disk_guid);
    put_le64(h + 72, entries);
    put_le32(h + 80, P2V_GPT_ENTRIES);
    put_le32(h + 84, ENTRY_SIZE);
    put_le32(h + 88, entries_crc);
    put_le32(h + 16, (uint32_t)crc32(0, h, 92));
}

int p2v_gpt_build(const struct p2v_gpt_disk *g, uint8_t head[P2V_GPT_HEAD_BYTES],
                  uint8_t tail[P2V_GPT_TAIL_BYTES])
{
    uuid_t type;
    uint64_t first_usable = 2 + ARRAY_SECTORS;
    if (g->disk_sectors < 2 * first_usable || g->first_lba < first_usable ||
        g->last_lba < g->first_lba || g->last_lba > g->disk_sectors - 2 - ARRAY_SECTORS ||
        uuid_parse(g->type_guid, type) != 0)
        return -EINVAL;
    memset(head, 0, P2V_GPT_HEAD_BYTES);

    /* Protective MBR: one 0xEE entry over the whole disk (capped at what
     * 32 bits hold), not active, as the UEFI specification wants. */
    memcpy(head, p2v_gpt_code, sizeof p2v_gpt_code);
    uint8_t *e = head + 446;
    e[1] = 0x00; e[2] = 0x02; e[3] = 0x00;   /* CHS 0/0/2 */
    e[4] = 0xEE;
    e[5] = 0xFF; e[6] = 0xFF; e[7] = 0xFF;
    put_le32(e + 8, 1);
    put_le32(e + 12, g->disk_sectors - 1 > UINT32_MAX ? UINT32_MAX : (uint32_t)(g->disk_sectors - 1));
    head[510] = 0x55;
    head[511] = 0xAA;

    uint8_t *array = head + 2 * 512, *p = array;
    put_guid(p, type);
    put_guid(p + 16, g->part_guid);
    put_le64(p + 32, g->first_lba);
    put_le64(p + 40, g->last_lba);
    put_le64(p + 48, 1ull << 2);        /* legacy BIOS bootable */
    for (size_t i = 0; g->name && g->name[i] && i < 36; i++) {
        uint8_t c = (uint8_t)g->name[i];
        put_le16(p + 56 + 2 * i, c < 0x80 ? c : '_');  /* ASCII in, UTF-16LE out */
    }
    uint32_t crc = (uint32_t)crc32(0, array, ARRAY_SECTORS * 512);

    uint64_t last = g->disk_sectors - 1;
    header(head + 512, g, 1, last, 2, crc);
    memcpy(tail, array, ARRAY_SECTORS * 512);
    header(tail + ARRAY_SECTORS * 512, g, last, 1, last - ARRAY_SECTORS, crc);
    return 0;
}
