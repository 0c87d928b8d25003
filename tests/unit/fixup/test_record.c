/* The fix-up record (fixup/record.c): applies merged into one list, each
 * "what" once with the oldest old value and the latest new one; the
 * record written, read back the same; a record that cannot be read, that
 * names another overlay, or that an older p2v wrote, continued or started
 * anew and marked; a missing record beside a changed overlay marked too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/fake_layer.h"
#include "core/json.h"
#include "core/json_read.h"
#include "core/log.h"
#include "fixup/overlay.h"
#include "fixup/record.h"

static const uint8_t base[16] = "base-id-of-test";
static char dir[64], path[96];
static struct fake below;
static struct p2v_layer *ovl;

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/p2v-record-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/fixups.json", dir);
    below = fake_make(1024 * 1024, 3, NULL);
    assert_int_equal(p2v_overlay_open(&below.l, dir, base, P2V_OVERLAY_WRITE | P2V_OVERLAY_CREATE,
                                      &ovl), 0);
    p2v_log_quiet(1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    p2v_layer_close_stack(ovl);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* One apply's list: rows of line, action, what, old, new, changed. */
struct row { int line; const char *action, *what, *old, *new_; int changed; };

static void changes_of(struct p2v_changes *c, const struct row *rows, int n)
{
    c->c = calloc((size_t)n, sizeof *c->c);
    assert_non_null(c->c);
    c->n = n;
    for (int i = 0; i < n; i++) {
        c->c[i] = (struct p2v_change){ .line = rows[i].line, .action = rows[i].action,
                                       .what = strdup(rows[i].what), .old = strdup(rows[i].old),
                                       .new_ = strdup(rows[i].new_), .changed = rows[i].changed };
        assert_true(c->c[i].what && c->c[i].old && c->c[i].new_);
    }
}

static void add(struct p2v_record *rec, const struct row *rows, int n, const char *plan,
                const char *time)
{
    struct p2v_changes c;
    changes_of(&c, rows, n);
    assert_int_equal(p2v_record_add(rec, &c, plan, time), 0);
    p2v_changes_free(&c);
}

static void entry_is(const struct p2v_record *rec, size_t i, int line, const char *action,
                     const char *what, const char *old, const char *new_, int changed)
{
    assert_true(i < rec->n);
    const struct p2v_record_entry *e = &rec->e[i];
    assert_int_equal(e->line, line);
    assert_string_equal(e->action, action);
    assert_string_equal(e->what, what);
    assert_string_equal(e->old, old);
    assert_string_equal(e->new_, new_);
    assert_int_equal(e->changed, changed);
}

static const struct row plan_a[] = {
    { 1, "reg-set", "SYSTEM\\X: AutoReboot", "dword:1", "dword:0", 1 },
    { 2, "reg-set", "SOFTWARE\\P2V: Note", "(absent)", "sz:a", 1 },
};
static const struct row plan_b[] = {
    { 1, "no-auto-reboot", "SYSTEM\\X: AutoReboot", "dword:0", "dword:2", 1 },
    { 2, "reg-set", "SYSTEM\\atapi: ErrorControl", "dword:1", "dword:3", 1 },
    { 3, "reg-set", "SYSTEM\\atapi: Start", "dword:0", "dword:0", 0 },
    /* The same value twice in one apply: set, then set back. */
    { 4, "reg-set", "SYSTEM\\Y: V", "dword:5", "dword:6", 1 },
    { 5, "reg-set", "SYSTEM\\Y: V", "dword:6", "dword:5", 1 },
};
static const struct row plan_a_again[] = {
    { 1, "reg-set", "SYSTEM\\X: AutoReboot", "dword:2", "dword:0", 1 },
    { 2, "reg-set", "SOFTWARE\\P2V: Note", "sz:a", "sz:a", 0 },
};

