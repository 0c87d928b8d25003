/* NBD export of a layer (nbd_export.h).  Numbers on the wire are big
 * endian.  Only what qemu's client needs is offered; every other option
 * gets NBD_REP_ERR_UNSUP, which clients accept. */
#define _GNU_SOURCE
#include "fs/nbd_export.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define NBD_MAGIC 0x4e42444d41474943ull      /* "NBDMAGIC" */
#define NBD_IHAVEOPT 0x49484156454f5054ull   /* "IHAVEOPT" */
#define NBD_REP_MAGIC 0x3e889045565a9ull
#define NBD_REQ_MAGIC 0x25609513u
#define NBD_SIMPLE_REPLY 0x67446698u
#define FLAG_FIXED_NEWSTYLE 1u
#define FLAG_NO_ZEROES 2u
#define OPT_EXPORT_NAME 1u
#define OPT_ABORT 2u
#define OPT_INFO 6u
#define OPT_GO 7u
#define REP_ACK 1u
#define REP_INFO 3u
#define REP_ERR_UNSUP 0x80000001u
#define TFLAG_HAS_FLAGS 1u
#define TFLAG_READ_ONLY 2u
#define TFLAG_SEND_FLUSH 4u
#define CMD_READ 0u
#define CMD_WRITE 1u
#define CMD_DISC 2u
#define CMD_FLUSH 3u
#define MAX_REQ (32u << 20)                  /* qemu asks for at most 32 MiB */

struct p2v_nbd {
    struct p2v_layer *l;
    int readonly, lfd, stop[2], cfd;
    char dir[4096], sock[4200];
    pthread_t thr;
    int error;
};

static void put64(uint8_t *p, uint64_t v) { for (int i = 7; i >= 0; i--) p[7 - i] = (uint8_t)(v >> (8 * i)); }
static void put32(uint8_t *p, uint32_t v) { for (int i = 3; i >= 0; i--) p[3 - i] = (uint8_t)(v >> (8 * i)); }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static uint64_t get64(const uint8_t *p) { uint64_t v = 0; for (int i = 0; i < 8; i++) v = v << 8 | p[i]; return v; }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static int full_io(int fd, void *buf, size_t len, int wr)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = wr ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? -ECONNRESET : -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int opt_reply(int fd, uint32_t opt, uint32_t type, const void *data, uint32_t len)
{
    uint8_t h[20];
    put64(h, NBD_REP_MAGIC);
    put32(h + 8, opt);
    put32(h + 12, type);
    put32(h + 16, len);
    int r = full_io(fd, h, sizeof h, 1);
    return r == 0 && len ? full_io(fd, (void *)data, len, 1) : r;
}

static uint16_t tflags(const struct p2v_nbd *n)
{
    return (uint16_t)(TFLAG_HAS_FLAGS | TFLAG_SEND_FLUSH | (n->readonly ? TFLAG_READ_ONLY : 0));
}

