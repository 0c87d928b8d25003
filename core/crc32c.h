/* CRC-32C (Castagnoli), as VHDX checksums its headers, region tables and
 * metadata: reflected polynomial 0x82F63B78, initial value and final XOR
 * 0xFFFFFFFF ("123456789" gives 0xE3069283). */
#ifndef P2V_CRC32C_H
#define P2V_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t p2v_crc32c(const void *buf, size_t len);

/* The register alone, carried from crc over buf, without the initial and
 * final inversions: how ext4 chains its metadata checksums (seed, inode
 * number, generation, block).  p2v_crc32c(b, n) is
 * ~p2v_crc32c_update(0xFFFFFFFF, b, n). */
uint32_t p2v_crc32c_update(uint32_t crc, const void *buf, size_t len);

#endif
