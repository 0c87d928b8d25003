#include "uuid5.h"

#include <string.h>
#include <uuid/uuid.h>

/* p2v's namespace, drawn once at random and fixed forever: changing it
 * would change every image's identifiers. */
static const uuid_t p2v_namespace = {
    0x6f, 0x5d, 0x1b, 0x47, 0x3a, 0x2e, 0x5c, 0x0d,
    0x9b, 0x61, 0x2e, 0x3c, 0x5a, 0x0f, 0x44, 0x71,
};

void p2v_uuid5(uint8_t out[16], const void *name, size_t len)
{
    uuid_t u;
    uuid_generate_sha1(u, p2v_namespace, name, len);
    memcpy(out, u, 16);
}
