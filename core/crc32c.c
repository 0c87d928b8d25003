#include "crc32c.h"

#include <pthread.h>

static uint32_t table[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void make_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[i] = c;
    }
}

/* Only headers and tables are checksummed, a few KiB each: a byte-wise
 * table is fast enough. */
uint32_t p2v_crc32c_update(uint32_t c, const void *buf, size_t len)
{
    pthread_once(&once, make_table);
    const uint8_t *p = buf;
    while (len--)
        c = table[(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c;
}

uint32_t p2v_crc32c(const void *buf, size_t len)
{
    return p2v_crc32c_update(0xFFFFFFFFu, buf, len) ^ 0xFFFFFFFFu;
}
