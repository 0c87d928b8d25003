/* Copying an image out of a view: resumable, verified, atomic.
 *
 * The copy goes to DEST/.NAME.p2v-partial in 64 MiB chunks; after each
 * chunk is synced, a line with its SHA-256 (or "zero" for a hole) is
 * appended to DEST/.NAME.p2v-journal.  Run again, the copy checks each
 * chunk the journal lists against the journal and against the view's
 * bytes, copies again (where it lies) each that differs, and goes on after
 * the last.  The journal is bound to the image's size and a digest of its
 * first and last bytes; another image starts over.  What is left to write
 * must fit in the destination's free space.  Only a complete, synced (and,
 * unless told not to, verified) copy is renamed to DEST/NAME. */
#ifndef P2V_COPY_H
#define P2V_COPY_H

#include <stdint.h>

struct p2v_copy_opts {
    int sparse;      /* leave holes (default: allocate them) */
    int verify;      /* re-read both sides at the end */
    int quiet;       /* no progress */
};

struct p2v_copy_result {
    uint64_t size;          /* the image's bytes */
    uint64_t resumed_at;    /* bytes found already copied and checked */
    uint64_t recopied;      /* of those, bytes that differed from the view and were copied again */
    uint64_t data_bytes;    /* bytes read from data extents (not holes) this run */
    uint8_t sha256[32];     /* of the whole image */
    int already;            /* DEST/NAME was there already, complete */
    int signal;             /* SIGINT or SIGTERM when one stopped the copy, else 0 */
};

/* Copies src (a file) to dest_dir/name.  0, or -errno with a message that
 * says what to do; -EINTR when SIGINT/SIGTERM stopped it (resumable; which
 * one is in res->signal). */
int p2v_copy_image(const char *src, const char *dest_dir, const char *name,
                   const struct p2v_copy_opts *o, struct p2v_copy_result *res);

#endif
