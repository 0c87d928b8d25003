/* The JSON writer (core/json.c): p2v's one output style, members and
 * elements separated as they should be at every depth, the lines style of
 * the fix-up report, escaping, and output that Python's json module reads
 * back to the same values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"

/* Runs write() on a memory stream and returns what it wrote (free it). */
static char *render(void (*write)(struct p2v_json *j))
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    struct p2v_json j;
    p2v_json_init(&j, f);
    write(&j);
    assert_int_equal(fclose(f), 0);
    return text;
}

static void nested(struct p2v_json *j)
{
    p2v_json_object(j, NULL);
    p2v_json_str(j, "source", "/dev/sda");
    p2v_json_int(j, "n", -3);
    p2v_json_uint(j, "size", 18446744073709551615ull);
    p2v_json_bool(j, "yes", 1);
    p2v_json_null(j, "none");
    p2v_json_str_or_null(j, "empty", "");
    p2v_json_str_or_null(j, "set", "x");
    p2v_json_array(j, "list");
    p2v_json_uint(j, NULL, 1);
    p2v_json_array(j, NULL);
    p2v_json_uint(j, NULL, 2);
    p2v_json_uint(j, NULL, 3);
    p2v_json_end(j);
    p2v_json_object(j, NULL);
    p2v_json_end(j);
    p2v_json_end(j);
    p2v_json_object(j, "o");
    p2v_json_fmt(j, "seconds", "%.1f", 2.25);
    p2v_json_array(j, "none");
    p2v_json_finish(j);  /* closes the array, "o" and the top */
}

static void style(void **state)
{
    (void)state;
    char *t = render(nested);
    assert_string_equal(t, "{\"source\": \"/dev/sda\", \"n\": -3, \"size\": 18446744073709551615, "
                           "\"yes\": true, \"none\": null, \"empty\": null, \"set\": \"x\", "
                           "\"list\": [1, [2, 3], {}], \"o\": {\"seconds\": 2.2, \"none\": []}}\n");
    free(t);
}

static void lines(struct p2v_json *j)
{
    p2v_json_object(j, NULL);
    p2v_json_array_lines(j, "changes");
    for (int i = 0; i < 2; i++) {
        p2v_json_object(j, NULL);
        p2v_json_int(j, "line", i + 1);
        p2v_json_end(j);
    }
    p2v_json_end(j);
    p2v_json_array_lines(j, "empty");
    p2v_json_finish(j);
}

static void lines_style(void **state)
{
    (void)state;
    char *t = render(lines);
    assert_string_equal(t, "{\"changes\": [\n  {\"line\": 1},\n  {\"line\": 2}\n], \"empty\": []}\n");
    free(t);
}

static void escapes(struct p2v_json *j)
{
    p2v_json_array(j, NULL);
    p2v_json_str(j, NULL, "q\"b\\s\n\t\x01");
    p2v_json_str(j, NULL, "caf\xc3\xa9");   /* UTF-8 stays */
    p2v_json_str(j, NULL, "bad\xff");        /* not UTF-8: a code point of its value */
    p2v_json_str(j, NULL, NULL);             /* no string: "" */
    p2v_json_finish(j);
}

static void escaping(void **state)
{
    (void)state;
    char *t = render(escapes);
    assert_string_equal(t, "[\"q\\\"b\\\\s\\u000a\\u0009\\u0001\", \"caf\xc3\xa9\", "
                           "\"bad\\u00ff\", \"\"]\n");
    free(t);
}

/* An independent reader: Python's json module takes what the writer made. */
static void python_reads_it(void **state)
{
    (void)state;
    char *t = render(nested);
    char path[] = "/tmp/p2v-json-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(t, f);
    assert_int_equal(fclose(f), 0);
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); "
             "sys.exit(0 if d[\"list\"]==[1,[2,3],{}] and d[\"empty\"] is None and "
             "d[\"o\"][\"seconds\"]==2.2 else 1)' %s", path);
    int rc = system(cmd);
    unlink(path);
    free(t);
    assert_int_equal(rc, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(style),
        cmocka_unit_test(lines_style),
        cmocka_unit_test(escaping),
        cmocka_unit_test(python_reads_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
