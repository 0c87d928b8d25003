#define _GNU_SOURCE
#include "status.h"

#include "stack.h"
#include "core/json.h"
#include "snapshot/guard.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

static void str_or_null(FILE *f, const char *s)
{
    if (s && *s)
        json_string(f, s);
    else
        fputs("null", f);
}

void status_consistency_json(FILE *f, struct p2v_stack *st)
{
    const struct p2v_srcview *v = &st->sv;
    int snap = v->snap.used != P2V_SNAP_NONE;
    fputs("\"snapshot\": {\"provider\": ", f);
    json_string(f, p2v_snap_provider_name(v->snap.used));
    fputs(", \"id\": ", f);
    str_or_null(f, snap ? v->snap.rec.id : NULL);
    fputs(", \"path\": ", f);
    str_or_null(f, snap ? v->snap.rec.path : NULL);
    fprintf(f, ", \"kept\": %s}, \"live\": %s, \"held_by\": [", snap && v->snap.rec.keep ? "true" : "false",
            v->live ? "true" : "false");
    for (int i = 0; i < v->nheld; i++) {
        fputs(i ? ", " : "", f);
        json_string(f, v->held_by[i]);
    }
    char why[512];
    int changed = p2v_guard_state(v->top, why, sizeof why);
    fprintf(f, "], \"consistency\": {\"state\": \"%s\", \"reason\": ",
            changed ? "changed" : "unchanged");
    str_or_null(f, changed ? why : NULL);
    fputc('}', f);
}

void status_bad_sectors_json(FILE *f, struct p2v_stack *st)
{
    struct p2v_ranges r;
    int ok = p2v_badsectors_get(st->sv.bad, &r) == 0;
    fprintf(f, "\"bad_sectors\": {\"policy\": \"%s\", \"sectors\": %" PRIu64 ", \"ranges\": [",
            p2v_bad_policy_name(p2v_badsectors_policy(st->sv.bad)),
            ok ? p2v_ranges_total(&r) / 512 : 0);
    for (size_t i = 0; ok && i < r.n; i++)
        fprintf(f, "%s{\"lba\": %" PRIu64 ", \"count\": %" PRIu64 "}", i ? ", " : "",
                r.r[i].start / 512, (r.r[i].end - r.r[i].start) / 512);
    fputs("]}", f);
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
    fputs("{\"source\": ", f);
    json_string(f, st->src.path);
    fputs(", \"read_from\": ", f);
    json_string(f, st->sv.read_from);
    fprintf(f, ", \"format\": \"%s\", ", p2v_format_name(st->sv.format));
    status_consistency_json(f, st);
    fputs(", ", f);
    status_bad_sectors_json(f, st);
    fputs("}\n", f);
    return fclose(f) == 0 ? 0 : -ENOMEM;
}
