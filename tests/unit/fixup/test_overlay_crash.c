/* Power loss, not just SIGKILL: the overlay runs on a simulated file
 * system (crash_fs.h) that, at every moment a file or directory changes or
 * is synced, is "crashed" many times over: the writes not yet synced are
 * dropped, kept or torn, the directory operations kept or dropped.  Every
 * crash image must reopen, and show the disk exactly as the last commit
 * left it, or, during a commit, as that commit makes it; once a commit has
 * returned, only the new state.  The seeds are fixed, and printed with the
 * crash that failed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/fixup/crash_fs.h"
#include "fixup/overlay.h"
#include "fixup/overlay_io.h"

#define BLK P2V_OVERLAY_BLOCK
#define DISK (40 * BLK + 1000)  /* the last block is partial */
#define STATE "st"
static const uint8_t base[16] = "base-id-of-test";

/* The disk below: bytes in memory. */
struct mem {
    struct p2v_layer l;
    uint8_t *bytes;
};

static int mem_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off)
{
    memcpy(buf, ((struct mem *)l)->bytes + off, len);
    return 0;
}

static void mem_close(struct p2v_layer *l)
{
    (void)l;  /* owned by the test */
}

static const struct p2v_layer_ops mem_ops = { .name = "mem", .read = mem_read, .close = mem_close };

/* One run: the live file system, the models, and what was checked. */
struct run {
    struct cfs live;
    struct cfs *img;       /* the crash image, remade for each crash */
    struct mem below;
    uint8_t *old, *new_;   /* committed; what the commit under way makes */
    int in_commit;
    int variants;          /* crash images per crash point */
    uint64_t seed, points, crashes, torn, syncs;
    uint8_t *view;
};

static void read_all(struct p2v_layer *l, uint8_t *out, const char *where)
{
    int rc = p2v_layer_read(l, out, DISK, 0);
    if (rc != 0)
        fail_msg("%s: reading the reopened disk failed: %d", where, rc);
}

/* After a crash, the state goes on working: a write, a commit, and a new
 * open shows both. */
static void write_after_recovery(struct run *r, struct p2v_layer *l, const uint8_t *was,
                                 const char *where)
{
    uint8_t *want = malloc(DISK);
    assert_non_null(want);
    memcpy(want, was, DISK);
    uint8_t x[BLK + 100];
    memset(x, 0x5A, sizeof x);
    uint64_t at = 3 * BLK - 50;
    memcpy(want + at, x, sizeof x);
    if (p2v_layer_write(l, x, sizeof x, at) != 0 || p2v_overlay_commit(l) != 0)
        fail_msg("%s: writing after recovery failed", where);
    p2v_layer_close(l);
    if (p2v_overlay_open(&r->below.l, STATE, base, 0, &l) != 0)
        fail_msg("%s: opening after a write after recovery failed", where);
    read_all(l, r->view, where);
    if (memcmp(r->view, want, DISK) != 0)
        fail_msg("%s: a write after recovery is not what a new open shows", where);
    p2v_layer_close(l);
    free(want);
}

/* Power fails now: every way the pending state can land, reopened. */
static void crash_point(void *ctx, int is_sync)
{
    struct run *r = ctx;
    r->points++;
    r->syncs += (uint64_t)is_sync;
    struct cfs *img = r->img;
    for (int v = 0; v < r->variants; v++) {
        uint64_t seed = r->seed * 1000003u + r->points * 1009u + (uint64_t)v;
        struct cfs_rng rng = { seed };
        int mode = v == 0 ? CFS_DROP_ALL : v == 1 ? CFS_KEEP_ALL : CFS_RANDOM;
        unsigned torn = 0;
        cfs_crash(&r->live, img, mode, &rng, &torn);
        r->torn += torn;
        char where[160];
        snprintf(where, sizeof where, "run seed %llu, crash point %llu (%s), variant %d (seed "
                 "%llu)", (unsigned long long)r->seed, (unsigned long long)r->points,
                 r->in_commit ? "in a commit" : "between commits", v, (unsigned long long)seed);
        struct cfs *live = cfs_now;
        cfs_now = img;
        struct p2v_layer *l;
        int rc = p2v_overlay_open(&r->below.l, STATE, base,
                                  P2V_OVERLAY_WRITE | P2V_OVERLAY_CREATE, &l);
        if (rc != 0)
            fail_msg("%s: the reopen failed: %d", where, rc);
        read_all(l, r->view, where);
        const uint8_t *was = NULL;
        if (memcmp(r->view, r->old, DISK) == 0)
            was = r->old;
        else if (r->in_commit && memcmp(r->view, r->new_, DISK) == 0)
            was = r->new_;
        if (!was)
            fail_msg("%s: the reopened disk is neither the %s state", where,
                     r->in_commit ? "old nor the new" : "committed");
        if (v % 8 == 3)
            write_after_recovery(r, l, was, where);
        else
            p2v_layer_close(l);
        cfs_now = live;
        r->crashes++;
    }
}

