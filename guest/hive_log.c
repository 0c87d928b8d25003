/* Transaction log replay for registry hives (hive_log.h).  Every offset,
 * size and count comes from a disk that may be hostile: each is checked
 * against its buffer before use, in 64-bit arithmetic, and the hive may
 * grow only by as many bytes as the logs carry. */
#include "hive_log.h"

#include "core/bytes.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE P2V_HIVE_BASE_BLOCK
#define LOG_BASE 512u   /* a log starts with the first 512 bytes of the base block */
#define HEAD 40u        /* an HvLE entry's header, before its page references */
#define BIN 4096u       /* hive bins and their data sizes are multiples of this */
#define PAGE_OLD 512u   /* the old format logs 512-byte pages */
#define DIRT_AT 512u    /* old format: "DIRT", then the bitmap */

/* a comes before b, modulo 2^32: sequence numbers wrap. */
static int seq_before(uint32_t a, uint32_t b)
{
    return (uint32_t)(b - a) - 1u < 0x7FFFFFFFu;
}

static uint32_t max32(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}

uint32_t p2v_hive_checksum(const uint8_t *base)
{
    uint32_t c = 0;
    for (unsigned i = 0; i < 508; i += 4)
        c ^= get_le32(base + i);
    /* 0 and ~0 are what blank or erased sectors give: never stored. */
    if (c == 0)
        return 1;
    if (c == 0xFFFFFFFFu)
        return 0xFFFFFFFEu;
    return c;
}

static uint32_t rotl32(uint32_t x, unsigned n)
{
    return x << n | x >> (32 - n);
}

static void marvin_mix(uint32_t *lo, uint32_t *hi, uint32_t w)
{
    *lo += w;
    *hi ^= *lo;
    *lo = rotl32(*lo, 20) + *hi;
    *hi = rotl32(*hi, 9) ^ *lo;
    *lo = rotl32(*lo, 27) + *hi;
    *hi = rotl32(*hi, 19);
}

uint64_t p2v_marvin32(const uint8_t *p, size_t len)
{
    uint32_t lo = 0x7A4E55C5u, hi = 0x82EF4D88u;
    size_t i = 0;
    for (; len - i >= 4; i += 4)
        marvin_mix(&lo, &hi, get_le32(p + i));
    /* The last 0..3 bytes, little-endian, under a 0x80 end marker. */
    uint32_t w = 0x80;
    for (size_t k = len; k > i; k--)
        w = w << 8 | p[k - 1];
    marvin_mix(&lo, &hi, w);
    marvin_mix(&lo, &hi, 0);
    return (uint64_t)hi << 32 | lo;
}

int p2v_hive_is_dirty(const uint8_t *primary, size_t len)
{
    if (!primary || len < BASE || memcmp(primary, "regf", 4) != 0)
        return -EINVAL;
    return p2v_hive_checksum(primary) != get_le32(primary + 508) ||
           get_le32(primary + 4) != get_le32(primary + 8);
}

enum log_kind { LOG_NONE, LOG_NEW, LOG_OLD };

struct log_view {
    const uint8_t *d;
    size_t len;
    const char *name;
    enum log_kind kind;
    uint32_t seq;       /* its base block's sequence number */
    char why[120];      /* why it was not replayed */
};

