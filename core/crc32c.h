/* CRC-32C (Castagnoli), as VHDX checksums its headers, region tables and
 * metadata: reflected polynomial 0x82F63B78, initial value and final XOR
 * 0xFFFFFFFF ("123456789" gives 0xE3069283). */
#ifndef P2V_CRC32C_H
#define P2V_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t p2v_crc32c(const void *buf, size_t len);

#endif
