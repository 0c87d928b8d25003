/* What the VHD and VHDX encoders share: an image file is a map of pieces
 * (core/regions.h) of three sorts: zeros (padding, an empty log), data
 * (the disk below at a file offset; a last block may reach past the
 * disk's end) and the encoder's own metadata (footer, headers, tables,
 * bitmaps).  One walker reads and one reports extents for both. */
#ifndef P2V_PAYLOAD_H
#define P2V_PAYLOAD_H

#include "core/layer.h"
#include "core/regions.h"

#include <stddef.h>

/* Piece kinds: each encoder numbers its metadata kinds from PIECE_META. */
enum { P2V_PIECE_ZERO, P2V_PIECE_DATA, P2V_PIECE_META };

/* Fills out with n bytes of metadata piece p, from rel bytes into it. */
typedef void (*p2v_piece_fill_fn)(void *enc, const struct p2v_region *p, uint64_t rel,
                                  uint8_t *out, size_t n);

/* Reads [off, off+len) of the image file whose pieces find gives: zero
 * pieces read as zeros, data pieces (arg: the disk offset of the piece's
 * first byte) from below, metadata through fill. */
int p2v_pieces_read(struct p2v_layer *below, void *enc, p2v_region_find_fn find,
                    p2v_piece_fill_fn fill, uint8_t *buf, size_t len, uint64_t off);
/* Their extents: zero pieces are holes, data pieces have the disk's
 * extents (holes past its end), metadata is data. */
int p2v_pieces_extents(struct p2v_layer *below, void *enc, p2v_region_find_fn find,
                       uint64_t off, uint64_t len, p2v_extent_fn fn, void *ctx);

#endif
