/* A layer served over NBD on a Unix socket, for a helper that reads and
 * writes disks only through a block protocol (libguestfs's appliance, qemu).
 * The fixed-newstyle handshake (NBD_OPT_GO, NBD_OPT_EXPORT_NAME), simple
 * replies, READ, WRITE, FLUSH and DISC; one connection at a time, served by
 * a thread of its own.  Writes go to the layer (an overlay: the source is
 * never written).  Protocol: the NBD project's doc/proto.md. */
#ifndef P2V_NBD_EXPORT_H
#define P2V_NBD_EXPORT_H

#include "core/layer.h"

struct p2v_nbd;

/* Listens on a new socket in a private directory (mode 0700) under dir;
 * readonly refuses writes (EPERM).  0 or -errno with a message. */
int p2v_nbd_start(struct p2v_layer *l, const char *dir, int readonly, struct p2v_nbd **out);
/* The socket's path, for "nbd+unix:///?socket=PATH" or qemu's "unix:PATH". */
const char *p2v_nbd_socket(const struct p2v_nbd *n);
/* Stops serving, waits for the thread, removes the socket.  Returns the
 * first layer error a request met (-errno), else 0. */
int p2v_nbd_stop(struct p2v_nbd *n);

#endif
