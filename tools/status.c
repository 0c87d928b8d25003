#define _GNU_SOURCE
#include "status.h"

#include "stack.h"
#include "core/json.h"
#include "snapshot/guard.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

void status_consistency_json(struct p2v_json *j, struct p2v_stack *st)
{
    const struct p2v_srcview *v = &st->sv;
    int snap = v->snap.used != P2V_SNAP_NONE;
    p2v_json_object(j, "snapshot");
    p2v_json_str(j, "provider", p2v_snap_provider_name(v->snap.used));
    p2v_json_str_or_null(j, "id", snap ? v->snap.rec.id : NULL);
    p2v_json_str_or_null(j, "path", snap ? v->snap.rec.path : NULL);
    p2v_json_bool(j, "kept", snap && v->snap.rec.keep);
    p2v_json_end(j);
    p2v_json_bool(j, "live", v->live);
    p2v_json_array(j, "held_by");
    for (int i = 0; i < v->nheld; i++)
        p2v_json_str(j, NULL, v->held_by[i]);
    p2v_json_end(j);
    char why[512];
    int changed = p2v_guard_state(v->top, why, sizeof why) > 0;
    p2v_json_object(j, "consistency");
    p2v_json_str(j, "state", changed ? "changed" : "unchanged");
    p2v_json_str_or_null(j, "reason", changed ? why : NULL);
    p2v_json_end(j);
}

void status_bad_sectors_json(struct p2v_json *j, struct p2v_stack *st)
{
    struct p2v_ranges r;
    int ok = p2v_badsectors_get(st->sv.bad, &r) == 0;
    p2v_json_object(j, "bad_sectors");
    p2v_json_str(j, "policy", p2v_bad_policy_name(p2v_badsectors_policy(st->sv.bad)));
    p2v_json_uint(j, "sectors", ok ? p2v_ranges_total(&r) / 512 : 0);
    p2v_json_array(j, "ranges");
    for (size_t i = 0; ok && i < r.n; i++) {
        p2v_json_object(j, NULL);
        p2v_json_uint(j, "lba", r.r[i].start / 512);
        p2v_json_uint(j, "count", (r.r[i].end - r.r[i].start) / 512);
        p2v_json_end(j);
    }
    p2v_json_end(j);
    p2v_json_end(j);
    if (ok)
        p2v_ranges_free(&r);
}

void status_text(FILE *f, struct p2v_stack *st)
{
    const struct p2v_srcview *v = &st->sv;
    if (v->snap.used != P2V_SNAP_NONE)
        fprintf(f, "consistency:       %s snapshot %s (%s)%s\n",
                p2v_snap_provider_name(v->snap.used), v->snap.rec.id, v->snap.rec.path,
                v->snap.rec.keep ? ", kept" : "");
    else if (v->live)
        fprintf(f, "consistency:       live: in use read-write, guarded (reads fail once it "
                "changes)\n");
    else
        fprintf(f, "consistency:       offline: not in use read-write, guarded\n");
    for (int i = 0; i < v->nheld; i++)
        fprintf(f, "  held:            %s\n", v->held_by[i]);
    char why[512];
    if (p2v_guard_state(v->top, why, sizeof why))
        fprintf(f, "  CHANGED:         %s\n", why);
}

int status_render(void *stack, char **text, size_t *len)
{
    struct p2v_stack *st = stack;
    FILE *f = open_memstream(text, len);
    if (!f)
        return -ENOMEM;
    struct p2v_json j;
    p2v_json_init(&j, f);
    p2v_json_object(&j, NULL);
    p2v_json_str(&j, "source", st->src.path);
    p2v_json_str(&j, "read_from", st->sv.read_from);
    p2v_json_str(&j, "format", p2v_format_name(st->sv.format));
    status_consistency_json(&j, st);
    status_bad_sectors_json(&j, st);
    p2v_json_finish(&j);
    return fclose(f) == 0 ? 0 : -ENOMEM;
}
