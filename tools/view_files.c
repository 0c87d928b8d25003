#include "view_files.h"

#include "status.h"
#include "core/json_read.h"
#include "core/log.h"
#include "core/memfile.h"
#include "core/slice.h"
#include "fixup/overlay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Does the report describe this overlay?  An apply killed between its
 * commit and its report leaves the previous report behind.  1 or 0, with
 * a warning saying why not. */
static int report_matches(const char *path, const char *buf, size_t len,
                          struct p2v_layer *overlay)
{
    struct p2v_jdoc doc;
    struct p2v_jerror err;
    int r = p2v_jread(buf, len, NULL, &doc, &err);
    if (r < 0) {
        p2v_warn("%s cannot be read (%s); not shown. Apply the plan again to write it anew",
                 path, err.msg);
        return 0;
    }
    char hex[33];
    p2v_overlay_digest_hex(overlay, hex);
    const char *digest = p2v_jget_str(doc.root, "overlay_digest");
    int same = digest && !strcmp(digest, hex);
    p2v_jread_free(&doc);
    if (!same)
        p2v_warn("%s does not describe the overlay beside it (an apply was interrupted after "
                 "saving its changes); not shown. Apply the plan again to rewrite it", path);
    return same;
}

/* The report the last `p2v fixup apply` left in the state directory. */
static int report_file(const char *state, struct p2v_layer *overlay, struct p2v_layer **out)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/fixups.json", state);
    FILE *f = fopen(path, "rbe");
    if (!f)
        return errno == ENOENT ? 0 : -errno;
    char *buf = NULL;
    size_t cap = 0, len = 0;
    int r = 0;
    for (;;) {
        if (len == cap) {
            char *nb = realloc(buf, cap = cap ? cap * 2 : 65536);
            if (!nb) {
                r = -ENOMEM;
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                r = -EIO;
            break;
        }
    }
    fclose(f);
    if (r == 0 && overlay && !report_matches(path, buf, len, overlay)) {
        free(buf);
        return 0;
    }
    if (r == 0)
        r = p2v_memfile_open(buf, len, out) == 0 ? 1 : -ENOMEM;
    free(buf);
    if (r < 0)
        p2v_err("%s: cannot read the fix-up report: %s", path, strerror(-r));
    return r;
}

int mount_files(struct p2v_stack *st, const struct p2v_stack_opts *o, struct p2v_view_file *files)
{
    int n = 0;
    /* A dynamic VHD's block layout depends on what is allocated, which
     * writes change: the image appears once the view is mounted read-only. */
    if (!o->writable)
        files[n++] = (struct p2v_view_file){ .name = st->format->file,
                                             .layer = st->image };
    files[n++] = (struct p2v_view_file){ .name = "disk.raw", .layer = st->disk,
                                          .writable = o->writable };
    struct p2v_volume parts[P2V_MAX_PARTITIONS];
    int np = p2v_layout_volumes(st->table, &st->wrap, st->src.size, parts, P2V_MAX_PARTITIONS);
    for (int i = 0; i < np; i++) {
        char *name = malloc(32);
        struct p2v_layer *l = NULL;
        int r = name ? p2v_slice_open(st->disk, parts[i].start, parts[i].size, &l) : -ENOMEM;
        if (r < 0) {
            free(name);
            p2v_err("partition %d: cannot show it: %s", parts[i].number, strerror(-r));
            mount_files_close(files, n);
            return r;
        }
        snprintf(name, 32, "partitions/%d.raw", parts[i].number);
        files[n++] = (struct p2v_view_file){ .name = name, .layer = l, .writable = o->writable };
    }
    if (o->state) {
        struct p2v_layer *rep = NULL;
        int r = report_file(o->state, st->overlay, &rep);
        if (r < 0) {
            mount_files_close(files, n);
            return r;
        }
        if (rep)
            files[n++] = (struct p2v_view_file){ .name = "fixups.json", .layer = rep };
    }
    files[n++] = (struct p2v_view_file){ .name = "status.json", .render = status_render,
                                         .render_ctx = st };
    return n;
}

void mount_files_close(struct p2v_view_file *files, int n)
{
    for (int i = 0; i < n; i++) {
        if (!strncmp(files[i].name, "partitions/", 11)) {
            p2v_layer_close(files[i].layer);
            free((char *)files[i].name);
        } else if (!strcmp(files[i].name, "fixups.json")) {
            p2v_layer_close(files[i].layer);
        }
    }
}
