/* A set of byte ranges, kept sorted, disjoint and merged: O(runs) memory,
 * O(log runs) lookup. */
#ifndef P2V_RANGES_H
#define P2V_RANGES_H

#include <stddef.h>
#include <stdint.h>

struct p2v_range { uint64_t start, end; };  /* [start, end) */

struct p2v_ranges {
    struct p2v_range *r;
    size_t n, cap;
    int sorted;
};

/* Adds [start, start+len); any order.  0 or -ENOMEM. */
int p2v_ranges_add(struct p2v_ranges *s, uint64_t start, uint64_t len);
/* Sorts and merges; call once after the adds, before any lookup. */
void p2v_ranges_finish(struct p2v_ranges *s);
/* Index of the first range that ends after off (s->n if none). */
size_t p2v_ranges_find(const struct p2v_ranges *s, uint64_t off);
uint64_t p2v_ranges_total(const struct p2v_ranges *s);
void p2v_ranges_free(struct p2v_ranges *s);

#endif
