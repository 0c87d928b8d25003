/* A scratch directory for a unit test group: made in setup, removed with
 * what the tests left in it in teardown.  Header-only, for the tests. */
#ifndef P2V_TEST_SCRATCH_DIR_H
#define P2V_TEST_SCRATCH_DIR_H

#include <stdio.h>
#include <stdlib.h>

/* dir (at least 64 bytes) becomes /tmp/p2v-NAME-XXXXXX, created. */
static inline void scratch_dir_make(char *dir, size_t len, const char *name)
{
    snprintf(dir, len, "/tmp/p2v-%s-XXXXXX", name);
    assert_non_null(mkdtemp(dir));
}

static inline void scratch_dir_remove(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

#endif
