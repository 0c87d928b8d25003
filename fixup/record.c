#include "record.h"

#include "overlay.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/json_read.h"
#include "core/log.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- entries, found by their "what" ---- */

static uint64_t hash(const char *s)
{
    uint64_t h = 14695981039346656037ull;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static size_t *find_slot(const struct p2v_record *rec, const char *what)
{
    size_t mask = rec->nslot - 1;
    for (size_t i = (size_t)hash(what) & mask;; i = (i + 1) & mask) {
        size_t *s = &rec->slot[i];
        if (!*s || !strcmp(rec->e[*s - 1].what, what))
            return s;
    }
}

/* Room for one more entry in the index (at most half full). */
static int grow_index(struct p2v_record *rec)
{
    if (rec->nslot && (rec->n + 1) * 2 <= rec->nslot)
        return 0;
    size_t nslot = rec->nslot ? rec->nslot * 2 : 64;
    size_t *slot = calloc(nslot, sizeof *slot);
    if (!slot)
        return -ENOMEM;
    free(rec->slot);
    rec->slot = slot;
    rec->nslot = nslot;
    for (size_t k = 0; k < rec->n; k++)
        *find_slot(rec, rec->e[k].what) = k + 1;
    return 0;
}

/* One change into the record: a new "what" is appended as it is; one
 * already there keeps its old value and takes the new value, line and
 * action, and is changed if old and new differ. */
static int put_entry(struct p2v_record *rec, int line, const char *action, const char *what,
                     const char *old, const char *new_, int changed)
{
    if (grow_index(rec) < 0)
        return -ENOMEM;
    size_t *s = find_slot(rec, what);
    if (*s) {
        struct p2v_record_entry *e = &rec->e[*s - 1];
        char *n = strdup(new_), *a = strdup(action);
        if (!n || !a) {
            free(n);
            free(a);
            return -ENOMEM;
        }
        free(e->new_);
        free(e->action);
        e->new_ = n;
        e->action = a;
        e->line = line;
        e->changed = strcmp(e->old, e->new_) != 0;
        return 0;
    }
    if (rec->n == rec->cap) {
        size_t cap = rec->cap ? rec->cap * 2 : 32;
        struct p2v_record_entry *ne = realloc(rec->e, cap * sizeof *ne);
        if (!ne)
            return -ENOMEM;
        rec->e = ne;
        rec->cap = cap;
    }
    struct p2v_record_entry *e = &rec->e[rec->n];
    *e = (struct p2v_record_entry){ .line = line, .changed = changed, .action = strdup(action),
                                    .what = strdup(what), .old = strdup(old), .new_ = strdup(new_) };
    if (!e->action || !e->what || !e->old || !e->new_) {
        free(e->action);
        free(e->what);
        free(e->old);
        free(e->new_);
        return -ENOMEM;
    }
    *s = ++rec->n;
    return 0;
}

static int put_apply(struct p2v_record *rec, const char *plan, const char *time, int changes)
{
    if (rec->na == rec->acap) {
        size_t cap = rec->acap ? rec->acap * 2 : 8;
        struct p2v_record_apply *na = realloc(rec->a, cap * sizeof *na);
        if (!na)
            return -ENOMEM;
        rec->a = na;
        rec->acap = cap;
    }
    struct p2v_record_apply *a = &rec->a[rec->na];
    a->plan = strdup(plan);
    a->time = strdup(time);
    a->changes = changes;
    if (!a->plan || !a->time) {
        free(a->plan);
        free(a->time);
        return -ENOMEM;
    }
    rec->na++;
    return 0;
}

int p2v_record_add(struct p2v_record *rec, const struct p2v_changes *c, const char *plan,
                   const char *time)
{
    int changed = 0;
    for (int i = 0; i < c->n; i++) {
        const struct p2v_change *ch = &c->c[i];
        int r = put_entry(rec, ch->line, ch->action, ch->what, ch->old, ch->new_, ch->changed);
        if (r < 0)
            return r;
        changed += ch->changed;
    }
    return put_apply(rec, plan, time, changed);
}

void p2v_record_free(struct p2v_record *rec)
{
    for (size_t i = 0; i < rec->n; i++) {
        free(rec->e[i].action);
        free(rec->e[i].what);
        free(rec->e[i].old);
        free(rec->e[i].new_);
    }
    for (size_t i = 0; i < rec->na; i++) {
        free(rec->a[i].plan);
        free(rec->a[i].time);
    }
    free(rec->e);
    free(rec->a);
    free(rec->slot);
    memset(rec, 0, sizeof *rec);
}

void p2v_record_json(struct p2v_json *j, const struct p2v_record *rec)
{
    p2v_json_array_lines(j, "changes");
    for (size_t i = 0; i < rec->n; i++) {
        const struct p2v_record_entry *e = &rec->e[i];
        const struct p2v_change row = { e->line, e->action, e->what, e->old, e->new_, e->changed };
        p2v_change_json(j, &row);
    }
    p2v_json_end(j);
    p2v_json_array_lines(j, "applies");
    for (size_t i = 0; i < rec->na; i++) {
        p2v_json_object(j, NULL);
        p2v_json_str(j, "plan", rec->a[i].plan);
        p2v_json_str(j, "time", rec->a[i].time);
        p2v_json_int(j, "changes", rec->a[i].changes);
        p2v_json_end(j);
    }
    p2v_json_end(j);
    if (rec->restarted)
        p2v_json_bool(j, "record_restarted", 1);
}

/* ---- the previous record ---- */

/* An int member in [0, INT_MAX]: 0 or -1. */
static int get_count(const struct p2v_jvalue *obj, const char *name, int *out)
{
    int64_t v;
    if (p2v_jget_int(obj, name, &v) < 0 || v < 0 || v > INT_MAX)
        return -1;
    *out = (int)v;
    return 0;
}

static int read_changes(struct p2v_record *rec, const struct p2v_jvalue *list, char *why,
                        size_t len)
{
    if (!list || list->type != P2V_JARRAY) {
        snprintf(why, len, "it has no \"changes\" array");
        return -EINVAL;
    }
    for (size_t i = 0; i < p2v_jcount(list); i++) {
        const struct p2v_jvalue *e = p2v_jat(list, i);
        const char *action = p2v_jget_str(e, "action"), *what = p2v_jget_str(e, "what");
        const char *old = p2v_jget_str(e, "old"), *new_ = p2v_jget_str(e, "new");
        int line, changed;
        if (get_count(e, "line", &line) < 0 || !action || !what || !old || !new_ ||
            p2v_jget_bool(e, "changed", &changed) < 0) {
            snprintf(why, len, "changes[%zu] (at byte %zu) is not a change with line, action, "
                     "what, old, new and changed", i, e->off);
            return -EINVAL;
        }
        int r = put_entry(rec, line, action, what, old, new_, changed);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The applies of a record, or for one written before records kept them
 * (*older set), the one apply it describes, dated by the file. */
static int read_applies(struct p2v_record *rec, const struct p2v_jvalue *root,
                        const struct stat *st, int *older, char *why, size_t len)
{
    const struct p2v_jvalue *list = p2v_jget(root, "applies");
    if (!list) {
        const char *plan = p2v_jget_str(root, "plan");
        if (!plan) {
            snprintf(why, len, "it has neither \"applies\" nor \"plan\"");
            return -EINVAL;
        }
        int changed = 0;
        for (size_t i = 0; i < rec->n; i++)
            changed += rec->e[i].changed;
        char when[32];
        p2v_clock_rfc3339(st->st_mtime, when);
        *older = 1;
        return put_apply(rec, plan, when, changed);
    }
    if (list->type != P2V_JARRAY) {
        snprintf(why, len, "its \"applies\" is not an array");
        return -EINVAL;
    }
    for (size_t i = 0; i < p2v_jcount(list); i++) {
        const struct p2v_jvalue *a = p2v_jat(list, i);
        const char *plan = p2v_jget_str(a, "plan"), *time = p2v_jget_str(a, "time");
        int changes;
        if (!plan || !time || get_count(a, "changes", &changes) < 0) {
            snprintf(why, len, "applies[%zu] (at byte %zu) is not an apply with plan, time and "
                     "changes", i, a->off);
            return -EINVAL;
        }
        int r = put_apply(rec, plan, time, changes);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The record in doc: 0, -EINVAL with why, or -ENOMEM.  *digest: the
 * overlay it describes. */
static int read_record(struct p2v_record *rec, const struct p2v_jvalue *root,
                       const struct stat *st, const char **digest, int *older, char *why,
                       size_t len)
{
    if (!root || root->type != P2V_JOBJECT) {
        snprintf(why, len, "it is not a JSON object");
        return -EINVAL;
    }
    *digest = p2v_jget_str(root, "overlay_digest");
    if (!*digest) {
        snprintf(why, len, "it has no \"overlay_digest\"");
        return -EINVAL;
    }
    const struct p2v_jvalue *restarted = p2v_jget(root, "record_restarted");
    int was = 0;
    if (restarted && p2v_jbool(restarted, &was) < 0) {
        snprintf(why, len, "its \"record_restarted\" is not true or false");
        return -EINVAL;
    }
    rec->restarted = was;
    int r = read_changes(rec, p2v_jget(root, "changes"), why, len);
    if (r == 0)
        r = read_applies(rec, root, st, older, why, len);
    return r;
}

static int any_extent(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    (void)ctx, (void)off, (void)len, (void)kind;
    return 1;
}

/* What the overlay tells about a missing record: nothing, if it is empty. */
static void no_record(const char *path, struct p2v_layer *overlay, struct p2v_record *rec)
{
    if (p2v_overlay_changes(overlay, any_extent, NULL) <= 0)
        return;
    p2v_warn("%s is missing, yet the overlay beside it holds changes (an apply was "
             "interrupted before it saved its report, or the view was written through a "
             "writable mount): a new record starts with this apply, and its old values are the "
             "overlay's as this apply finds it, not necessarily the source's "
             "(\"record_restarted\": true in the record)", path);
    rec->restarted = 1;
}

int p2v_record_load(const char *path, struct p2v_layer *overlay, struct p2v_record *rec)
{
    memset(rec, 0, sizeof *rec);
    struct p2v_jdoc doc;
    struct p2v_jerror err;
    struct stat st;
    int r = p2v_jread_file(path, NULL, &doc, &err);
    if (r == -ENOENT) {
        no_record(path, overlay, rec);
        return 0;
    }
    char why[256], here[33];
    const char *digest = NULL;
    int older = 0;
    snprintf(why, sizeof why, "%s", err.msg);
    if (r == 0 && stat(path, &st) < 0) {
        r = -errno;
        snprintf(why, sizeof why, "cannot stat it: %s", strerror(-r));
    }
    if (r == 0)
        r = read_record(rec, doc.root, &st, &digest, &older, why, sizeof why);
    p2v_overlay_digest_hex(overlay, here);
    int stale = r == 0 && strcmp(digest, here) != 0;
    p2v_jread_free(&doc);
    if (r == -ENOMEM) {
        p2v_record_free(rec);
        p2v_err("%s: reading the fix-up record: out of memory", path);
        return r;
    }
    if (r < 0) {
        p2v_record_free(rec);
        rec->restarted = 1;
        p2v_warn("%s: the fix-up record cannot be read (%s): a new record starts with this "
                 "apply, and its old values are the overlay's as this apply finds it, not "
                 "necessarily the source's (\"record_restarted\": true in the record)", path, why);
        return 0;
    }
    if (older)
        p2v_warn("%s was written by a p2v that kept only the last apply's changes: it is "
                 "continued, but its old values may be those of an overlay earlier applies had "
                 "changed (\"record_restarted\": true in the record)", path);
    if (stale)
        p2v_warn("%s does not describe the overlay beside it (an apply was interrupted after "
                 "saving its changes, or the view was written through a writable mount): it is "
                 "continued, but the old values of what changed since are the overlay's, not "
                 "the source's (\"record_restarted\": true in the record)", path);
    rec->restarted |= older | stale;
    return 0;
}

static int later(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec != b->tv_sec ? a->tv_sec > b->tv_sec : a->tv_nsec > b->tv_nsec;
}

void p2v_record_explain_base(const char *dir, const char *source, const struct timespec *mtime)
{
    char path[PATH_MAX];
    struct p2v_jdoc doc;
    struct p2v_jerror err;
    struct stat st;
    const char *was = NULL;
    int n = snprintf(path, sizeof path, "%s/fixups.json", dir);
    int read = n > 0 && (size_t)n < sizeof path && p2v_jread_file(path, NULL, &doc, &err) == 0;
    if (read)
        was = p2v_jget_str(doc.root, "source");
    /* The record is written when an apply ends: a source newer than it was
     * changed afterwards (touch alone does that: its time is in the base). */
    int same = was && !strcmp(was, source), stamped = same && mtime && stat(path, &st) == 0;
    if (stamped && later(mtime, &st.st_mtim)) {
        char then[32], now[32];
        p2v_clock_rfc3339(st.st_mtim.tv_sec, then);
        p2v_clock_rfc3339(mtime->tv_sec, now);
        p2v_err("state directory %s: the source %s was modified after its fix-ups were applied "
                "(at %s; the record of the last apply was written at %s), so the overlay may "
                "not fit it any more and is not used; to go on, start over with p2v fixup "
                "discard --state %s, then apply the plan again (%s lists the applies)",
                dir, source, now, then, dir, path);
    } else if (same) {
        p2v_err("state directory %s was made for %s, but with other layout options (--volumes, "
                "--gpt, --offset...) or before the source changed (%s); use the options of the apply, or start over with p2v fixup discard "
                "--state %s and apply the plan again", dir, source,
                mtime ? "its size or modification time" : "a block device: its contents", dir);
    } else {
        p2v_err("state directory %s: its overlay was made for another source%s%s%s or other "
                "layout options (--volumes, --gpt, --offset...); leave this state alone or start "
                "over with p2v fixup discard --state %s", dir, was ? " (" : "", was ? was : "",
                was ? ")" : "", dir);
    }
    if (read)
        p2v_jread_free(&doc);
}
