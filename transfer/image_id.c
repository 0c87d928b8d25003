#include "image_id.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <unistd.h>

static int read_all(int fd, uint8_t *p, size_t len, uint64_t off)
{
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;  /* short: the file is shorter than its size */
        p += n, off += (uint64_t)n, len -= (size_t)n;
    }
    return 0;
}

int p2v_image_id(int fd, uint64_t size, uint8_t *buf, char out[65])
{
    struct sha256_ctx h;
    uint8_t d[32];
    sha256_init(&h);
    sha256_update(&h, sizeof size, (const uint8_t *)&size);
    size_t head = size < P2V_IMAGE_ID_HEAD ? (size_t)size : P2V_IMAGE_ID_HEAD;
    size_t tail = size < P2V_IMAGE_ID_TAIL ? (size_t)size : P2V_IMAGE_ID_TAIL;
    int r = read_all(fd, buf, head, 0);
    if (r == 0) {
        sha256_update(&h, head, buf);
        r = read_all(fd, buf, tail, size - tail);
    }
    if (r < 0)
        return r;
    sha256_update(&h, tail, buf);
    sha256_digest(&h, sizeof d, d);
    for (size_t i = 0; i < sizeof d; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
    return 0;
}
