/* What binds a commit's journal (and an image already in the destination)
 * to an image: its size and a digest of its first and last bytes, where
 * VHD and VHDX keep their identifiers and checksums.  A change in the
 * middle is left to the chunk checks of a resumed copy and to the
 * verification. */
#ifndef P2V_IMAGE_ID_H
#define P2V_IMAGE_ID_H

#include <stdint.h>

#define P2V_IMAGE_ID_HEAD (1u << 20)   /* VHDX headers, region tables, the BAT's start */
#define P2V_IMAGE_ID_TAIL (64u << 10)  /* the VHD footer */

/* out: hex SHA-256 of the image of size bytes in fd; buf holds at least
 * P2V_IMAGE_ID_HEAD bytes.  0, or -errno of the read that failed. */
int p2v_image_id(int fd, uint64_t size, uint8_t *buf, char out[65]);

#endif
