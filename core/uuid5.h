/* Name-based (UUIDv5, SHA-1) identifiers: the same name always gives the
 * same UUID, which is what keeps image bytes identical across mounts. */
#ifndef P2V_UUID5_H
#define P2V_UUID5_H

#include <stddef.h>
#include <stdint.h>

/* UUIDv5 of name in p2v's own namespace, in RFC 4122 (big-endian) byte order. */
void p2v_uuid5(uint8_t out[16], const void *name, size_t len);

#endif
