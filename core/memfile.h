/* A layer over bytes in memory (a report shown in the view).  The bytes
 * are copied. */
#ifndef P2V_MEMFILE_H
#define P2V_MEMFILE_H

#include "layer.h"

int p2v_memfile_open(const void *data, size_t len, struct p2v_layer **out);

#endif
