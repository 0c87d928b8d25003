#include "vhd_facts.h"

uint32_t vhd_checksum(const uint8_t *buf, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += buf[i];
    return ~sum;
}

struct vhd_chs vhd_chs(uint64_t total)
{
    uint64_t spt, heads, cth;
    if (total > 65535ull * 16 * 255)
        total = 65535ull * 16 * 255;
    if (total >= 65535ull * 16 * 63) {
        spt = 255;
        heads = 16;
        cth = total / spt;
    } else {
        spt = 17;
        cth = total / spt;
        heads = (cth + 1023) / 1024;
        if (heads < 4)
            heads = 4;
        if (cth >= heads * 1024 || heads > 16) {
            spt = 31;
            heads = 16;
            cth = total / spt;
        }
        if (cth >= heads * 1024) {
            spt = 63;
            heads = 16;
            cth = total / spt;
        }
    }
    struct vhd_chs g = { (uint16_t)(cth / heads), (uint8_t)heads, (uint8_t)spt };
    return g;
}

uint32_t vhd_timestamp(int64_t unix_seconds)
{
    int64_t t = unix_seconds - VHD_EPOCH;
    if (t < 0)
        return 0;
    if (t > UINT32_MAX)
        return UINT32_MAX;
    return (uint32_t)t;
}
