#define _GNU_SOURCE
#include "copy.h"
#include "image_id.h"
#include "room.h"

#include "core/progress.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (64ull << 20)
#define IOBUF (4u << 20)

static volatile sig_atomic_t stopped;
static void on_stop(int sig)
{
    stopped = sig;
}

struct copy {
    const char *src, *dest;
    char final[PATH_MAX], partial[PATH_MAX], journal[PATH_MAX];
    int sfd, dfd, jfd;
    uint64_t size;
    uint64_t total;         /* what the progress counts to: the size, or the part checked */
    char id[65];
    uint8_t *buf, *buf2;
    struct sha256_ctx whole;
    struct p2v_progress prog;
    const struct p2v_copy_opts *o;
    struct p2v_copy_result *res;
};

static const uint8_t zeros[IOBUF];

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

/* Whole reads and writes; a short read of a file of known size is an
 * error. Ctrl-C (stopped) ends them. */
static int io_at(int fd, uint8_t *p, size_t len, uint64_t off, int write)
{
    while (len) {
        ssize_t n = write ? pwrite(fd, p, len, (off_t)off) : pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR && !stopped)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n, off += (uint64_t)n, len -= (size_t)n;
    }
    return 0;
}

static int read_at(int fd, uint8_t *p, size_t len, uint64_t off)
{
    return io_at(fd, p, len, off, 0);
}

static int write_at(int fd, const uint8_t *p, size_t len, uint64_t off)
{
    return io_at(fd, (uint8_t *)p, len, off, 1);
}

/* The first byte of [off, off + len) that cannot be read (EIO), or
 * UINT64_MAX if none fails again: the read that failed covered many
 * sectors, and the user wants to know which one. With O_DIRECT, so that
 * the page cache does not widen a sector to its page. */
static uint64_t first_unreadable(const char *path, int fd, uint64_t off, size_t len)
{
    static const size_t steps[] = { 65536, 4096, 512 };
    int dfd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
    void *buf = NULL;
    if (posix_memalign(&buf, 4096, steps[0]) != 0)
        return UINT64_MAX;
    if (dfd >= 0)
        fd = dfd;
    uint64_t found = UINT64_MAX;
    for (int i = 0; i < 3; i++) {
        uint64_t end = off + len, at = off;
        int r = 0;
        for (; at < end; at += steps[i]) {
            size_t n = end - at < steps[i] ? (size_t)(end - at) : steps[i];
            if ((r = read_at(fd, buf, n, at)) < 0) {
                off = at, len = n;
                break;
            }
        }
        if (r != -EIO)
            break;  /* it reads now, or another error (Ctrl-C): keep what we have */
        found = off;
    }
    free(buf);
    if (dfd >= 0)
        close(dfd);
    return found;
}

static int src_error(struct copy *c, int r, uint64_t off, size_t len)
{
    if (r == -EINTR && stopped)
        return r;
    if (r == -EIO && len) {
        uint64_t bad = stopped ? UINT64_MAX : first_unreadable(c->src, c->sfd, off, len);
        char where[96];
        if (bad == UINT64_MAX)
            snprintf(where, sizeof where, "in bytes %llu-%llu", (unsigned long long)off,
                     (unsigned long long)(off + len - 1));
        else
            snprintf(where, sizeof where, "at byte %llu (512-byte sector %llu of the image)",
                     (unsigned long long)bad, (unsigned long long)(bad / 512));
        p2v_err("reading %s failed %s: %s; the source has unreadable sectors (status.json "
                "in the view lists them): mount it with --bad-sectors zero to copy them as "
                "zeros, and run the same p2v commit: it resumes", c->src, where, strerror(-r));
        return r;
    }
    p2v_err("reading %s at byte %llu failed: %s; if its view was unmounted, mount it again with "
            "the same options and run the same p2v commit: it resumes", c->src,
            (unsigned long long)off, strerror(-r));
    return r;
}

