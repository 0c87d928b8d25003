/* What the VM writers share (vmdef.c): words quoted for a POSIX shell
 * and for PowerShell so that no character of a name is interpreted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine/vmdef.h"

static void quoting(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    p2v_sh_quote(f, "it's $HOME");
    fputc(' ', f);
    p2v_ps_quote(f, "it's $env:X");
    fclose(f);
    assert_string_equal(buf, "'it'\\''s $HOME' 'it''s $env:X'");
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quoting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
