/* Whether a destination has room for the rest of a copy, asked before the
 * copy starts so that a full destination is told at once, with numbers,
 * rather than hours later as a failed write. */
#ifndef P2V_ROOM_H
#define P2V_ROOM_H

#include <stdint.h>

/* The bytes still to write for [from, size) of the file sfd (named src):
 * its data, and its holes too unless sparse (they are then left holes).
 * 0 when dest's filesystem has that much free (or cannot tell: a
 * warning); -ENOSPC with a message naming both numbers and what to do. */
int p2v_copy_room(int sfd, const char *src, uint64_t from, uint64_t size, int sparse,
                  const char *dest);

#endif
