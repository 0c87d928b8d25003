/* Facts of the VHD and VHDX formats that p2v's readers (V2V sources, the
 * tests, vm create) and its writers (vhdwriter/) share: signatures,
 * sizes, limits, defaults, and the VHD checksum, geometry and time stamp.
 * Each is defined here once.  Sources: the Virtual Hard Disk Image Format
 * Specification (2006) and MS-VHDX. */
#ifndef P2V_VHD_FACTS_H
#define P2V_VHD_FACTS_H

#include <stddef.h>
#include <stdint.h>

/* ---- VHD ---- */
#define VHD_COOKIE "conectix"          /* the footer's first 8 bytes */
#define VHD_DYNHDR_COOKIE "cxsparse"   /* the dynamic header's */
#define VHD_FOOTER_SIZE 512u
#define VHD_CHECKSUM_OFF 64u           /* the footer's checksum field */
#define VHD_DYNHDR_SIZE 1024u
#define VHD_BLOCK_SIZE (2u * 1024 * 1024)
#define VHD_TABLE_OFFSET 1536u
#define VHD_TYPE_FIXED 2u
#define VHD_TYPE_DYNAMIC 3u
#define VHD_SECTOR 512u                /* VHD has no other sector size */
/* 0xFF000000 sectors: BAT entries are 32-bit sector numbers, so the whole
 * file, metadata included, must stay below 2 TiB. */
#define VHD_MAX_SIZE (2040ull * 1024 * 1024 * 1024)
#define VHD_MAX_TEXT "2040 GiB"
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

/* ---- VHDX ---- */
#define VHDX_SIGNATURE "vhdxfile"      /* the file's first 8 bytes */
#define VHDX_MiB (1024u * 1024)
#define VHDX_HEADER_SIZE 4096u
#define VHDX_HEADER1_OFF (64u * 1024)
#define VHDX_HEADER2_OFF (128u * 1024)
#define VHDX_MAX_SIZE (64ull << 40)
#define VHDX_MAX_TEXT "64 TiB"
#define VHDX_MIN_BLOCK VHDX_MiB
#define VHDX_MAX_BLOCK (256u * VHDX_MiB)
#define VHDX_DEFAULT_BLOCK (32u * VHDX_MiB)

#endif
