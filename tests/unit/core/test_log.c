/* Messages: a message repeated by a damaged source (one per sector) is
 * shown a bounded number of times, then counted, and the count is said at
 * exit; other messages are unaffected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void repeats_are_counted(void **state)
{
    (void)state;
    char path[] = "/tmp/p2v-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fd, 2);
        for (int i = 0; i < 100; i++)
            p2v_err("sector %d unreadable", i);
        p2v_warn("another message");
        for (int i = 0; i < 5; i++)
            p2v_note("a note %d", i);
        for (int i = 0; i < 21; i++)
            p2v_warn("block %d odd", i);
        exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char text[16384];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    assert_true(n > 0);
    text[n] = 0;
    close(fd);
    unlink(path);
    assert_int_equal(count(text, "p2v: error: sector "), 20);
    assert_non_null(strstr(text, "p2v: error: sector 19 unreadable\n"));
    assert_null(strstr(text, "sector 20 unreadable"));
    assert_int_equal(count(text, "p2v: warning: another message\n"), 1);
    assert_int_equal(count(text, "p2v: a note "), 5);
    assert_int_equal(count(text, "p2v: error: 80 more messages like this one were not shown: "
                                 "sector 19 unreadable\n"), 1);
    /* One over: said in the singular. */
    assert_int_equal(count(text, "p2v: warning: 1 more message like this one was not shown: "
                                 "block 19 odd\n"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(repeats_are_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