static void merged(const struct p2v_record *rec)
{
    assert_int_equal(rec->n, 5);
    entry_is(rec, 0, 1, "reg-set", "SYSTEM\\X: AutoReboot", "dword:1", "dword:0", 1);
    entry_is(rec, 1, 2, "reg-set", "SOFTWARE\\P2V: Note", "(absent)", "sz:a", 1);
    entry_is(rec, 2, 2, "reg-set", "SYSTEM\\atapi: ErrorControl", "dword:1", "dword:3", 1);
    entry_is(rec, 3, 3, "reg-set", "SYSTEM\\atapi: Start", "dword:0", "dword:0", 0);
    entry_is(rec, 4, 5, "reg-set", "SYSTEM\\Y: V", "dword:5", "dword:5", 0);
    assert_int_equal(rec->na, 3);
    assert_string_equal(rec->a[0].plan, "A.plan");
    assert_string_equal(rec->a[0].time, "2023-11-14T22:13:20Z");
    assert_int_equal(rec->a[0].changes, 2);
    assert_string_equal(rec->a[1].plan, "B.plan");
    assert_int_equal(rec->a[1].changes, 4);
    assert_int_equal(rec->a[2].changes, 1);
}

/* The record as apply saves it: a digest, then the record's members. */
static void save(const struct p2v_record *rec, const char *digest)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    struct p2v_json j;
    p2v_json_init(&j, f);
    p2v_json_object(&j, NULL);
    p2v_json_str(&j, "plan", "A.plan");
    p2v_json_str(&j, "overlay_digest", digest);
    p2v_record_json(&j, rec);
    p2v_json_finish(&j);
    assert_int_equal(fclose(f), 0);
}

static char *slurp(void)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 16);
    assert_non_null(buf);
    assert_true(fread(buf, 1, (1 << 16) - 1, f) > 0);
    fclose(f);
    return buf;
}

static void put_file(const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void applies_merge(void **state)
{
    (void)state;
    struct p2v_record rec = { 0 };
    add(&rec, plan_a, 2, "A.plan", "2023-11-14T22:13:20Z");
    add(&rec, plan_b, 5, "B.plan", "2023-11-14T22:13:21Z");
    add(&rec, plan_a_again, 2, "A.plan", "2023-11-14T22:13:22Z");
    merged(&rec);
    assert_int_equal(rec.restarted, 0);
    p2v_record_free(&rec);
    /* Many: the index grows and finds every one again. */
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 5000; i++) {
            char what[32], val[32];
            snprintf(what, sizeof what, "W%d", i);
            snprintf(val, sizeof val, "v%d", k);
            const struct row r = { i, "reg-set", what, k ? "v0" : "(absent)", val, 1 };
            add(&rec, &r, 1, "P", "T");
        }
    assert_int_equal(rec.n, 5000);
    entry_is(&rec, 4999, 4999, "reg-set", "W4999", "(absent)", "v1", 1);
    assert_int_equal(rec.na, 10000);
    p2v_record_free(&rec);
}

static void written_and_read_back(void **state)
{
    (void)state;
    char here[33];
    p2v_overlay_digest_hex(ovl, here);
    struct p2v_record rec = { 0 };
    add(&rec, plan_a, 2, "A.plan", "2023-11-14T22:13:20Z");
    add(&rec, plan_b, 5, "B.plan", "2023-11-14T22:13:21Z");
    add(&rec, plan_a_again, 2, "A.plan", "2023-11-14T22:13:22Z");
    save(&rec, here);
    p2v_record_free(&rec);
    assert_int_equal(p2v_record_load(path, ovl, &rec), 0);
    merged(&rec);
    assert_int_equal(rec.restarted, 0);
    /* Saved again: the same bytes. */
    char *before = slurp();
    save(&rec, here);
    p2v_record_free(&rec);
    char *after = slurp();
    assert_string_equal(before, after);
    assert_null(strstr(after, "record_restarted"));
    free(before);
    free(after);
}

