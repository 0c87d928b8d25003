/* Carrying out a fix-up plan on the disk, through the COW overlay: every
 * action records what it changes (old -> new) or that it found nothing to
 * change, so a dry run (scratch overlay) and the real run give the same
 * list, and a second run of the same plan changes nothing. */
#ifndef P2V_APPLY_H
#define P2V_APPLY_H

#include "plan.h"

#include <stdio.h>
#include <time.h>

struct p2v_change {
    int line;
    const char *action;   /* the plan's action name */
    char *what;           /* "SYSTEM\ControlSet001\Services\viostor: Start", a path, sectors */
    char *old, *new_;     /* rendered values; "(absent)" */
    int changed;
};

struct p2v_changes {
    struct p2v_change *c;
    int n;
};

struct p2v_apply_in {
    struct p2v_layer *disk;          /* writable: the overlay (real or scratch) */
    /* The source as the disk layout reads it, to report the boot-sector
     * values it had before. */
    struct p2v_layer *base;
    uint64_t base_shift;             /* disk offset of source byte 0 (a wrapped volume) */
    const struct p2v_volume *vols;
    int nvols;
    const char *name;                /* the source, for messages */
    unsigned windows_flags;          /* how its Windows is opened (P2V_WIN_*) */
    /* The time the guest's files and records are stamped with (the
     * snapshot's): the same source and plan then give the same image. */
    struct timespec time;
};

/* Checks the plan's local files and that Windows is there when needed,
 * then carries out each action.  Nothing is committed here: on failure
 * the caller drops the overlay's writes.  0 or -errno with a message. */
int p2v_apply(const struct p2v_apply_in *in, const struct p2v_plan *plan,
              struct p2v_changes *out, struct p2v_windows *w);
void p2v_changes_free(struct p2v_changes *c);

struct p2v_json;
/* The report: the "changes" member of the object j is writing (one change
 * a line), and a human table. */
void p2v_changes_json(struct p2v_json *j, const struct p2v_changes *c);
/* One change as a JSON object (the form fixups.json's record shares). */
void p2v_change_json(struct p2v_json *j, const struct p2v_change *ch);
void p2v_changes_text(FILE *f, const struct p2v_changes *c);

#endif