#define DONE_UNKNOWN UINT64_MAX

static int dest_error(struct copy *c, int r, uint64_t done)
{
    if (r == -EINTR && stopped)
        return r;
    char kept[96] = "the part copied so far is kept";
    if (done != DONE_UNKNOWN)
        snprintf(kept, sizeof kept, "the %llu bytes copied and synced so far are kept",
                 (unsigned long long)done);
    p2v_err("writing %s failed: %s%s; %s: %s, then run the same p2v commit to resume",
            c->partial, strerror(-r), r == -ENOSPC ? " (the destination is full)" : "", kept,
            r == -ENOSPC ? "free space there" : "make the destination writable");
    return r;
}

/* Reads dest [off, off+len) and hashes it into both contexts; *zero says
 * whether it was all zeros. */
static int hash_dest(struct copy *c, int fd, uint64_t off, uint64_t len, struct sha256_ctx *chunk,
                     int *zero)
{
    *zero = 1;
    for (uint64_t pos = off; pos < off + len;) {
        size_t n = off + len - pos < IOBUF ? (size_t)(off + len - pos) : IOBUF;
        int r = read_at(fd, c->buf, n, pos);
        if (r < 0)
            return r;
        if (*zero && memcmp(c->buf, zeros, n) != 0)
            *zero = 0;
        sha256_update(chunk, n, c->buf);
        sha256_update(&c->whole, n, c->buf);
        pos += n;
    }
    return 0;
}

/* Copies one chunk, skipping the source's holes; *digest gets its hash,
 * or "zero" when it is all hole. */
static int copy_chunk(struct copy *c, uint64_t off, uint64_t len, char digest[65])
{
    struct sha256_ctx h;
    sha256_init(&h);
    uint64_t end = off + len, pos = off;
    int data = 0;
    while (pos < end) {
        if (stopped)
            return -EINTR;
        off_t d = lseek(c->sfd, (off_t)pos, SEEK_DATA);
        if (d < 0)
            d = errno == ENXIO ? (off_t)end : (off_t)pos;  /* no lseek: all data */
        if ((uint64_t)d > end)
            d = (off_t)end;
        if ((uint64_t)d > pos) {  /* a hole: zeros, allocated unless --sparse */
            uint64_t hl = (uint64_t)d - pos;
            for (uint64_t z = 0; z < hl; z += IOBUF) {
                size_t n = hl - z < IOBUF ? (size_t)(hl - z) : IOBUF;
                sha256_update(&h, n, zeros);
                sha256_update(&c->whole, n, zeros);
            }
            if (!c->o->sparse && fallocate(c->dfd, 0, (off_t)pos, (off_t)hl) < 0) {
                if (errno != EOPNOTSUPP)
                    return dest_error(c, -errno, off);
                for (uint64_t z = 0; z < hl; z += IOBUF) {  /* no fallocate: write them */
                    size_t n = hl - z < IOBUF ? (size_t)(hl - z) : IOBUF;
                    int r = write_at(c->dfd, zeros, n, pos + z);
                    if (r < 0)
                        return dest_error(c, r, off);
                }
            }
            pos = (uint64_t)d;
            continue;
        }
        off_t hole = lseek(c->sfd, (off_t)pos, SEEK_HOLE);
        if (hole < 0 || (uint64_t)hole > end)
            hole = (off_t)end;
        while (pos < (uint64_t)hole) {
            size_t n = (uint64_t)hole - pos < IOBUF ? (size_t)((uint64_t)hole - pos) : IOBUF;
            int r = read_at(c->sfd, c->buf, n, pos);
            if (r < 0)
                return src_error(c, r, pos, n);
            if ((r = write_at(c->dfd, c->buf, n, pos)) < 0)
                return dest_error(c, r, off);
            sha256_update(&h, n, c->buf);
            sha256_update(&c->whole, n, c->buf);
            c->res->data_bytes += n;
            pos += n;
            data = 1;
            p2v_progress_update(&c->prog, pos, c->total);
            if (stopped)
                return -EINTR;
        }
    }
    if (!data) {
        strcpy(digest, "zero");
        return 0;
    }
    uint8_t d[32];
    sha256_digest(&h, sizeof d, d);
    hex(d, sizeof d, digest);
    return 0;
}

