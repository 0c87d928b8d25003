/* The fix-up record: what DIR/fixups.json lists, the changes every apply
 * on one state directory made, relative to the source, however many
 * applies it took.
 *
 * Each "what" (a registry value, a guest path, a boot-sector field) is
 * listed once, in the order it was first seen: its old value is the
 * oldest recorded (the source's), its new value the latest, "changed" says
 * whether they differ, and line and action are those of the latest apply
 * that touched it.  "applies" lists every apply: its plan, when it ran and
 * how many entries it changed.
 *
 * The overlay is the truth, the record its description.  A record that
 * cannot be read is not a reason to refuse an apply: a new one starts,
 * whose old values are the overlay's as that apply found it; so does a
 * record that does not describe the overlay (an apply interrupted between
 * its commit and its report, writes through a writable mount), which is
 * continued.  Either way "record_restarted": true says from then on that
 * some old values are not the source's, with a warning when it happens. */
#ifndef P2V_RECORD_H
#define P2V_RECORD_H

#include "apply.h"
#include "core/layer.h"

#include <stddef.h>

struct p2v_record_entry {
    int line;
    char *action, *what, *old, *new_;
    int changed;
};

struct p2v_record_apply {
    char *plan;
    char *time;          /* RFC 3339, UTC */
    int changes;         /* entries this apply changed */
};

struct p2v_record {
    struct p2v_record_entry *e;
    size_t n, cap;
    struct p2v_record_apply *a;
    size_t na, acap;
    int restarted;       /* some old values are the overlay's, not the source's */
    size_t *slot, nslot; /* what -> entry index + 1 (0: empty), open addressing */
};

/* The record in path (DIR/fixups.json) before an apply on overlay (as it
 * is before the apply): 0 with *rec holding it, or empty when there is
 * none; a record that cannot be read or does not describe overlay gives a
 * warning naming path and the reason, and sets rec->restarted.  -ENOMEM
 * only (with a message). */
int p2v_record_load(const char *path, struct p2v_layer *overlay, struct p2v_record *rec);

/* Merges one apply's changes (plan, time: RFC 3339) into rec.  0 or
 * -ENOMEM. */
int p2v_record_add(struct p2v_record *rec, const struct p2v_changes *c, const char *plan,
                   const char *time);

struct p2v_json;
/* The members "changes", "applies" and, when set, "record_restarted" of
 * the object j is writing. */
void p2v_record_json(struct p2v_json *j, const struct p2v_record *rec);

void p2v_record_free(struct p2v_record *rec);

/* Says why the overlay in dir does not fit the source it is opened on
 * (p2v_overlay_open's -ESTALE with P2V_OVERLAY_QUIET_BASE): when
 * DIR/fixups.json names this very source (source: its canonical path) and
 * the source's modification time (mtime) is later than the record's, that
 * it was modified after the fix-ups were applied and how to go on; else
 * that the state was made for another source or other layout options.
 * mtime NULL: a block device, whose node times say nothing of its data.
 * One error message. */
void p2v_record_explain_base(const char *dir, const char *source, const struct timespec *mtime);

#endif