/* Whether a log has a base block Windows would use, and which format. */
static void classify(struct log_view *l, const struct p2v_hive_log *in, int i)
{
    l->d = in->data;
    l->len = in->data ? in->len : 0;
    /* Messages name the file alone: the hive's folder is known. */
    l->name = in->name ? in->name : i ? "the second log" : "the first log";
    for (const char *c = l->name; *c; c++)
        if (*c == '/' || *c == '\\')
            l->name = c + 1;
    l->kind = LOG_NONE;
    l->why[0] = 0;
    if (l->len == 0) {
        snprintf(l->why, sizeof l->why, "missing or empty");
        return;
    }
    /* Empty logs and logs of a base block alone occur in the wild: absent. */
    if (l->len <= LOG_BASE + HEAD) {
        snprintf(l->why, sizeof l->why, "too short to hold a log entry (%zu bytes)", l->len);
        return;
    }
    const uint8_t *b = l->d;
    uint32_t type = get_le32(b + 28);
    if (memcmp(b, "regf", 4) != 0)
        snprintf(l->why, sizeof l->why, "not a transaction log (no regf signature)");
    else if (p2v_hive_checksum(b) != get_le32(b + 508))
        snprintf(l->why, sizeof l->why, "its base block is damaged (bad checksum)");
    else if (get_le32(b + 4) != get_le32(b + 8))
        snprintf(l->why, sizeof l->why, "its base block was being written (sequence numbers %u/%u)",
                 get_le32(b + 4), get_le32(b + 8));
    else if (type == 6 || type == 1 || type == 2) {
        l->kind = type == 6 ? LOG_NEW : LOG_OLD;
        l->seq = get_le32(b + 4);
    } else
        snprintf(l->why, sizeof l->why, "file type %u is not a transaction log", type);
}

/* How far s lies ahead of r, modulo 2^32 (sequence numbers wrap); 0 if
 * it lies behind. */
static uint32_t ahead(uint32_t r, uint32_t s)
{
    uint32_t d = s - r;
    return d < 0x80000000u ? d : 0;
}

/* The sequence number the written-back hive takes: one above r and above
 * everything a log could ever offer as "subsequent".  A later flush by
 * Windows may rewrite only the start of a log, so every entry with a sound
 * header anywhere in either log counts, stale or not, even in a log whose
 * base block is damaged. */
static uint32_t seq_above(uint32_t r, const uint8_t *primary, int base_ok, const struct log_view *lv, int n)
{
    uint32_t far = 0;
    if (base_ok)
        far = max32(ahead(r, get_le32(primary + 4)), ahead(r, get_le32(primary + 8)));
    for (int i = 0; i < n; i++) {
        const uint8_t *d = lv[i].d;
        size_t len = lv[i].len;
        if (len < LOG_BASE)
            continue;
        if (memcmp(d, "regf", 4) == 0 && p2v_hive_checksum(d) == get_le32(d + 508))
            far = max32(far, max32(ahead(r, get_le32(d + 4)), ahead(r, get_le32(d + 8))));
        /* Entries start 512-aligned: look at every such offset. */
        for (size_t off = LOG_BASE; len >= HEAD && off <= len - HEAD; off += LOG_BASE) {
            const uint8_t *p = d + off;
            if (memcmp(p, "HvLE", 4) == 0 && p2v_marvin32(p, 32) == get_le64(p + 32))
                far = max32(far, ahead(r, get_le32(p + 12)));
        }
    }
    return r + far + 1;
}

/* The base block of a hive whose data is now whole: clean at sequence m. */
static void seal(uint8_t *img, uint32_t m, uint32_t hbins, uint32_t flag0)
{
    put_le32(img + 4, m);
    put_le32(img + 8, m);
    put_le32(img + 28, 0);
    put_le32(img + 40, hbins);
    /* Only bit 0 of Flags travels through the logs (spec). */
    put_le32(img + 144, (get_le32(img + 144) & ~1u) | (flag0 & 1));
    put_le32(img + 508, p2v_hive_checksum(img));
}

/* ---- New format (Windows 8.1 and later): HvLE entries ---- */

struct entry {
    uint32_t size, flags, seq, hbins, n;
    uint64_t bytes;     /* of its pages */
};

/* The page references: inside the hive bins, and their pages inside the
 * entry.  NULL, or what is wrong. */
static const char *refs_check(const uint8_t *p, struct entry *e)
{
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < e->n; i++) {
        const uint8_t *ref = p + HEAD + 8 * (size_t)i;
        if ((uint64_t)get_le32(ref) + get_le32(ref + 4) > e->hbins)
            return "a page lies beyond the hive bins";
        bytes += get_le32(ref + 4);
    }
    if (bytes > e->size - HEAD - 8 * (uint64_t)e->n)
        return "its pages run past the entry";
    e->bytes = bytes;
    return NULL;
}