/* The handshake: 1 when transmission may start, 0 to close, -errno. */
static int handshake(struct p2v_nbd *n, int fd)
{
    uint8_t b[18];
    put64(b, NBD_MAGIC);
    put64(b + 8, NBD_IHAVEOPT);
    put16(b + 16, FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
    int r = full_io(fd, b, 18, 1);
    uint8_t cf[4];
    if (r == 0)
        r = full_io(fd, cf, 4, 0);
    int no_zeroes = r == 0 && (get32(cf) & FLAG_NO_ZEROES);
    while (r == 0) {
        uint8_t oh[16];
        if ((r = full_io(fd, oh, 16, 0)) < 0)
            break;
        uint32_t opt = get32(oh + 8), len = get32(oh + 12);
        if (get64(oh) != NBD_IHAVEOPT || len > 65536)
            return -EPROTO;
        uint8_t *data = malloc(len ? len : 1);
        if (!data)
            return -ENOMEM;
        r = full_io(fd, data, len, 0);
        free(data);
        if (r < 0)
            break;
        if (opt == OPT_EXPORT_NAME) {
            uint8_t e[10 + 124] = { 0 };
            put64(e, n->l->size);
            put16(e + 8, tflags(n));
            r = full_io(fd, e, no_zeroes ? 10 : sizeof e, 1);
            return r < 0 ? r : 1;
        }
        if (opt == OPT_GO || opt == OPT_INFO) {
            uint8_t info[12];
            put16(info, 0);  /* NBD_INFO_EXPORT */
            put64(info + 2, n->l->size);
            put16(info + 10, tflags(n));
            if ((r = opt_reply(fd, opt, REP_INFO, info, sizeof info)) == 0)
                r = opt_reply(fd, opt, REP_ACK, NULL, 0);
            if (r == 0 && opt == OPT_GO)
                return 1;
        } else if (opt == OPT_ABORT) {
            opt_reply(fd, opt, REP_ACK, NULL, 0);
            return 0;
        } else {
            r = opt_reply(fd, opt, REP_ERR_UNSUP, NULL, 0);
        }
    }
    return r;
}

static int reply(int fd, uint32_t err, const uint8_t *handle, const void *data, size_t len)
{
    uint8_t h[16];
    put32(h, NBD_SIMPLE_REPLY);
    put32(h + 4, err);
    memcpy(h + 8, handle, 8);
    int r = full_io(fd, h, sizeof h, 1);
    return r == 0 && len ? full_io(fd, (void *)data, len, 1) : r;
}

static void note_error(struct p2v_nbd *n, int r, const char *what, uint64_t off)
{
    if (!n->error) {
        n->error = r;
        p2v_err("NBD export: %s at byte %llu of the disk failed: %s", what,
                (unsigned long long)off, strerror(-r));
    }
}

static int transmission(struct p2v_nbd *n, int fd)
{
    uint8_t *buf = malloc(MAX_REQ);
    if (!buf)
        return -ENOMEM;
    int r = 0;
    for (;;) {
        uint8_t q[28];
        if ((r = full_io(fd, q, sizeof q, 0)) < 0)
            break;
        uint16_t type = get16(q + 6);
        uint64_t off = get64(q + 16);
        uint32_t len = get32(q + 24);
        if (get32(q) != NBD_REQ_MAGIC) {
            r = -EPROTO;
            break;
        }
        if (type == CMD_DISC)
            break;
        int bad = (type == CMD_READ || type == CMD_WRITE) &&
                  (len > MAX_REQ || off > n->l->size || len > n->l->size - off);
        if (type == CMD_WRITE) {
            if (len > MAX_REQ) {
                r = -EPROTO;  /* cannot even skip it */
                break;
            }
            if ((r = full_io(fd, buf, len, 0)) < 0)
                break;
            uint32_t err = 0;
            if (bad)
                err = EINVAL;
            else if (n->readonly)
                err = EPERM;
            else if ((r = p2v_layer_write(n->l, buf, len, off)) < 0) {
                note_error(n, r, "a write", off);
                err = EIO;
            }
            r = reply(fd, err, q + 8, NULL, 0);
        } else if (type == CMD_READ) {
            uint32_t err = 0;
            if (bad)
                err = EINVAL;
            else if ((r = p2v_layer_read(n->l, buf, len, off)) < 0) {
                note_error(n, r, "a read", off);
                err = EIO;
            }
            r = reply(fd, err, q + 8, buf, err ? 0 : len);
        } else if (type == CMD_FLUSH) {
            r = reply(fd, 0, q + 8, NULL, 0);  /* the caller saves the overlay */
        } else {
            r = reply(fd, EINVAL, q + 8, NULL, 0);
        }
        if (r < 0)
            break;
    }
    free(buf);
    return r;
}

static void *serve(void *p)
{
    struct p2v_nbd *n = p;
    for (;;) {
        struct pollfd fds[2] = { { n->lfd, POLLIN, 0 }, { n->stop[0], POLLIN, 0 } };
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[1].revents)
            break;
        int fd = accept4(n->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        __atomic_store_n(&n->cfd, fd, __ATOMIC_SEQ_CST);
        if (handshake(n, fd) == 1)
            transmission(n, fd);
        __atomic_store_n(&n->cfd, -1, __ATOMIC_SEQ_CST);
        close(fd);
    }
    return NULL;
}

int p2v_nbd_start(struct p2v_layer *l, const char *dir, int readonly, struct p2v_nbd **out)
{
    struct p2v_nbd *n = calloc(1, sizeof *n);
    if (!n)
        return -ENOMEM;
    n->l = l;
    n->readonly = readonly;
    n->lfd = n->stop[0] = n->stop[1] = n->cfd = -1;
    snprintf(n->dir, sizeof n->dir, "%s/p2v-nbd.XXXXXX", dir);
    int r = 0;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (!mkdtemp(n->dir)) {
        r = -errno;
        p2v_err("cannot make a private directory for the NBD socket in %s: %s", dir, strerror(errno));
        free(n);
        return r;
    }
    snprintf(n->sock, sizeof n->sock, "%s/disk.sock", n->dir);
    if (strlen(n->sock) >= sizeof sa.sun_path) {
        p2v_err("the directory %s is too deep for the Unix socket that shows the disk to "
                "libguestfs; set TMPDIR to a shorter directory", dir);
        rmdir(n->dir);
        free(n);
        return -ENAMETOOLONG;
    }
    memcpy(sa.sun_path, n->sock, strlen(n->sock) + 1);
    if ((n->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        bind(n->lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(n->lfd, 1) < 0 ||
        pipe2(n->stop, O_CLOEXEC) < 0)
        r = -errno;
    if (r == 0 && (r = -pthread_create(&n->thr, NULL, serve, n)) == 0) {
        *out = n;
        return 0;
    }
    /* The socket's own name is ours, random and gone at once: the
     * directory it was made in is what the user can act on. */
    p2v_err("cannot serve the disk to libguestfs over a Unix socket in %s (TMPDIR): %s", dir,
            strerror(-r));
    if (n->lfd >= 0)
        close(n->lfd);
    for (int i = 0; i < 2; i++)
        if (n->stop[i] >= 0)
            close(n->stop[i]);
    unlink(n->sock);
    rmdir(n->dir);
    free(n);
    return r;
}

const char *p2v_nbd_socket(const struct p2v_nbd *n) { return n->sock; }

int p2v_nbd_stop(struct p2v_nbd *n)
{
    if (!n)
        return 0;
    ssize_t w = write(n->stop[1], "x", 1);
    (void)w;
    int fd = __atomic_load_n(&n->cfd, __ATOMIC_SEQ_CST);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);  /* a client still connected: end its session */
    pthread_join(n->thr, NULL);
    close(n->lfd);
    close(n->stop[0]);
    close(n->stop[1]);
    unlink(n->sock);
    rmdir(n->dir);
    int r = n->error;
    free(n);
    return r;
}
