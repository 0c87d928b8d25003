/* English plural endings for counts in messages: "1 sector", "2 sectors". */
#ifndef P2V_PLURAL_H
#define P2V_PLURAL_H

#include <stdint.h>

/* "" for one, else "s". */
static inline const char *p2v_s(uint64_t n)
{
    return n == 1 ? "" : "s";
}

#endif