/* Whether the entry at off is sound and carries sequence number expect:
 * 0, or -1 and why not in l->why. */
static int entry_check(struct log_view *l, size_t off, uint32_t expect, struct entry *e)
{
    const uint8_t *p = l->d + off;
    const char *bad = NULL;
    if (l->len - off < HEAD || memcmp(p, "HvLE", 4) != 0) {
        snprintf(l->why, sizeof l->why, "no log entry at offset %#zx", off);
        return -1;
    }
    e->size = get_le32(p + 4);
    e->flags = get_le32(p + 8);
    e->seq = get_le32(p + 12);
    e->hbins = get_le32(p + 16);
    e->n = get_le32(p + 20);
    if (e->size > l->len - off)
        bad = "the entry runs past the end of the file";
    else if (e->size < LOG_BASE || e->size % LOG_BASE)
        bad = "bad entry size";
    else if (e->hbins < BIN || e->hbins % BIN || e->hbins > P2V_HIVE_MAX_BINS)
        bad = "bad hive bins size";
    else if (e->n == 0 || e->n > (e->size - HEAD) / 8)
        bad = "bad page count";
    else if (p2v_marvin32(p, 32) != get_le64(p + 32))
        bad = "header hash mismatch";
    else if (e->seq != expect) {
        snprintf(l->why, sizeof l->why, "the entry at offset %#zx has sequence number %u, expected %u",
                 off, e->seq, expect);
        return -1;
    } else if (p2v_marvin32(p + HEAD, e->size - HEAD) != get_le64(p + 24))
        bad = "page hash mismatch";
    else
        bad = refs_check(p, e);
    if (bad) {
        snprintf(l->why, sizeof l->why, "damaged at offset %#zx: %s", off, bad);
        return -1;
    }
    return 0;
}

struct run { struct log_view *l; int n; };   /* the first n entries of a log */

struct replay {
    struct run runs[2];
    int nruns;
    uint64_t size;      /* of the image */
    uint64_t carried;   /* page bytes of the planned entries */
    uint64_t pages;
    uint32_t hbins, flags, first, last;
    int entries;
};

/* Plans a log's entries from its base sequence number on: they apply while
 * each is sound and follows the one before; the first bad one ends it. */
static void plan_run(struct log_view *l, struct replay *r, size_t primary_len)
{
    size_t off = LOG_BASE;
    uint32_t expect = l->seq;
    int n = 0;
    struct entry e;
    while (off < l->len && r->entries < INT_MAX && entry_check(l, off, expect, &e) == 0) {
        uint64_t need = BASE + (uint64_t)e.hbins;
        /* Windows logs every page of a bin it adds: a hive grows only by
         * bytes the logs carry, which bounds what a hostile log costs. */
        if (need > r->size && need > primary_len + r->carried + e.bytes) {
            snprintf(l->why, sizeof l->why, "damaged at offset %#zx: it grows the hive by more "
                     "than the pages it carries", off);
            break;
        }
        if (need > r->size)
            r->size = need;
        r->carried += e.bytes;
        r->pages += e.n;
        r->hbins = e.hbins;
        r->flags = e.flags;
        if (r->entries++ == 0)
            r->first = e.seq;
        r->last = e.seq;
        n++;
        off += e.size;
        expect++;
    }
    r->runs[r->nruns].l = l;
    r->runs[r->nruns++].n = n;
}

/* Copies a planned run's pages; the checks repeat so that no byte outside
 * img or the log is touched even if the log changed since planning. */
