/* VHD on-disk structures (Virtual Hard Disk Image Format Specification,
 * 2006): the 512-byte footer and the 1024-byte dynamic disk header. */
#ifndef P2V_VHD_FORMAT_H
#define P2V_VHD_FORMAT_H

#include "core/vhd_facts.h"

struct vhd_footer_params {
    uint64_t size;         /* virtual size in bytes, a multiple of 512 */
    uint32_t disk_type;    /* VHD_TYPE_FIXED or VHD_TYPE_DYNAMIC */
    uint32_t timestamp;    /* VHD epoch seconds */
    uint8_t unique_id[16];
};

void vhd_build_footer(uint8_t out[VHD_FOOTER_SIZE], const struct vhd_footer_params *p);
void vhd_build_dynamic_header(uint8_t out[VHD_DYNHDR_SIZE], uint32_t max_table_entries);

#endif
