#include "vhdx_format.h"

#include "core/bytes.h"
#include "core/crc32c.h"

#include <stdio.h>
#include <string.h>

#define GUID_BAT "2DC27766-F623-4200-9D64-115E9BFD4A08"
#define GUID_METADATA "8B7CA206-4790-4B9A-B8FE-575F050F886E"
#define GUID_FILE_PARAMS "CAA16737-FA36-4D43-B3B6-33F0AA44E76B"
#define GUID_DISK_SIZE "2FA54224-CD1B-4876-B211-5DBED83BF4B8"
#define GUID_DISK_ID "BECA12AB-B2E6-4523-93EF-C309E000C746"
#define GUID_LOGICAL "8141BF1D-A96F-4709-BA47-F233A8FAAB5F"
#define GUID_PHYSICAL "CDA348C7-445D-4471-9CC9-E9885251C556"

void vhdx_guid(const char *t, uint8_t out[16])
{
    unsigned a, b, c, d[8];
    sscanf(t, "%8x-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x", &a, &b, &c, &d[0], &d[1], &d[2], &d[3],
           &d[4], &d[5], &d[6], &d[7]);
    put_le32(out, a);
    put_le16(out + 4, (uint16_t)b);
    put_le16(out + 6, (uint16_t)c);
    for (int i = 0; i < 8; i++)
        out[8 + i] = (uint8_t)d[i];
}

uint64_t vhdx_chunk_ratio(uint32_t logical_sector, uint32_t block_size)
{
    return ((uint64_t)1 << 23) * logical_sector / block_size;
}

uint64_t vhdx_bat_entries(uint64_t size, uint32_t logical_sector, uint32_t block_size)
{
    uint64_t pb = (size + block_size - 1) / block_size;
    uint64_t cr = vhdx_chunk_ratio(logical_sector, block_size);
    return pb ? pb + (pb - 1) / cr : 0;
}

void vhdx_build_ident(uint8_t out[VHDX_REGION_SIZE])
{
    static const char creator[] = "p2v";  /* no version: the bytes outlive upgrades */
    memset(out, 0, VHDX_REGION_SIZE);
    memcpy(out, VHDX_SIGNATURE, 8);
    for (size_t i = 0; creator[i] && i < 255; i++)
        put_le16(out + 8 + 2 * i, (uint16_t)(unsigned char)creator[i]);
}

void vhdx_build_header(uint8_t out[VHDX_HEADER_SIZE], const struct vhdx_params *p, uint64_t seq)
{
    memset(out, 0, VHDX_HEADER_SIZE);
    memcpy(out, "head", 4);
    put_le64(out + 8, seq);
    memcpy(out + 16, p->file_write_guid, 16);
    memcpy(out + 32, p->data_write_guid, 16);
    /* 48: LogGuid stays zero: there is nothing to replay. */
    put_le16(out + 64, 0);            /* LogVersion */
    put_le16(out + 66, 1);            /* Version */
    put_le32(out + 68, VHDX_LOG_LEN);
    put_le64(out + 72, VHDX_LOG_OFF);
    put_le32(out + 4, p2v_crc32c(out, VHDX_HEADER_SIZE));
}

static void region_entry(uint8_t *e, const char *guid, uint64_t off, uint32_t len)
{
    vhdx_guid(guid, e);
    put_le64(e + 16, off);
    put_le32(e + 24, len);
    put_le32(e + 28, 1);  /* Required: VirtualBox refuses a BAT that is not */
}

void vhdx_build_region_table(uint8_t out[VHDX_REGION_SIZE], const struct vhdx_params *p)
{
    memset(out, 0, VHDX_REGION_SIZE);
    memcpy(out, "regi", 4);
    put_le32(out + 8, 2);
    region_entry(out + 16, GUID_BAT, VHDX_BAT_OFF, (uint32_t)p->bat_len);
    region_entry(out + 48, GUID_METADATA, VHDX_META_OFF, VHDX_META_LEN);
    put_le32(out + 4, p2v_crc32c(out, VHDX_REGION_SIZE));
}

static void meta_entry(uint8_t *e, const char *guid, uint32_t off, uint32_t len, uint32_t flags)
{
    vhdx_guid(guid, e);
    put_le32(e + 16, off);
    put_le32(e + 20, len);
    put_le32(e + 24, flags);
}

void vhdx_build_metadata(uint8_t out[VHDX_META_BYTES], const struct vhdx_params *p)
{
    enum { IS_VIRTUAL_DISK = 2, IS_REQUIRED = 4 };
    memset(out, 0, VHDX_META_BYTES);
    memcpy(out, "metadata", 8);
    put_le16(out + 10, 5);
    /* Items right after the 64 KiB table, in this order. */
    uint32_t at = VHDX_REGION_SIZE;
    meta_entry(out + 32, GUID_FILE_PARAMS, at, 8, IS_REQUIRED);
    meta_entry(out + 64, GUID_DISK_SIZE, at + 8, 8, IS_VIRTUAL_DISK | IS_REQUIRED);
    meta_entry(out + 96, GUID_DISK_ID, at + 16, 16, IS_VIRTUAL_DISK | IS_REQUIRED);
    meta_entry(out + 128, GUID_LOGICAL, at + 32, 4, IS_VIRTUAL_DISK | IS_REQUIRED);
    meta_entry(out + 160, GUID_PHYSICAL, at + 36, 4, IS_VIRTUAL_DISK | IS_REQUIRED);
    uint8_t *item = out + at;
    put_le32(item, p->block_size);
    put_le32(item + 4, p->fixed ? 1u : 0u);  /* LeaveBlockAllocated; never HasParent */
    put_le64(item + 8, p->size);
    memcpy(item + 16, p->disk_id, 16);
    put_le32(item + 32, p->logical_sector);
    put_le32(item + 36, p->physical_sector);
}
