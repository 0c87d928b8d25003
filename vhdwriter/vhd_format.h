/* VHD on-disk structures (Virtual Hard Disk Image Format Specification,
 * 2006): the 512-byte footer and the 1024-byte dynamic disk header. */
#ifndef P2V_VHD_FORMAT_H
#define P2V_VHD_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define VHD_FOOTER_SIZE 512u
#define VHD_DYNHDR_SIZE 1024u
#define VHD_BLOCK_SIZE (2u * 1024 * 1024)
#define VHD_TABLE_OFFSET 1536u
#define VHD_TYPE_FIXED 2u
#define VHD_TYPE_DYNAMIC 3u
/* 0xFF000000 sectors: BAT entries are 32-bit sector numbers, so the whole
 * file, metadata included, must stay below 2 TiB. */
#define VHD_MAX_SIZE (2040ull * 1024 * 1024 * 1024)
#define VHD_MIN_SIZE (3ull * 1024 * 1024)  /* Windows' minimum */
/* Seconds from the Unix epoch to the VHD epoch, 2000-01-01 00:00:00 UTC. */
#define VHD_EPOCH 946684800ll

struct vhd_chs { uint16_t cylinders; uint8_t heads, sectors; };

/* One's complement of the byte sum, as the footer and header use. */
uint32_t vhd_checksum(const uint8_t *buf, size_t len);
/* The specification's geometry algorithm for a disk of total_sectors. */
struct vhd_chs vhd_chs(uint64_t total_sectors);
/* Unix seconds to a VHD timestamp, clamped to the field's range. */
uint32_t vhd_timestamp(int64_t unix_seconds);

struct vhd_footer_params {
    uint64_t size;         /* virtual size in bytes, a multiple of 512 */
    uint32_t disk_type;    /* VHD_TYPE_FIXED or VHD_TYPE_DYNAMIC */
    uint32_t timestamp;    /* VHD epoch seconds */
    uint8_t unique_id[16];
};

void vhd_build_footer(uint8_t out[VHD_FOOTER_SIZE], const struct vhd_footer_params *p);
void vhd_build_dynamic_header(uint8_t out[VHD_DYNHDR_SIZE], uint32_t max_table_entries);

#endif
