/* VHDX on-disk structures (MS-VHDX): the file type identifier, the two
 * headers, the region table, the metadata region and BAT entries.  All
 * little-endian; GUIDs in Microsoft's layout (first three fields LE). */
#ifndef P2V_VHDX_FORMAT_H
#define P2V_VHDX_FORMAT_H

#include "core/vhd_facts.h"

#include <stdint.h>

#define VHDX_REGION_SIZE 65536u
#define VHDX_REGION1_OFF (192u * 1024)
#define VHDX_REGION2_OFF (256u * 1024)
#define VHDX_LOG_OFF VHDX_MiB       /* an empty 1 MiB log: LogGuid is zero */
#define VHDX_LOG_LEN VHDX_MiB
#define VHDX_META_OFF (2u * VHDX_MiB)
#define VHDX_META_LEN VHDX_MiB
#define VHDX_BAT_OFF (3u * VHDX_MiB)

/* BAT entry states. */
#define VHDX_PAYLOAD_NOT_PRESENT 0u
#define VHDX_PAYLOAD_FULLY_PRESENT 6u

struct vhdx_params {
    uint64_t size;             /* virtual disk size */
    uint32_t block_size;       /* 1 MiB .. 256 MiB, a power of two */
    uint32_t logical_sector, physical_sector;
    uint64_t bat_len;          /* BAT region length (a multiple of 1 MiB) */
    int fixed;                 /* LeaveBlockAllocated: every block present, a fixed disk */
    uint8_t file_write_guid[16], data_write_guid[16], disk_id[16];
};

/* Payload blocks per sector-bitmap block: 2^23 * logical sector / block. */
uint64_t vhdx_chunk_ratio(uint32_t logical_sector, uint32_t block_size);
/* BAT entries for a disk: payload blocks plus the interleaved bitmap ones. */
uint64_t vhdx_bat_entries(uint64_t size, uint32_t logical_sector, uint32_t block_size);

/* The first 64 KiB: "vhdxfile" and the creator string. */
void vhdx_build_ident(uint8_t out[VHDX_REGION_SIZE]);
/* A 4 KiB header with the sequence number seq, checksummed. */
void vhdx_build_header(uint8_t out[VHDX_HEADER_SIZE], const struct vhdx_params *p, uint64_t seq);
/* The 64 KiB region table (BAT and metadata), checksummed. */
void vhdx_build_region_table(uint8_t out[VHDX_REGION_SIZE], const struct vhdx_params *p);
/* The metadata region's first 64 KiB + the items (they follow the table):
 * out holds VHDX_REGION_SIZE + 64 bytes. */
#define VHDX_META_BYTES (VHDX_REGION_SIZE + 64u)
void vhdx_build_metadata(uint8_t out[VHDX_META_BYTES], const struct vhdx_params *p);
/* "{8-4-4-4-12}" to Microsoft's byte layout. */
void vhdx_guid(const char *text, uint8_t out[16]);

#endif