static void apply_run(uint8_t *img, size_t img_len, const struct run *run)
{
    const uint8_t *d = run->l->d;
    size_t len = run->l->len, off = LOG_BASE;
    for (int k = 0; k < run->n && len - off >= HEAD; k++) {
        const uint8_t *p = d + off;
        uint32_t size = get_le32(p + 4), n = get_le32(p + 20);
        if (size > len - off || size < HEAD || 8 * (uint64_t)n > size - HEAD)
            return;
        const uint8_t *src = p + HEAD + 8 * (size_t)n, *end = p + size;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t at = get_le32(p + HEAD + 8 * (size_t)i), sz = get_le32(p + HEAD + 8 * (size_t)i + 4);
            if ((uint64_t)at + sz > img_len - BASE || sz > (size_t)(end - src))
                return;
            memcpy(img + BASE + at, src, sz);
            src += sz;
        }
        off += size;
    }
}

/* Of two logs with the same base sequence number (Windows never writes
 * that): the one whose run is longer, else by content, never by name. */
static int pick_tie(struct log_view *a, struct log_view *b, size_t len)
{
    struct replay ra = { .size = len }, rb = { .size = len };
    plan_run(a, &ra, len);
    plan_run(b, &rb, len);
    if (ra.entries != rb.entries)
        return ra.entries > rb.entries ? 0 : 1;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->d, b->d, n);
    return c ? c > 0 : a->len > b->len;
}

/* The spec's order: the log with the older base sequence number first, if
 * it is not older than the primary, then the other if it continues it. */
static void plan_new(struct log_view **nl, int cnt, const uint8_t *primary, size_t len, int base_ok,
                     struct replay *r)
{
    if (cnt == 2 && (nl[0]->seq == nl[1]->seq ? pick_tie(nl[0], nl[1], len)
                                               : seq_before(nl[1]->seq, nl[0]->seq))) {
        struct log_view *t = nl[0];
        nl[0] = nl[1];
        nl[1] = t;
    }
    if (cnt == 2 && nl[0]->seq == nl[1]->seq) {
        snprintf(nl[1]->why, sizeof nl[1]->why, "same base sequence number as %s, which was preferred",
                 nl[0]->name);
        cnt = 1;
    }
    r->size = len;
    if (!base_ok) {
        /* The primary's base block is damaged: Windows rebuilds it from the
         * log with the newest entries and replays that log alone. */
        if (cnt == 2)
            snprintf(nl[0]->why, sizeof nl[0]->why, "not used: %s has the newer entries", nl[1]->name);
        plan_run(nl[cnt - 1], r, len);
        return;
    }
    uint32_t secondary = get_le32(primary + 8);
    int i = 0;
    for (; i < cnt && seq_before(nl[i]->seq, secondary); i++)
        snprintf(nl[i]->why, sizeof nl[i]->why, "does not continue the primary: base sequence %u "
                 "below the primary's secondary %u", nl[i]->seq, secondary);
    if (i == cnt)
        return;
    plan_run(nl[i], r, len);
    if (i + 1 < cnt) {
        if (r->entries > 0 && nl[i + 1]->seq == r->last + 1)
            plan_run(nl[i + 1], r, len);
        else if (r->entries == 0)
            snprintf(nl[i + 1]->why, sizeof nl[i + 1]->why, "not replayed: %s, which comes first, "
                     "replayed nothing", nl[i]->name);
    }
}

static int recover_new(const uint8_t *primary, size_t len, int base_ok, struct log_view **nl, int cnt,
                       struct log_view *all, int nall, uint8_t **out, size_t *out_len,
                       struct p2v_hive_recovery *info)
{
    struct replay r;
    memset(&r, 0, sizeof r);
    plan_new(nl, cnt, primary, len, base_ok, &r);
    if (r.entries == 0)
        return -ENOENT;
    uint8_t *img = malloc(r.size);
    if (!img)
        return -ENOMEM;
    memcpy(img, primary, len);
    memset(img + len, 0, r.size - len);
    for (int i = 0; i < r.nruns; i++)
        apply_run(img, r.size, &r.runs[i]);
    if (!base_ok) {
        memset(img, 0, BASE);
        memcpy(img, r.runs[0].l->d, LOG_BASE);
    }
    uint32_t m = seq_above(r.last, primary, base_ok, all, nall);
    seal(img, m, r.hbins, r.flags);
    info->state = P2V_HIVE_RECOVERED;
    info->seq = m;
    info->entries = r.entries;
    info->pages = r.pages > INT_MAX ? INT_MAX : (int)r.pages;
    info->first_seq = r.first;
    info->last_seq = r.last;
    *out = img;
    *out_len = r.size;
    return 0;
}

