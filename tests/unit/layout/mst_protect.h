/* Test helper shared by the scrub tests: the update sequence as NTFS
 * writes it.  Each 512-byte stride's last two bytes are saved in the
 * array at the offset the unit's header gives (0x04), and the number is
 * written in their place. */
#ifndef P2V_TEST_MST_PROTECT_H
#define P2V_TEST_MST_PROTECT_H

#include "core/bytes.h"

#include <stdint.h>
#include <string.h>

static inline void protect(uint8_t *r, uint16_t usn)
{
    uint32_t ofs = get_le16(r + 4), count = get_le16(r + 6);
    put_le16(r + ofs, usn);
    for (uint32_t i = 1; i < count; i++) {
        memcpy(r + ofs + 2 * i, r + 512 * i - 2, 2);
        put_le16(r + 512 * i - 2, usn);
    }
}

#endif
