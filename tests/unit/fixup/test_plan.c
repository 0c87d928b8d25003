/* The fix-up plan parser: words, quotes, comments; errors name the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixup/plan.h"

static char path[64];

static int write_plan(const char *text)
{
    snprintf(path, sizeof path, "/tmp/p2v-plan-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static void words_quotes_and_comments(void **state)
{
    (void)state;
    assert_int_equal(write_plan("# a comment\n\n"
                                "  enable-driver viostor   # trailing comment\n"
                                "reg-set HKLM\\SOFTWARE\\X \"Value Name\" sz \"a \\\"quoted\\\" # not a comment\"\n"
                                "file-put \"my file.txt\" %SystemRoot%\\x.txt\r\n"
                                "boot-geometry"),  /* no final newline */
                     0);
    struct p2v_plan p;
    assert_int_equal(p2v_plan_load(path, &p), 0);
    assert_int_equal(p.n, 4);
    assert_int_equal(p.a[0].line, 3);
    assert_int_equal(p.a[0].argc, 2);
    assert_string_equal(p.a[0].argv[1], "viostor");
    assert_int_equal(p.a[1].argc, 5);
    assert_string_equal(p.a[1].argv[1], "HKLM\\SOFTWARE\\X");
    assert_string_equal(p.a[1].argv[2], "Value Name");
    assert_string_equal(p.a[1].argv[4], "a \"quoted\" # not a comment");
    assert_string_equal(p.a[2].argv[1], "my file.txt");
    assert_string_equal(p.a[2].argv[2], "%SystemRoot%\\x.txt");
    assert_int_equal(p.a[3].line, 6);
    char *f = p2v_plan_file(&p, "my file.txt");
    assert_non_null(f);
    assert_string_equal(f, "/tmp/my file.txt");
    free(f);
    f = p2v_plan_file(&p, "/abs/x");
    assert_string_equal(f, "/abs/x");
    free(f);
    p2v_plan_free(&p);
    unlink(path);
}

static void errors_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "boot-geometry\nfrobnicate\n",               /* unknown action */
        "enable-driver\n",                            /* too few words */
        "no-auto-reboot now\n",                       /* too many */
        "reg-set K V sz \"open quote\n",              /* quote not closed */
        "file-put onlyone\n",
        "efi-fallback\n",                             /* no loader */
        "efi-fallback EFI/debian/grubx64.efi\n",      /* not under /EFI/ */
        "efi-fallback /EFI/../x.efi\n",               /* climbs */
        "efi-fallback \"/EFI/a b.efi\"\n",           /* a blank */
        "efi-fallback /EFI/debian/grub$x.efi\n",      /* a shell character */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(write_plan(bad[i]), 0);
        struct p2v_plan p;
        assert_int_equal(p2v_plan_load(path, &p), -EINVAL);
        assert_int_equal(p.n, 0);
        unlink(path);
    }
    /* A NUL cuts a line short where nobody sees it; an escape would reach
     * the terminal in messages (issue 19, 10 and 11).  Tabs and CRLF pass. */
    static const struct { const char *text; size_t len; } controls[] = {
        { "no-auto-reboot\nfile-delete a\0b\n", 31 },
        { "file-delete \"\033[31mred\"\n", 23 },
        { "file-delete a\x7f\n", 15 },
        { "\nno-auto-reboot\b\n", 17 },
    };
    for (size_t i = 0; i < sizeof controls / sizeof *controls; i++) {
        snprintf(path, sizeof path, "/tmp/p2v-plan-XXXXXX");
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, controls[i].text, controls[i].len), (ssize_t)controls[i].len);
        close(fd);
        struct p2v_plan p;
        assert_int_equal(p2v_plan_load(path, &p), -EINVAL);
        assert_int_equal(p.n, 0);
        unlink(path);
    }
    struct p2v_plan p;
    assert_int_equal(write_plan("no-auto-reboot\t# tab\r\nboot-geometry\r\n"), 0);
    assert_int_equal(p2v_plan_load(path, &p), 0);
    assert_int_equal(p.n, 2);
    p2v_plan_free(&p);
    unlink(path);
    assert_int_equal(p2v_plan_load("/nonexistent/plan", &p), -ENOENT);
    assert_int_equal(write_plan("efi-fallback /EFI/Microsoft/Boot/bootmgfw.efi\n"), 0);
    assert_int_equal(p2v_plan_load(path, &p), 0);
    assert_int_equal(p.n, 1);
    p2v_plan_free(&p);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(words_quotes_and_comments),
        cmocka_unit_test(errors_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