/* ---- Old format (Windows XP .. 8.0): dirty vector and 512-byte pages ---- */

struct old_plan {
    struct log_view *l;
    uint32_t hbins;
    size_t at;          /* where its pages start */
    uint64_t npages;
};

static uint64_t count_bits(const uint8_t *p, size_t n)
{
    uint64_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += (unsigned)__builtin_popcount(p[i]);
    return c;
}

/* Whether an old-format log applies to this primary and holds all it
 * lists: 0, or -1 and why not in l->why. */
static int old_check(struct log_view *l, const uint8_t *primary, size_t len, int base_ok, struct old_plan *op)
{
    const uint8_t *b = l->d;
    uint32_t hbins = get_le32(b + 40), cf = get_le32(b + 44);
    uint64_t want = 0, ts = get_le64(b + 12);
    const char *bad = NULL;
    /* A damaged primary base block: its first bin keeps a copy. */
    int have_ts = base_ok || (len >= BASE + 32 && memcmp(primary + BASE, "hbin", 4) == 0);
    if (have_ts)
        want = base_ok ? get_le64(primary + 12) : get_le64(primary + BASE + 20);
    if (cf != 1)
        bad = "a clustering factor other than 1 is not supported";
    else if (hbins < BIN || hbins % BIN || hbins > P2V_HIVE_MAX_BINS)
        bad = "bad hive bins size";
    else if (!have_ts || ts != want)
        bad = "written for another state of the primary (last-written timestamps differ)";
    else if (l->len < DIRT_AT + 4 + (uint64_t)hbins / BIN || memcmp(b + DIRT_AT, "DIRT", 4) != 0)
        bad = "no dirty vector";
    if (bad) {
        snprintf(l->why, sizeof l->why, "%s", bad);
        return -1;
    }
    size_t nb = hbins / BIN;    /* a bit per 512-byte page */
    uint64_t at = round_up(DIRT_AT + 4 + nb, PAGE_OLD), n = count_bits(b + DIRT_AT + 4, nb);
    if (at + n * PAGE_OLD > l->len)
        bad = "damaged: it holds fewer pages than its dirty vector lists";
    else if (BASE + (uint64_t)hbins > len && BASE + (uint64_t)hbins > len + n * PAGE_OLD)
        bad = "damaged: it grows the hive by more than the pages it carries";
    if (bad) {
        snprintf(l->why, sizeof l->why, "%s", bad);
        return -1;
    }
    op->l = l;
    op->hbins = hbins;
    op->at = (size_t)at;
    op->npages = n;
    return 0;
}

/* Of two applicable old logs, the later one (the cumulative log Windows
 * switched to), else the one with more pages, else by content. */
static int old_better(const struct old_plan *a, const struct old_plan *b)
{
    if (a->l->seq != b->l->seq)
        return seq_before(b->l->seq, a->l->seq);
    if (a->npages != b->npages)
        return a->npages > b->npages;
    size_t n = a->l->len < b->l->len ? a->l->len : b->l->len;
    int c = memcmp(a->l->d, b->l->d, n);
    return c ? c < 0 : a->l->len <= b->l->len;
}

static int page_dirty(const uint8_t *bits, uint64_t page)
{
    return bits[page / 8] >> (page % 8) & 1;
}

/* Writes the log's pages into img, then walks the bins as Windows checks
 * them: at a rebuilt bin that is not sound the replay stops, so that bin's
 * pages and all later ones are put back, and the hive ends before it
 * (*hbins).  The number of pages applied. */