/* The piece of the view at pos to read in one go (at most IOBUF, up to
 * end): a hole (*hole set, it reads as zeros) or data. */
static uint64_t next_piece(struct copy *c, uint64_t pos, uint64_t end, int *hole)
{
    off_t d = lseek(c->sfd, (off_t)pos, SEEK_DATA);
    if (d < 0)
        d = errno == ENXIO ? (off_t)end : (off_t)pos;  /* no lseek: all data */
    off_t h = (uint64_t)d > pos ? d : lseek(c->sfd, (off_t)pos, SEEK_HOLE);
    if (h < 0 || (uint64_t)h > end)
        h = (off_t)end;
    *hole = (uint64_t)d > pos;
    uint64_t stop = (uint64_t)(*hole ? d : h);
    if (stop > end)
        stop = end;
    return stop > pos + IOBUF ? pos + IOBUF : stop;
}

/* Reads the view's piece [pos, pos+n) into c->buf (zeros for a hole) and
 * says whether dest's bytes (c->buf2) differ; *first and *last get the
 * first and last byte that differs. 1: differs, 0: same, <0: error. */
static int compare_piece(struct copy *c, uint64_t pos, size_t n, int hole, uint64_t *first,
                         uint64_t *last)
{
    int r = hole ? 0 : read_at(c->sfd, c->buf, n, pos);
    if (r < 0)
        return src_error(c, r, pos, n);
    const uint8_t *v = hole ? zeros : c->buf;
    if (memcmp(v, c->buf2, n) == 0)
        return 0;
    size_t i = 0, j = n - 1;
    while (v[i] == c->buf2[i])
        i++;
    while (v[j] == c->buf2[j])
        j--;
    *first = pos + i, *last = pos + j;
    return 1;
}

/* Re-reads both sides, past the page cache where it can, and compares.
 * how: what the user does about a difference. */
static int verify(struct copy *c, int dfd, const char *what, const char *how)
{
    posix_fadvise(dfd, 0, 0, POSIX_FADV_DONTNEED);
    struct p2v_progress prog = c->prog;
    prog.verb = "verifying", prog.start = 0, prog.shown = 0, prog.last_tenth = -1;
    for (uint64_t pos = 0; pos < c->size;) {
        if (stopped)
            return -EINTR;
        int hole;
        uint64_t end = next_piece(c, pos, c->size, &hole), first, last;
        size_t n = (size_t)(end - pos);
        int r = read_at(dfd, c->buf2, n, pos);
        if (r < 0) {
            p2v_err("verifying: reading %s at byte %llu failed: %s", what,
                    (unsigned long long)pos, strerror(-r));
            return r;
        }
        if ((r = compare_piece(c, pos, n, hole, &first, &last)) < 0)
            return r;
        if (r) {
            p2v_err("verifying: %s differs from %s in bytes %llu-%llu (%llu bytes at offset "
                    "%llu, in chunk %llu); %s", what, c->src, (unsigned long long)first,
                    (unsigned long long)last, (unsigned long long)(last - first + 1),
                    (unsigned long long)first, (unsigned long long)(first / CHUNK), how);
            return -EIO;
        }
        pos = end;
        p2v_progress_update(&prog, pos, c->size);
    }
    p2v_progress_done(&prog);
    return 0;
}

/* One journaled chunk before it is trusted: the partial's bytes against
 * the journal (damage where they are stored) and against the view (a
 * source that changed between two mounts under the same identity).  Its
 * bytes go into the whole-image hash.  1: good (got: its journal line's
 * digest), 0: to copy again, <0: error. */
