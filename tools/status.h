/* The job's report for one stack: where the data comes from (snapshot or
 * live), whether the source changed, and every bad sector found.  Shown as
 * MNT/status.json (made when opened) and by `p2v info`. */
#ifndef P2V_STATUS_H
#define P2V_STATUS_H

#include "core/json.h"

#include <stdio.h>
#include <stddef.h>

struct p2v_stack;

/* Members "snapshot", "live", "held_by", "consistency" of the open object. */
void status_consistency_json(struct p2v_json *j, struct p2v_stack *st);
/* Member "bad_sectors". */
void status_bad_sectors_json(struct p2v_json *j, struct p2v_stack *st);
void status_text(FILE *f, struct p2v_stack *st);
/* The whole report as a JSON object: a p2v_view_file render function. */
int status_render(void *stack, char **text, size_t *len);

#endif