static uint64_t apply_old(uint8_t *img, const uint8_t *primary, size_t len, const struct old_plan *op,
                          uint32_t *hbins)
{
    const uint8_t *bits = op->l->d + DIRT_AT + 4, *src = op->l->d + op->at;
    uint64_t npages = op->hbins / PAGE_OLD, rel = 0, stop = op->hbins, applied = 0;
    for (uint64_t b = 0; b < npages; b++)
        if (page_dirty(bits, b)) {
            memcpy(img + BASE + b * PAGE_OLD, src, PAGE_OLD);
            src += PAGE_OLD;
        }
    while (rel < op->hbins) {
        const uint8_t *h = img + BASE + rel;
        uint32_t size = get_le32(h + 8);
        if (memcmp(h, "hbin", 4) != 0 || get_le32(h + 4) != rel || size < BIN || size % BIN ||
            size > op->hbins - rel)
            break;
        rel += size;
    }
    /* A bad bin the log did not touch is the primary's own damage. */
    if (rel < op->hbins && page_dirty(bits, rel / PAGE_OLD))
        stop = rel;
    *hbins = (uint32_t)stop;
    for (uint64_t b = 0; b < npages; b++) {
        if (!page_dirty(bits, b))
            continue;
        uint64_t at = BASE + b * PAGE_OLD;
        if (b * PAGE_OLD < stop) {
            applied++;
            continue;
        }
        uint64_t keep = at >= len ? 0 : len - at < PAGE_OLD ? len - at : PAGE_OLD;
        memcpy(img + at, primary + at, (size_t)keep);
        memset(img + at + keep, 0, PAGE_OLD - (size_t)keep);
    }
    return applied;
}

/* One old-format log is replayed: the best applicable one. */
static int recover_old(const uint8_t *primary, size_t len, int base_ok, struct log_view **ol, int cnt,
                       struct log_view *all, int nall, uint8_t **out, size_t *out_len,
                       struct p2v_hive_recovery *info)
{
    struct old_plan cand[2], *best = NULL;
    for (int i = 0; i < cnt; i++)
        if (old_check(ol[i], primary, len, base_ok, &cand[i]) == 0 && (!best || old_better(&cand[i], best)))
            best = &cand[i];
    if (!best)
        return -ENOENT;
    for (int i = 0; i < cnt; i++)
        if (&cand[i] != best && !ol[i]->why[0])
            snprintf(ol[i]->why, sizeof ol[i]->why, "%s was preferred", best->l->name);
    uint64_t size = BASE + (uint64_t)best->hbins > len ? BASE + (uint64_t)best->hbins : len;
    uint8_t *img = malloc((size_t)size);
    if (!img)
        return -ENOMEM;
    memcpy(img, primary, len);
    memset(img + len, 0, (size_t)size - len);
    uint32_t hbins;
    uint64_t applied = apply_old(img, primary, len, best, &hbins);
    if (applied == 0 && best->npages > 0) {
        snprintf(best->l->why, sizeof best->l->why, "damaged: a hive bin it rebuilds is not sound");
        free(img);
        return -ENOENT;
    }
    if (!base_ok) {
        memset(img, 0, BASE);
        memcpy(img, best->l->d, LOG_BASE);
    }
    uint32_t m = seq_above(best->l->seq, primary, base_ok, all, nall);
    seal(img, m, hbins, get_le32(best->l->d + 144));
    info->state = P2V_HIVE_RECOVERED;
    info->seq = m;
    info->entries = 1;
    info->pages = applied > INT_MAX ? INT_MAX : (int)applied;
    *out = img;
    *out_len = (size_t)size;
    return 0;
}

/* ---- The whole ---- */

/* why: each log's reason, after a prefix. */
static void explain(struct p2v_hive_recovery *info, const char *prefix, const struct log_view *lv, int n)
{
    size_t at = (size_t)snprintf(info->why, sizeof info->why, "%s", prefix);
    if (n == 0 && at < sizeof info->why)
        snprintf(info->why + at, sizeof info->why - at, "no transaction logs");
    for (int i = 0; i < n && at < sizeof info->why; i++)
        at += (size_t)snprintf(info->why + at, sizeof info->why - at, "%s%s: %s", i ? "; " : "",
                               lv[i].name, lv[i].why[0] ? lv[i].why : "not usable");
}