static int check_chunk(struct copy *c, uint64_t off, uint64_t len, const char *want, char got[65])
{
    struct sha256_ctx h;
    sha256_init(&h);
    int zero = 1, differs = 0;
    uint64_t first = 0, last = 0;
    for (uint64_t pos = off, end = off + len; pos < end;) {
        if (stopped)
            return -EINTR;
        int hole;
        uint64_t stop = next_piece(c, pos, end, &hole), f, l;
        size_t n = (size_t)(stop - pos);
        int r = read_at(c->dfd, c->buf2, n, pos);
        if (r < 0) {
            p2v_err("checking %s: reading byte %llu failed: %s; delete it and its journal %s "
                    "to start over", c->partial, (unsigned long long)pos, strerror(-r),
                    c->journal);
            return r;
        }
        if ((r = compare_piece(c, pos, n, hole, &f, &l)) < 0)
            return r;
        if (r && !differs)
            first = f;
        if (r)
            differs = 1, last = l;
        if (zero && memcmp(c->buf2, zeros, n) != 0)
            zero = 0;
        sha256_update(&h, n, c->buf2);
        sha256_update(&c->whole, n, c->buf2);
        pos = stop;
        p2v_progress_update(&c->prog, pos, c->total);
    }
    uint8_t d[32];
    sha256_digest(&h, sizeof d, d);
    hex(d, sizeof d, got);
    int journal_ok = !strcmp(want, zero ? "zero" : got) || (zero && !strcmp(want, got));
    if (zero && journal_ok)
        strcpy(got, want);
    if (!journal_ok)
        p2v_warn("%s: bytes %llu-%llu differ from what was copied there; copying them again",
                 c->partial, (unsigned long long)off, (unsigned long long)(off + len - 1));
    else if (differs)
        p2v_warn("%s: bytes %llu-%llu (%llu bytes) of the view are not what was copied from "
                 "it (the source changed between two mounts); copying chunk %llu (bytes "
                 "%llu-%llu) again", c->src, (unsigned long long)first, (unsigned long long)last,
                 (unsigned long long)(last - first + 1), (unsigned long long)(off / CHUNK),
                 (unsigned long long)off, (unsigned long long)(off + len - 1));
    return journal_ok && !differs;
}

/* Appends chunk idx's line to the journal, after its bytes are on disk. */
static int journal_chunk(struct copy *c, uint64_t off, const char *digest)
{
    char line[96];
    if (fdatasync(c->dfd) < 0)
        return dest_error(c, -errno, off);
    int n = snprintf(line, sizeof line, "%llu %s\n", (unsigned long long)(off / CHUNK), digest);
    if (write(c->jfd, line, (size_t)n) != n || fdatasync(c->jfd) < 0)
        return dest_error(c, errno ? -errno : -EIO, off);
    return 0;
}

/* A chunk copied again where it lies: what the view shows as holes must
 * read as zeros again, so the old bytes go first. */
