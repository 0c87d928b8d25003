/* Control bytes on their way to a terminal become \xNN; text, tabs and
 * UTF-8 pass; newlines as asked; the output is always terminated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "core/term_safe.h"

static void escapes(void **state)
{
    (void)state;
    char out[128];
    assert_string_equal(p2v_term_safe("plain\ttext", out, sizeof out, 0), "plain\ttext");
    assert_string_equal(p2v_term_safe("\x1b[31mred\x1b[0m", out, sizeof out, 0),
                        "\\x1b[31mred\\x1b[0m");
    assert_string_equal(p2v_term_safe("a\nb\rc\x7f", out, sizeof out, 0), "a\\x0ab\\x0dc\\x7f");
    assert_string_equal(p2v_term_safe("a\nb", out, sizeof out, 1), "a\nb");
    assert_string_equal(p2v_term_safe("caf\xc3\xa9", out, sizeof out, 0), "caf\xc3\xa9");
    /* Short buffers: cut, never overrun, always terminated. */
    char small[8];
    memset(small, 'X', sizeof small);
    p2v_term_safe("\x1b\x1b\x1b\x1b", small, sizeof small, 0);
    assert_true(strlen(small) < sizeof small);
    assert_string_equal(small, "\\x1b");
    p2v_term_safe("abcdefghij", small, sizeof small, 0);
    assert_string_equal(small, "abcdefg");
    /* Exactly the room a message needs (4 a byte and the NUL): all of it. */
    char two[5];
    assert_string_equal(p2v_term_safe("x", two, sizeof two, 0), "x");
    assert_string_equal(p2v_term_safe("\x1b", two, sizeof two, 0), "\\x1b");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