static uint64_t pick(struct cfs_rng *g, uint64_t n)
{
    return cfs_next(g) % n;
}

/* A commit of a few writes: new blocks, rewrites of blocks changed before
 * (in this commit or an earlier one), unaligned spans across block edges,
 * the partial last block. */
static void one_commit(struct run *r, struct p2v_layer *l, struct cfs_rng *g, int c)
{
    static uint8_t buf[3 * BLK];
    int writes = 2 + (int)pick(g, 4);
    for (int w = 0; w < writes; w++) {
        uint64_t len = 1 + pick(g, 2 * BLK + 700);
        uint64_t off;
        switch (pick(g, 4)) {
        case 0:  /* the first blocks: rewritten again and again */
            off = pick(g, 2 * BLK);
            break;
        case 1:  /* the end of the disk */
            off = DISK - 1 - pick(g, BLK + 900);
            break;
        default:
            off = pick(g, DISK);
        }
        if (off + len > DISK)
            len = DISK - off;
        memset(buf, 0x11 * (c % 15 + 1) + w, len);
        buf[0] ^= (uint8_t)pick(g, 256);
        memcpy(r->new_ + off, buf, len);
        assert_int_equal(p2v_layer_write(l, buf, len, off), 0);
    }
    r->in_commit = 1;
    assert_int_equal(p2v_overlay_commit(l), 0);
    r->in_commit = 0;
    memcpy(r->old, r->new_, DISK);
    crash_point(r, 0);  /* just after: only the new state */
}

/* Sessions of commits, each opened afresh, crashed at every moment. */
static void run_workload(uint64_t seed, int variants, struct run *r)
{
    memset(r, 0, sizeof *r);
    r->seed = seed;
    r->variants = variants;
    r->below.l.ops = &mem_ops;
    r->below.l.size = DISK;
    r->below.bytes = malloc(DISK);
    r->old = malloc(DISK);
    r->new_ = malloc(DISK);
    r->view = malloc(DISK);
    assert_true(r->below.bytes && r->old && r->new_ && r->view);
    struct cfs_rng g = { seed };
    for (size_t i = 0; i < DISK; i++)
        r->below.bytes[i] = (uint8_t)(cfs_next(&g) | 1);
    memcpy(r->old, r->below.bytes, DISK);
    memcpy(r->new_, r->below.bytes, DISK);
    cfs_init(&r->live);
    r->img = malloc(sizeof *r->img);
    assert_non_null(r->img);
    cfs_init(r->img);
    r->live.crash_point = crash_point;
    r->live.ctx = r;
    cfs_now = &r->live;
    p2v_overlay_set_io(&cfs_io);
    for (int session = 0, c = 0; session < 3; session++) {
        struct p2v_layer *l;
        assert_int_equal(p2v_overlay_open(&r->below.l, STATE, base,
                                          P2V_OVERLAY_WRITE | P2V_OVERLAY_CREATE, &l), 0);
        for (int k = 0; k < 3; k++)
            one_commit(r, l, &g, c++);
        /* Writes the process dies before committing. */
        uint8_t x[100];
        memset(x, 0xEE, sizeof x);
        assert_int_equal(p2v_layer_write(l, x, sizeof x, pick(&g, DISK - sizeof x)), 0);
        p2v_overlay_abandon(l);
        memcpy(r->new_, r->old, DISK);
        p2v_layer_close(l);
    }
    p2v_overlay_set_io(NULL);
    cfs_now = NULL;
    cfs_free(&r->live);
    cfs_free(r->img);
    free(r->img);
    free(r->below.bytes);
    free(r->old);
    free(r->new_);
    free(r->view);
}

static void every_crash_reopens_old_or_new(void **state)
{
    (void)state;
    /* CRASH_VARIANTS: more (or fewer) images per crash point. */
    const char *env = getenv("CRASH_VARIANTS");
    int variants = env ? atoi(env) : 12;
    uint64_t points = 0, crashes = 0, torn = 0, syncs = 0;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        struct run r;
        run_workload(seed, variants > 2 ? variants : 2, &r);
        points += r.points;
        crashes += r.crashes;
        torn += r.torn;
        syncs += r.syncs;
    }
    print_message("%llu crash points (%llu at a sync), %llu simulated crashes, %llu torn "
                  "writes\n", (unsigned long long)points, (unsigned long long)syncs,
                  (unsigned long long)crashes, (unsigned long long)torn);
    assert_true(crashes >= 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_crash_reopens_old_or_new),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