static int copy_out(const uint8_t *primary, size_t len, uint8_t **out, size_t *out_len)
{
    uint8_t *img = malloc(len);
    if (!img)
        return -ENOMEM;
    memcpy(img, primary, len);
    *out = img;
    *out_len = len;
    return 0;
}

/* The logs, by format: the new format wins, as on Windows 8.1 and later. */
static int replay(const uint8_t *primary, size_t len, int base_ok, struct log_view *lv, int nlogs,
                  uint8_t **out, size_t *out_len, struct p2v_hive_recovery *info)
{
    struct log_view *nl[2], *ol[2];
    int nn = 0, no = 0;
    for (int i = 0; i < nlogs; i++) {
        if (lv[i].kind == LOG_NEW)
            nl[nn++] = &lv[i];
        else if (lv[i].kind == LOG_OLD)
            ol[no++] = &lv[i];
    }
    if (nn) {
        for (int i = 0; i < no; i++)
            snprintf(ol[i]->why, sizeof ol[i]->why, "an old-format log beside a new-format one");
        return recover_new(primary, len, base_ok, nl, nn, lv, nlogs, out, out_len, info);
    }
    if (no)
        return recover_old(primary, len, base_ok, ol, no, lv, nlogs, out, out_len, info);
    return -ENOENT;
}

int p2v_hive_recover(const uint8_t *primary, size_t len, const struct p2v_hive_log *logs, int nlogs,
                     int ignore_logs, uint8_t **out, size_t *out_len, struct p2v_hive_recovery *info)
{
    struct p2v_hive_recovery spare;
    if (!info)
        info = &spare;
    memset(info, 0, sizeof *info);
    info->state = P2V_HIVE_DIRTY;
    if (!out || !out_len)
        return -EINVAL;
    *out = NULL;
    *out_len = 0;
    int dirty = p2v_hive_is_dirty(primary, len);
    if (dirty < 0 || nlogs < 0 || nlogs > 2 || (nlogs > 0 && !logs)) {
        snprintf(info->why, sizeof info->why, dirty < 0 ? "not a registry hive (no regf signature, "
                 "or shorter than its base block)" : "bad arguments");
        return -EINVAL;
    }
    info->seq1 = get_le32(primary + 4);
    info->seq2 = get_le32(primary + 8);
    int base_ok = p2v_hive_checksum(primary) == get_le32(primary + 508);
    if (base_ok && get_le32(primary + 28) != 0) {
        snprintf(info->why, sizeof info->why, "not a primary hive file (file type %u)",
                 get_le32(primary + 28));
        return -EINVAL;
    }
    if (!dirty) {
        info->state = P2V_HIVE_CLEAN;
        info->seq = info->seq1;
        return copy_out(primary, len, out, out_len);
    }
    struct log_view lv[2];
    for (int i = 0; i < nlogs; i++)
        classify(&lv[i], &logs[i], i);
    if (ignore_logs && base_ok) {
        int r = copy_out(primary, len, out, out_len);
        if (r < 0)
            return r;
        uint32_t m = seq_above(get_le32(primary + 4), primary, base_ok, lv, nlogs);
        seal(*out, m, get_le32(primary + 40), get_le32(primary + 144));
        info->seq = m;
        snprintf(info->why, sizeof info->why, "the transaction logs were not replayed, on request");
        return 0;
    }
    if (ignore_logs) {
        snprintf(info->why, sizeof info->why, "the base block is damaged (bad checksum): without "
                 "the logs nothing rebuilds it");
        return -EINVAL;
    }
    int r = replay(primary, len, base_ok, lv, nlogs, out, out_len, info);
    if (r == -ENOENT && base_ok)
        explain(info, "", lv, nlogs);
    else if (r == -ENOENT) {
        explain(info, "the base block is damaged (bad checksum) and no log rebuilds it: ", lv, nlogs);
        r = -EINVAL;
    }
    return r;
}