static int recopy_chunk(struct copy *c, uint64_t off, uint64_t len)
{
    char digest[65];
    if (fallocate(c->dfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0) {
        if (errno != EOPNOTSUPP)
            return dest_error(c, -errno, off);
        for (uint64_t z = 0; z < len; z += IOBUF) {  /* no hole punching: zeros */
            size_t n = len - z < IOBUF ? (size_t)(len - z) : IOBUF;
            int r = write_at(c->dfd, zeros, n, off + z);
            if (r < 0)
                return dest_error(c, r, off);
        }
    }
    int r = copy_chunk(c, off, len, digest);
    if (r == 0)
        r = journal_chunk(c, off, digest);
    if (r == 0)
        c->res->recopied += len;
    return r;
}

/* The journal's chunk lines: their digests and where each line starts,
 * up to the first that does not fit (out of order, past the image or the
 * partial's end).  Returns how many, or -ESTALE for another image. */
static int64_t read_journal(struct copy *c, char (*want)[65], long *at, long *end)
{
    FILE *f = fdopen(dup(c->jfd), "r");
    if (!f)
        return -errno;
    char line[256], hdr[160];
    uint64_t nchunks = (c->size + CHUNK - 1) / CHUNK;
    struct stat st;
    int64_t n = 0;
    rewind(f);
    *end = 0;
    if (fstat(c->dfd, &st) < 0) {
        int e = -errno;
        fclose(f);
        return e;
    }
    if (!fgets(line, sizeof line, f) || !strchr(line, '\n')) {
        int e = ferror(f) ? -EIO : 0;  /* no header yet: a fresh start */
        fclose(f);
        return e;
    }
    *end = ftell(f);
    snprintf(hdr, sizeof hdr, "p2v-commit 1 size=%llu chunk=%llu id=%s\n",
             (unsigned long long)c->size, CHUNK, c->id);
    if (strcmp(line, hdr) != 0) {
        fclose(f);
        return -ESTALE;
    }
    while ((uint64_t)n < nchunks && fgets(line, sizeof line, f) && strchr(line, '\n')) {
        unsigned long long idx;
        uint64_t off = (uint64_t)n * CHUNK, len = c->size - off < CHUNK ? c->size - off : CHUNK;
        if (sscanf(line, "%llu %64s", &idx, want[n]) != 2 || idx != (uint64_t)n ||
            (uint64_t)st.st_size < off + len)
            break;
        at[n++] = *end;
        *end = ftell(f);
    }
    fclose(f);
    return n;
}

static int journal_error(struct copy *c, int r)
{
    p2v_err("cutting the journal %s short failed: %s; make the destination writable, then "
            "run the same p2v commit", c->journal, strerror(-r));
    return r;
}

/* Checks the chunks the journal lists before trusting them, and copies
 * again where they lie those that differ from the view: the journal is
 * rewritten from the first of them on, line by line after each chunk, so
 * a stop half-way keeps a journal that holds.  Returns how many chunks
 * are good now (the journal lists just them). */
static int64_t resume_check(struct copy *c)
{
    uint64_t nchunks = (c->size + CHUNK - 1) / CHUNK;
    char (*want)[65] = malloc((nchunks ? nchunks : 1) * sizeof *want);
    long *at = malloc((nchunks ? nchunks : 1) * sizeof *at), end;
    int64_t n = want && at ? read_journal(c, want, at, &end) : -ENOMEM, i;
    if (n < 0 && n != -ESTALE)
        p2v_err("reading the journal %s failed: %s; delete it and %s to start over",
                c->journal, strerror((int)-n), c->partial);
    int rewriting = 0, r = 0;
    c->total = n > 0 && (uint64_t)n * CHUNK < c->size ? (uint64_t)n * CHUNK : c->size;
    /* What was copied is compared as the storage holds it. */
    posix_fadvise(c->dfd, 0, 0, POSIX_FADV_DONTNEED);
    for (i = 0; i < n && r >= 0; i++) {
        uint64_t off = (uint64_t)i * CHUNK, len = c->size - off < CHUNK ? c->size - off : CHUNK;
        struct sha256_ctx save = c->whole;
        char got[65];
        if ((r = check_chunk(c, off, len, want[i], got)) < 0)
            break;
        if (!r && !rewriting && ftruncate(c->jfd, at[i]) < 0) {
            r = journal_error(c, -errno);
            break;
        }
        rewriting |= !r;
        if (!r)
            c->whole = save;  /* the bytes copied again count instead */
        r = !r ? recopy_chunk(c, off, len) : rewriting ? journal_chunk(c, off, got) : 0;
    }
    if (r >= 0 && !rewriting && n >= 0 && ftruncate(c->jfd, end) < 0)
        r = journal_error(c, -errno);  /* lines after the good ones go */
    free(want);
    free(at);
    return r < 0 ? r : n;
}

/* DEST/NAME exists: the same image (then it only needs its hash), or a
 * different file the user must deal with. */
static int check_existing(struct copy *c)
{
    int fd = open(c->final, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    char id[65];
    int r = fstat(fd, &st) < 0 ? -errno : 0;
    if (r == 0 && (uint64_t)st.st_size == c->size)
        r = p2v_image_id(fd, c->size, c->buf, id);
    if (r < 0 || (uint64_t)st.st_size != c->size || strcmp(id, c->id) != 0) {
        close(fd);
        p2v_err("%s exists and is not this image; move it away or commit to another directory",
                c->final);
        return -EEXIST;
    }
    c->res->already = 1;
    unlink(c->journal);  /* left by a run stopped between its rename and its cleanup */
    unlink(c->partial);
    /* Its head and tail match; the rest is compared too, verify or not,
     * since SHA256SUMS will vouch for it. */
    r = verify(c, fd, c->final, "it is not a copy of this view: move it away and run the same "
               "p2v commit again");
    struct sha256_ctx h;
    sha256_init(&h);
    int zero;
    for (uint64_t off = 0; r == 0 && off < c->size; off += CHUNK)
        r = hash_dest(c, fd, off, c->size - off < CHUNK ? c->size - off : CHUNK, &h, &zero);
    close(fd);
    return r;
}

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return r;
}

/* Checks what an earlier run copied, and the room for the rest; *done:
 * where the copy goes on. */
static int start(struct copy *c, uint64_t *done)
{
    c->prog.verb = "checking the part already copied of";
    int64_t good = resume_check(c);
    p2v_progress_done(&c->prog);
    c->prog = (struct p2v_progress){ .what = c->src, .verb = "copying", .min_bytes = 1,
                                     .quiet = c->o->quiet, .last_tenth = -1 };
    c->total = c->size;
    if (good == -ESTALE) {
        p2v_note("%s holds part of another image; starting over", c->partial);
        good = 0;
        sha256_init(&c->whole);
        c->res->recopied = 0;
    }
    if (good < 0)
        return (int)good;
    *done = (uint64_t)good * CHUNK < c->size ? (uint64_t)good * CHUNK : c->size;
    if (ftruncate(c->dfd, (off_t)*done) < 0)
        return dest_error(c, -errno, *done);
    int r = p2v_copy_room(c->sfd, c->src, *done, c->size, c->o->sparse, c->dest);
    if (r < 0) {
        if (good == 0 && (unlink(c->partial) < 0 || unlink(c->journal) < 0))
            p2v_warn("cannot remove the empty %s or %s: %s", c->partial, c->journal,
                     strerror(errno));
        return r;
    }
    if (good == 0) {
        char hdr[160];
        int n = snprintf(hdr, sizeof hdr, "p2v-commit 1 size=%llu chunk=%llu id=%s\n",
                         (unsigned long long)c->size, CHUNK, c->id);
        if (ftruncate(c->jfd, 0) < 0 || write_at(c->jfd, (const uint8_t *)hdr, (size_t)n, 0) < 0 ||
            fdatasync(c->jfd) < 0)
            return dest_error(c, errno ? -errno : -EIO, 0);
    } else if (c->res->recopied) {
        p2v_note("resuming %s at byte %llu of %llu (the part already copied was compared with "
                 "the view: %llu bytes that differed were copied again)", c->final,
                 (unsigned long long)*done, (unsigned long long)c->size,
                 (unsigned long long)c->res->recopied);
    } else {
        p2v_note("resuming %s at byte %llu of %llu (the part already copied checks out)",
                 c->final, (unsigned long long)*done, (unsigned long long)c->size);
    }
    c->res->resumed_at = *done;
    return 0;
}

static int run(struct copy *c)
{
    struct stat st;
    if (fstat(c->sfd, &st) < 0)
        return -errno;
    c->size = c->res->size = (uint64_t)st.st_size;
    int r = p2v_image_id(c->sfd, c->size, c->buf, c->id);
    if (r < 0)
        return src_error(c, r, 0, 0);
    sha256_init(&c->whole);
    if (access(c->final, F_OK) == 0)
        return check_existing(c);
    c->jfd = open(c->journal, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (c->jfd < 0)
        return dest_error(c, -errno, DONE_UNKNOWN);
    if (flock(c->jfd, LOCK_EX | LOCK_NB) < 0) {
        p2v_err("another p2v commit is writing %s; wait for it, or stop it", c->partial);
        return -EBUSY;
    }
    c->dfd = open(c->partial, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (c->dfd < 0)
        return dest_error(c, -errno, DONE_UNKNOWN);
    uint64_t done;
    if ((r = start(c, &done)) < 0)
        return r;
    for (uint64_t off = done; off < c->size; off += CHUNK) {
        uint64_t len = c->size - off < CHUNK ? c->size - off : CHUNK;
        char digest[65];
        /* The chunk is on disk before the journal says so. */
        if ((r = copy_chunk(c, off, len, digest)) < 0 || (r = journal_chunk(c, off, digest)) < 0)
            return r;
        p2v_progress_update(&c->prog, off + len, c->size);
    }
    p2v_progress_done(&c->prog);
    if (ftruncate(c->dfd, (off_t)c->size) < 0 || fsync(c->dfd) < 0)
        return dest_error(c, -errno, c->size);
    if (c->o->verify &&
        (r = verify(c, c->dfd, c->partial,
                    "the view changed during the copy, or the destination's storage returned "
                    "other bytes than were written: run the same p2v commit again: it compares "
                    "every chunk already copied with the view and copies again those that "
                    "differ (if the same bytes differ again, check the destination's "
                    "storage)")) < 0)
        return r;
    if (rename(c->partial, c->final) < 0)
        return dest_error(c, -errno, c->size);
    unlink(c->journal);
    return sync_dir(c->dest);
}

int p2v_copy_image(const char *src, const char *dest_dir, const char *name,
                   const struct p2v_copy_opts *o, struct p2v_copy_result *res)
{
    struct copy c = { .src = src, .dest = dest_dir, .sfd = -1, .dfd = -1, .jfd = -1, .o = o,
                      .res = res };
    memset(res, 0, sizeof *res);
    c.prog = (struct p2v_progress){ .what = src, .min_bytes = 1, .quiet = o->quiet,
                                    .last_tenth = -1 };
    if (snprintf(c.final, sizeof c.final, "%s/%s", dest_dir, name) >= (int)sizeof c.final ||
        snprintf(c.partial, sizeof c.partial, "%s/.%s.p2v-partial", dest_dir, name) >= (int)sizeof c.partial ||
        snprintf(c.journal, sizeof c.journal, "%s/.%s.p2v-journal", dest_dir, name) >= (int)sizeof c.journal) {
        p2v_err("destination path %s is too long", dest_dir);
        return -ENAMETOOLONG;
    }
    c.sfd = open(src, O_RDONLY | O_CLOEXEC);
    if (c.sfd < 0) {
        int e = errno;
        p2v_err("cannot open %s: %s", src, strerror(e));
        return -e;
    }
    c.buf = malloc(IOBUF);
    c.buf2 = malloc(IOBUF);
    struct sigaction sa = { .sa_handler = on_stop }, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    stopped = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    int r = c.buf && c.buf2 ? run(&c) : -ENOMEM;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (r == -EINTR || stopped) {
        p2v_err("interrupted; the part copied so far is kept in %s: run the same p2v commit "
                "to resume", c.partial);
        r = -EINTR;
        res->signal = stopped ? (int)stopped : SIGINT;
    }
    if (r == 0)
        sha256_digest(&c.whole, sizeof res->sha256, res->sha256);
    free(c.buf);
    free(c.buf2);
    close(c.sfd);
    if (c.dfd >= 0)
        close(c.dfd);
    if (c.jfd >= 0)
        close(c.jfd);
    return r;
}
