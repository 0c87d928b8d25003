#include "stack.h"

#include "progress.h"
#include "../core/log.h"
#include "../core/uuid5.h"
#include "../vhdwriter/allocmap.h"
#include "../vhdwriter/vhd.h"
#include "../vhdwriter/vhd_format.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The identity covers what determines the bytes: where the source is, its
 * size and last modification, and the output options.  An unchanged
 * source mounted again gets the same UniqueId, so copies resume. */
static void derive_identity(struct p2v_stack *s, const struct p2v_stack_opts *o)
{
    char name[4096 + 128];
    int n = snprintf(name, sizeof name, "p2v-vhd-1|%s|%llu|%lld.%09ld|%llu|%s",
                     s->src.path, (unsigned long long)s->src.size,
                     (long long)s->src.mtime.tv_sec, s->src.mtime.tv_nsec,
                     (unsigned long long)s->src.rdev, o->dynamic ? "dynamic" : "fixed");
    p2v_uuid5(s->unique_id, name, n > 0 && (size_t)n < sizeof name ? (size_t)n : sizeof name - 1);
    s->timestamp = vhd_timestamp((int64_t)s->src.mtime.tv_sec);
}

int p2v_stack_open(const char *source, const struct p2v_stack_opts *o, struct p2v_stack *s)
{
    memset(s, 0, sizeof *s);
    struct p2v_layer *src;
    int r = p2v_source_open(source, o->source_flags, &src, &s->src);
    if (r < 0)
        return r;
    if (s->src.logical_sector != P2V_SECTOR) {
        p2v_err("source %s has %u-byte logical sectors; VHD supports only 512-byte "
                "sectors (VHDX output is planned for 4Kn disks)", source, s->src.logical_sector);
        p2v_layer_close_stack(src);
        return -EINVAL;
    }
    r = p2v_vhd_check_size(src->size);
    if (r < 0) {
        p2v_layer_close_stack(src);
        return r;
    }
    /* Only a dynamic image needs to know which blocks are zero; a fixed
     * one keeps the source's own holes and starts at once. */
    struct p2v_progress prog = { .what = s->src.path, .quiet = o->quiet };
    r = p2v_allocmap_open(src, o->dynamic ? P2V_ALLOC_SCAN : P2V_ALLOC_PASSTHROUGH,
                          p2v_progress_update, &prog, &s->disk);
    p2v_progress_done(&prog);
    if (r < 0) {
        p2v_err("scanning source %s failed: %s", source, strerror(-r));
        p2v_layer_close_stack(src);
        return r;
    }
    derive_identity(s, o);
    struct p2v_vhd_params vp = { .dynamic = o->dynamic, .timestamp = s->timestamp };
    memcpy(vp.unique_id, s->unique_id, 16);
    r = p2v_vhd_open(s->disk, &vp, &s->vhd);
    if (r < 0) {
        p2v_layer_close_stack(s->disk);
        return r;
    }
    return 0;
}

void p2v_stack_close(struct p2v_stack *s)
{
    p2v_layer_close_stack(s->vhd);
    s->vhd = s->disk = NULL;
}
