/* Unreadable source sectors, handled honestly: a read that hits one fails
 * with EIO (the default) or, with --bad-sectors zero, the bad sectors read
 * as zeros.  Either way every bad LBA is logged once and kept in a list
 * for the job's report.  Sits right on the source. */
#ifndef P2V_BADSECTORS_H
#define P2V_BADSECTORS_H

#include "core/layer.h"
#include "core/ranges.h"

enum p2v_bad_policy { P2V_BAD_FAIL, P2V_BAD_ZERO };

/* name: the source, for messages.  Does not own below (closed with it by
 * p2v_layer_close_stack). */
int p2v_badsectors_open(struct p2v_layer *below, enum p2v_bad_policy policy, const char *name,
                        struct p2v_layer **out);
/* A copy of the bad ranges found so far, in bytes of the source, sorted
 * and merged; free with p2v_ranges_free.  0 or -ENOMEM. */
int p2v_badsectors_get(struct p2v_layer *l, struct p2v_ranges *out);
enum p2v_bad_policy p2v_badsectors_policy(struct p2v_layer *l);
const char *p2v_bad_policy_name(enum p2v_bad_policy p);

#endif