static void unreadable_restarts(void **state)
{
    (void)state;
    char here[33], text[512];
    p2v_overlay_digest_hex(ovl, here);
    static const char *const bad[] = {
        "", "{\"changes\": [", "[]", "{\"changes\": []}",   /* no digest */
        "{\"overlay_digest\": \"%s\"}",                       /* no changes */
        "{\"overlay_digest\": \"%s\", \"changes\": [{\"line\": 1}], \"applies\": []}",
        "{\"overlay_digest\": \"%s\", \"changes\": [{\"line\": -1, \"action\": \"a\", \"what\": "
        "\"w\", \"old\": \"o\", \"new\": \"n\", \"changed\": true}], \"applies\": []}",
        "{\"overlay_digest\": \"%s\", \"changes\": [], \"applies\": {}}",
        "{\"overlay_digest\": \"%s\", \"changes\": [], \"applies\": [{\"plan\": \"p\"}]}",
        "{\"overlay_digest\": \"%s\", \"changes\": [], \"applies\": [], \"record_restarted\": 1}",
        "{\"overlay_digest\": \"%s\", \"changes\": []}",      /* no applies and no plan */
        "{\"overlay_digest\": \"%s\", \"changes\": [{\"line\": 1, \"action\": \"a\", \"what\": "
        "\"w\\u0000x\", \"old\": \"o\", \"new\": \"n\", \"changed\": true}], \"applies\": []}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(text, sizeof text, bad[i], here);
        put_file(text);
        struct p2v_record rec;
        assert_int_equal(p2v_record_load(path, ovl, &rec), 0);
        if (rec.n || rec.na || !rec.restarted)
            fail_msg("'%s': %zu entries, %zu applies, restarted %d", text, rec.n, rec.na,
                     rec.restarted);
        p2v_record_free(&rec);
    }
    /* A directory where the file should be. */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    struct p2v_record rec;
    assert_int_equal(p2v_record_load(path, ovl, &rec), 0);
    assert_true(rec.restarted && !rec.n);
    assert_int_equal(rmdir(path), 0);
}

static void continued_and_marked(void **state)
{
    (void)state;
    char here[33], text[1024];
    p2v_overlay_digest_hex(ovl, here);
    struct p2v_record rec;
    /* Another overlay's record: kept, marked. */
    struct p2v_record r0 = { 0 };
    add(&r0, plan_a, 2, "A.plan", "2023-11-14T22:13:20Z");
    save(&r0, "0123456789abcdef0123456789abcdef");
    p2v_record_free(&r0);
    assert_int_equal(p2v_record_load(path, ovl, &rec), 0);
    assert_true(rec.restarted && rec.n == 2 && rec.na == 1);
    /* Marked once, marked from then on. */
    save(&rec, here);
    p2v_record_free(&rec);
    assert_int_equal(p2v_record_load(path, ovl, &rec), 0);
    assert_true(rec.restarted && rec.n == 2 && rec.na == 1);
    p2v_record_free(&rec);
    /* An older p2v's report: no applies; its one apply is made up from its
     * plan and the file's time, and its duplicates are folded. */
    snprintf(text, sizeof text, "{\"plan\": \"old.plan\", \"overlay_digest\": \"%s\", \"changes\": ["
             "{\"line\": 1, \"action\": \"a\", \"what\": \"w\", \"old\": \"1\", \"new\": \"2\", \"changed\": true},"
             "{\"line\": 2, \"action\": \"b\", \"what\": \"w\", \"old\": \"2\", \"new\": \"3\", \"changed\": true},"
             "{\"line\": 3, \"action\": \"c\", \"what\": \"v\", \"old\": \"1\", \"new\": \"1\", \"changed\": false}]}",
             here);
    put_file(text);
    struct timespec t[2] = { { 1700000000, 0 }, { 1700000000, 0 } };
    assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
    assert_int_equal(p2v_record_load(path, ovl, &rec), 0);
    assert_true(rec.restarted);
    assert_int_equal(rec.n, 2);
    entry_is(&rec, 0, 2, "b", "w", "1", "3", 1);
    entry_is(&rec, 1, 3, "c", "v", "1", "1", 0);
    assert_int_equal(rec.na, 1);
    assert_string_equal(rec.a[0].plan, "old.plan");
    assert_string_equal(rec.a[0].time, "2023-11-14T22:13:20Z");
    assert_int_equal(rec.a[0].changes, 1);
    p2v_record_free(&rec);
}

/* No record: nothing to continue; marked only if the overlay has changes. */
static void missing(void **state)
{
    (void)state;
    unlink(path);
    struct p2v_record rec;
    assert_int_equal(p2v_record_load(path, ovl, &rec), 0);
    assert_true(!rec.restarted && !rec.n && !rec.na);
    uint8_t b[16] = "changed";
    assert_int_equal(p2v_layer_write(ovl, b, sizeof b, 4096), 0);
    assert_int_equal(p2v_overlay_commit(ovl), 0);
    assert_int_equal(p2v_record_load(path, ovl, &rec), 0);
    assert_true(rec.restarted && !rec.n && !rec.na);
    p2v_record_free(&rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(applies_merge),
        cmocka_unit_test(written_and_read_back),
        cmocka_unit_test(unreadable_restarts),
        cmocka_unit_test(continued_and_marked),
        cmocka_unit_test(missing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
