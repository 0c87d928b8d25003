/* The source layer on real files: size checks, padding, sparse-file
 * extents, reads, and a source that shrinks under us. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "snapshot/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MiB (1024ull * 1024)

static char dir[] = "/tmp/p2v-test-source-XXXXXX";

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

/* Creates dir/name of size bytes with `marker` written at each offset in at[]. */
static const char *make_file(const char *name, uint64_t size, const uint64_t *at, int n)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(pwrite(fd, "marker", 6, (off_t)at[i]), 6);
    close(fd);
    return path;
}

static void rejects_bad_sources(void **state)
{
    (void)state;
    struct p2v_layer *l = NULL;
    struct p2v_source_info info;
    char missing[256];
    snprintf(missing, sizeof missing, "%s/missing", dir);
    assert_int_equal(p2v_source_open(missing, 0, &l, &info), -ENOENT);
    assert_int_equal(p2v_source_open(dir, 0, &l, &info), -EISDIR);
    assert_int_equal(p2v_source_open(make_file("empty", 0, NULL, 0), 0, &l, &info), -EINVAL);
    assert_int_equal(p2v_source_open(make_file("odd", 4 * MiB + 3, NULL, 0), 0, &l, &info),
                     -EINVAL);
    assert_int_equal(p2v_source_open("/dev/null", 0, &l, &info), -EINVAL);  /* char device */
    assert_null(l);
}

static void pads_when_asked(void **state)
{
    (void)state;
    uint64_t at[] = { 4 * MiB - 3 };
    const char *p = make_file("odd2", 4 * MiB + 3, at, 1);
    struct p2v_layer *l = NULL;
    struct p2v_source_info info;
    assert_int_equal(p2v_source_open(p, P2V_SOURCE_PAD, &l, &info), 0);
    assert_true(info.real_size == 4 * MiB + 3 && l->size == 4 * MiB + 512);
    uint8_t buf[1024];
    memset(buf, 0xEE, sizeof buf);
    assert_int_equal(p2v_layer_read(l, buf, 512, 4 * MiB), 0);
    assert_memory_equal(buf, "ker", 3);              /* the real tail */
    for (int i = 3; i < 512; i++)
        assert_int_equal(buf[i], 0);                 /* the padding */
    p2v_layer_close_stack(l);
}

struct ext { uint64_t next, data; int runs; };

static int ext_cb(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    struct ext *e = ctx;
    assert_true(off == e->next);
    e->next += len;
    if (kind != P2V_EXTENT_ZERO) {
        e->data += len;
        e->runs++;
    }
    return 0;
}

static void sparse_file_extents(void **state)
{
    (void)state;
    uint64_t at[] = { 0, 512 * MiB, 1024 * MiB - 6 };
    const char *p = make_file("sparse", 1024 * MiB, at, 3);
    struct p2v_layer *l = NULL;
    struct p2v_source_info info;
    assert_int_equal(p2v_source_open(p, 0, &l, &info), 0);
    assert_int_equal(info.is_blockdev, 0);
    assert_int_equal(info.logical_sector, 512);
    struct ext e = { 0 };
    assert_int_equal(p2v_layer_extents(l, 0, l->size, ext_cb, &e), 0);
    assert_true(e.next == l->size);
    assert_int_equal(e.runs, 3);                     /* three written spots */
    assert_true(e.data < 1 * MiB);                   /* holes stay holes */
    uint8_t buf[6];
    assert_int_equal(p2v_layer_read(l, buf, 6, 512 * MiB), 0);
    assert_memory_equal(buf, "marker", 6);
    p2v_layer_close_stack(l);
}

static void shrunk_source_gives_eio(void **state)
{
    (void)state;
    const char *p = make_file("shrinks", 8 * MiB, NULL, 0);
    struct p2v_layer *l = NULL;
    struct p2v_source_info info;
    assert_int_equal(p2v_source_open(p, 0, &l, &info), 0);
    assert_int_equal(truncate(p, 4 * MiB), 0);
    uint8_t buf[4096];
    assert_int_equal(p2v_layer_read(l, buf, sizeof buf, 6 * MiB), -EIO);
    assert_int_equal(p2v_layer_read(l, buf, sizeof buf, 1 * MiB), 0);
    p2v_layer_close_stack(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rejects_bad_sources),
        cmocka_unit_test(pads_when_asked),
        cmocka_unit_test(sparse_file_extents),
        cmocka_unit_test(shrunk_source_gives_eio),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
