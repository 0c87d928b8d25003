#include "ranges.h"

#include <errno.h>
#include <stdlib.h>

int p2v_ranges_add(struct p2v_ranges *s, uint64_t start, uint64_t len)
{
    if (len == 0)
        return 0;
    /* Runs arrive in order from a bitmap walk: extend the last one. */
    if (s->n && s->r[s->n - 1].end == start) {
        s->r[s->n - 1].end = start + len;
        return 0;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct p2v_range *r = realloc(s->r, cap * sizeof *r);
        if (!r)
            return -ENOMEM;
        s->r = r;
        s->cap = cap;
    }
    if (s->n && start < s->r[s->n - 1].start)
        s->sorted = 0;
    else if (s->n == 0)
        s->sorted = 1;
    s->r[s->n++] = (struct p2v_range){ start, start + len };
    return 0;
}

static int by_start(const void *a, const void *b)
{
    const struct p2v_range *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

void p2v_ranges_finish(struct p2v_ranges *s)
{
    if (s->n == 0)
        return;
    if (!s->sorted)
        qsort(s->r, s->n, sizeof *s->r, by_start);
    size_t o = 0;
    for (size_t i = 1; i < s->n; i++) {
        if (s->r[i].start <= s->r[o].end) {
            if (s->r[i].end > s->r[o].end)
                s->r[o].end = s->r[i].end;
        } else {
            s->r[++o] = s->r[i];
        }
    }
    s->n = o + 1;
    s->sorted = 1;
}

size_t p2v_ranges_find(const struct p2v_ranges *s, uint64_t off)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->r[mid].end <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

uint64_t p2v_ranges_total(const struct p2v_ranges *s)
{
    uint64_t t = 0;
    for (size_t i = 0; i < s->n; i++)
        t += s->r[i].end - s->r[i].start;
    return t;
}

void p2v_ranges_free(struct p2v_ranges *s)
{
    free(s->r);
    *s = (struct p2v_ranges){ 0 };
}
