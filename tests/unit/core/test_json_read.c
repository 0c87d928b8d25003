/* The JSON reader (core/json_read.c): what the writer (core/json.h) makes
 * reads back to the same values, escapes decode to UTF-8, numbers keep
 * their text and read as int64 when they fit, the accessors take NULL and
 * wrong types, errors say what and at which byte, and the limits hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "core/json_read.h"

/* Parses a C string; asserts the result r. */
static void parse(const char *text, int want, struct p2v_jdoc *doc, struct p2v_jerror *err)
{
    int r = p2v_jread(text, strlen(text), NULL, doc, err);
    if (r != want)
        fail_msg("'%s': %d (%s), wanted %d", text, r, err->msg, want);
}

/* The error offset and that the message names it. */
static void fails_at(const char *text, int want, size_t off, const char *words)
{
    struct p2v_jdoc doc;
    struct p2v_jerror err;
    parse(text, want, &doc, &err);
    assert_null(doc.root);
    assert_null(doc.mem);
    if (err.off != off || !strstr(err.msg, words))
        fail_msg("'%s': \"%s\" at %zu, wanted \"%s\" at %zu", text, err.msg, err.off, words, off);
    char at[32];
    snprintf(at, sizeof at, "at byte %zu", off);
    assert_non_null(strstr(err.msg, at));
}

static void written(struct p2v_json *j)
{
    p2v_json_object(j, NULL);
    p2v_json_str(j, "source", "/dev/sda");
    p2v_json_int(j, "neg", -9223372036854775807LL - 1);
    p2v_json_uint(j, "big", 18446744073709551615ull);
    p2v_json_bool(j, "yes", 1);
    p2v_json_bool(j, "no", 0);
    p2v_json_null(j, "none");
    p2v_json_fmt(j, "seconds", "%.1f", 2.25);
    p2v_json_str(j, "esc", "q\"b\\s\n\t\x01 caf\xc3\xa9 \xf0\x9f\x98\x80");
    p2v_json_array_lines(j, "changes");
    for (int i = 0; i < 3; i++) {
        p2v_json_object(j, NULL);
        p2v_json_int(j, "line", i + 1);
        p2v_json_str(j, "what", i ? "b" : "a");
        p2v_json_end(j);
    }
    p2v_json_end(j);
    p2v_json_array(j, "empty");
    p2v_json_end(j);
    p2v_json_object(j, "o");
    p2v_json_finish(j);
}

/* What the writer writes, the reader reads: values, order, types. */
static void round_trip(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    struct p2v_json j;
    p2v_json_init(&j, f);
    written(&j);
    assert_int_equal(fclose(f), 0);

    struct p2v_jdoc doc;
    struct p2v_jerror err;
    assert_int_equal(p2v_jread(text, len, NULL, &doc, &err), 0);
    const struct p2v_jvalue *r = doc.root;
    assert_int_equal(r->type, P2V_JOBJECT);
    assert_int_equal(p2v_jcount(r), 11);
    assert_string_equal(p2v_jat(r, 0)->name, "source");
    assert_string_equal(p2v_jget_str(r, "source"), "/dev/sda");
    int64_t v;
    assert_int_equal(p2v_jget_int(r, "neg", &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(p2v_jget_int(r, "big", &v), -ERANGE);
    assert_string_equal(p2v_jget(r, "big")->text, "18446744073709551615");
    int b = -1;
    assert_int_equal(p2v_jget_bool(r, "yes", &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(p2v_jget_bool(r, "no", &b), 0);
    assert_int_equal(b, 0);
    assert_int_equal(p2v_jget(r, "none")->type, P2V_JNULL);
    assert_int_equal(p2v_jget(r, "seconds")->type, P2V_JNUMBER);
    assert_string_equal(p2v_jget(r, "seconds")->text, "2.2");
    assert_int_equal(p2v_jget_int(r, "seconds", &v), -EINVAL);
    assert_string_equal(p2v_jget_str(r, "esc"), "q\"b\\s\n\t\x01 caf\xc3\xa9 \xf0\x9f\x98\x80");
    const struct p2v_jvalue *ch = p2v_jget(r, "changes");
    assert_int_equal(ch->type, P2V_JARRAY);
    assert_int_equal(p2v_jcount(ch), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(p2v_jget_int(p2v_jat(ch, (size_t)i), "line", &v), 0);
        assert_int_equal(v, i + 1);
        assert_string_equal(p2v_jget_str(p2v_jat(ch, (size_t)i), "what"), i ? "b" : "a");
    }
    assert_int_equal(p2v_jget(r, "empty")->type, P2V_JARRAY);
    assert_int_equal(p2v_jcount(p2v_jget(r, "empty")), 0);
    assert_int_equal(p2v_jget(r, "o")->type, P2V_JOBJECT);
    assert_int_equal(p2v_jcount(p2v_jget(r, "o")), 0);
    /* Offsets: the first member starts at its name, after the brace. */
    assert_int_equal(p2v_jat(r, 0)->off, 1);
    assert_int_equal(r->off, 0);
    p2v_jread_free(&doc);
    p2v_jread_free(&doc);   /* twice: nothing */
    free(text);
}

/* Every escape, and the writer's rendering of bytes that are not UTF-8
 * (a code point of the byte's value, so two bytes of UTF-8 come back). */
static void escapes(void **state)
{
    (void)state;
    struct p2v_jdoc doc;
    struct p2v_jerror err;
    parse("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u0041\\u00e9\\u20ac\\ud83d\\ude00\\uD83D\\uDE00\", "
          "\"\\u00ff\", \"a\\u0000b\", \"\"]", 0, &doc, &err);
    const struct p2v_jvalue *a = doc.root;
    assert_string_equal(p2v_jstr(p2v_jat(a, 0)), "\"\\/\b\f\n\r\t");
    assert_string_equal(p2v_jstr(p2v_jat(a, 1)), "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf0\x9f\x98\x80");
    assert_string_equal(p2v_jstr(p2v_jat(a, 2)), "\xc3\xbf");
    /* A NUL inside: the bytes are there, but no C string is given out. */
    assert_null(p2v_jstr(p2v_jat(a, 3)));
    assert_int_equal(p2v_jat(a, 3)->len, 3);
    assert_memory_equal(p2v_jat(a, 3)->text, "a\0b", 3);
    assert_string_equal(p2v_jstr(p2v_jat(a, 4)), "");
    p2v_jread_free(&doc);

    /* Blanks around the value; raw UTF-8 kept. */
    parse(" \t\r\n \"caf\xc3\xa9 \xe2\x82\xac\" \n", 0, &doc, &err);
    assert_string_equal(p2v_jstr(doc.root), "caf\xc3\xa9 \xe2\x82\xac");
    assert_int_equal(doc.root->off, 5);
    p2v_jread_free(&doc);
}

static void numbers(void **state)
{
    (void)state;
    static const char *const good[] = { "0", "-0", "12", "-12", "1.5", "-0.25e+3", "6E2", "1e-7",
                                        "9223372036854775807", "-9223372036854775808" };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        struct p2v_jdoc doc;
        struct p2v_jerror err;
        parse(good[i], 0, &doc, &err);
        assert_int_equal(doc.root->type, P2V_JNUMBER);
        assert_string_equal(doc.root->text, good[i]);
        p2v_jread_free(&doc);
    }
    struct p2v_jdoc doc;
    struct p2v_jerror err;
    int64_t v = 7;
    parse("[9223372036854775807, -9223372036854775808, 9223372036854775808, "
          "-9223372036854775809, -0, 1.0, 1e2, \"1\", true, 92233720368547758070.5, "
          "92233720368547758070e1]", 0, &doc, &err);
    const struct p2v_jvalue *a = doc.root;
    assert_int_equal(p2v_jint(p2v_jat(a, 0), &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(p2v_jint(p2v_jat(a, 1), &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(p2v_jint(p2v_jat(a, 2), &v), -ERANGE);
    assert_int_equal(p2v_jint(p2v_jat(a, 3), &v), -ERANGE);
    assert_int_equal(p2v_jint(p2v_jat(a, 4), &v), 0);
    assert_int_equal(v, 0);
    /* Not integers, however large (the fuzzer found ERANGE for the last two). */
    for (size_t i = 5; i < 11; i++)
        assert_int_equal(p2v_jint(p2v_jat(a, i), &v), -EINVAL);
    p2v_jread_free(&doc);
}

/* Accessors on NULL, on the wrong type, out of range. */
static void accessors(void **state)
{
    (void)state;
    struct p2v_jdoc doc;
    struct p2v_jerror err;
    parse("{\"a\": [1, \"x\"], \"s\": \"t\", \"n\": null}", 0, &doc, &err);
    const struct p2v_jvalue *r = doc.root;
    int64_t v;
    int b;
    assert_null(p2v_jget(NULL, "a"));
    assert_null(p2v_jget(r, NULL));
    assert_null(p2v_jget(r, "missing"));
    assert_null(p2v_jget(p2v_jget(r, "a"), "a"));       /* an array has no members */
    assert_null(p2v_jat(NULL, 0));
    assert_null(p2v_jat(p2v_jget(r, "a"), 2));
    assert_null(p2v_jat(p2v_jget(r, "s"), 0));
    assert_int_equal(p2v_jcount(NULL), 0);
    assert_int_equal(p2v_jcount(p2v_jget(r, "s")), 0);
    assert_null(p2v_jstr(NULL));
    assert_null(p2v_jstr(p2v_jat(p2v_jget(r, "a"), 0)));
    assert_string_equal(p2v_jstr(p2v_jat(p2v_jget(r, "a"), 1)), "x");
    assert_int_equal(p2v_jint(NULL, &v), -EINVAL);
    assert_int_equal(p2v_jget_int(r, "s", &v), -EINVAL);
    assert_int_equal(p2v_jget_bool(r, "n", &b), -EINVAL);
    assert_int_equal(p2v_jbool(NULL, &b), -EINVAL);
    assert_null(p2v_jget_str(p2v_jat(p2v_jget(p2v_jget(r, "nothing"), "x"), 3), "y"));
    /* An object's members by index too, with their names. */
    assert_string_equal(p2v_jat(r, 1)->name, "s");
    p2v_jread_free(&doc);
}

/* Errors: what went wrong, at which byte. */
static void errors(void **state)
{
    (void)state;
    fails_at("", -EINVAL, 0, "a value expected, found the end of the text");
    fails_at("   ", -EINVAL, 3, "a value expected");
    fails_at("{\"a\": 1,}", -EINVAL, 8, "a member name");
    fails_at("[1, 2,]", -EINVAL, 6, "a value expected, found ']'");
    fails_at("[1 2]", -EINVAL, 3, "',' or ']' expected, found '2'");
    fails_at("{\"a\" 1}", -EINVAL, 5, "':' after a member name");
    fails_at("{\"a\": 1 \"b\": 2}", -EINVAL, 8, "',' or '}'");
    fails_at("{1: 2}", -EINVAL, 1, "a member name");
    fails_at("[\"abc", -EINVAL, 1, "string without its closing quote");
    fails_at("\"a\\\"", -EINVAL, 0, "string without its closing quote");
    fails_at("\"a\\x\"", -EINVAL, 2, "unknown escape");
    fails_at("\"\\u12g4\"", -EINVAL, 1, "four hex digits");
    fails_at("\"\\u12\"", -EINVAL, 1, "four hex digits");
    fails_at("\"\\ud800\"", -EINVAL, 1, "high surrogate without its low half");
    fails_at("\"\\ud800\\u0041\"", -EINVAL, 1, "high surrogate");
    fails_at("\"ab\\udc00\"", -EINVAL, 3, "lone low surrogate");
    fails_at("\"a\nb\"", -EINVAL, 2, "control character 0x0a");
    fails_at("\"\xff\"", -EINVAL, 1, "invalid UTF-8");
    fails_at("\"\xc0\xaf\"", -EINVAL, 1, "invalid UTF-8");           /* overlong '/' */
    fails_at("\"\xed\xa0\x80\"", -EINVAL, 1, "invalid UTF-8");       /* a surrogate */
    fails_at("\"\xf4\x90\x80\x80\"", -EINVAL, 1, "invalid UTF-8");   /* past U+10FFFF */
    fails_at("\"\xe2\x82\"", -EINVAL, 1, "invalid UTF-8");           /* cut short */
    fails_at("01", -EINVAL, 0, "leading zero");
    fails_at("-", -EINVAL, 1, "a digit expected");
    fails_at("1.", -EINVAL, 2, "a digit expected");
    fails_at("1e+", -EINVAL, 3, "a digit expected");
    fails_at("+1", -EINVAL, 0, "a value expected, found '+'");
    fails_at("tru", -EINVAL, 0, "a value expected");
    fails_at("nul", -EINVAL, 0, "a value");
    fails_at("True", -EINVAL, 0, "a value");
    fails_at("1 2", -EINVAL, 2, "'2' after the value");
    fails_at("{} x", -EINVAL, 3, "'x' after the value");
    fails_at("\xef\xbb\xbf{}", -EINVAL, 0, "byte 0xef");
    fails_at("[1, /* c */ 2]", -EINVAL, 4, "found '/'");
    fails_at("{\"a\": 1, \"b\": 2, \"a\": 3}", -EINVAL, 17, "given twice");
    fails_at("[{\"x\": {\"k\": 1, \"k\": 1}}]", -EINVAL, 16, "given twice");
    /* A NUL byte in the text, outside a string. */
    struct p2v_jdoc doc;
    struct p2v_jerror err;
    assert_int_equal(p2v_jread("[1,\0]", 5, NULL, &doc, &err), -EINVAL);
    assert_int_equal(err.off, 3);
    assert_non_null(strstr(err.msg, "byte 0x00"));
    /* Names that differ only in length are two names. */
    parse("{\"a\": 1, \"ab\": 2, \"\": 3}", 0, &doc, &err);
    assert_int_equal(p2v_jcount(doc.root), 3);
    assert_non_null(p2v_jget(doc.root, ""));
    p2v_jread_free(&doc);
}

static void limits(void **state)
{
    (void)state;
    struct p2v_jdoc doc;
    struct p2v_jerror err;
    struct p2v_jlimits lim = { .max_size = 64, .max_depth = 3, .max_values = 5 };
    assert_int_equal(p2v_jread("[[[1]]]", 7, &lim, &doc, &err), 0);
    p2v_jread_free(&doc);
    assert_int_equal(p2v_jread("[[[[1]]]]", 9, &lim, &doc, &err), -E2BIG);
    assert_int_equal(err.off, 3);
    assert_non_null(strstr(err.msg, "nested deeper than 3"));
    assert_int_equal(p2v_jread("[1, 2, 3, 4]", 12, &lim, &doc, &err), 0);
    p2v_jread_free(&doc);
    assert_int_equal(p2v_jread("[1, 2, 3, 4, 5]", 15, &lim, &doc, &err), -E2BIG);
    assert_int_equal(err.off, 13);
    assert_non_null(strstr(err.msg, "more than 5 values"));
    char big[80];
    memset(big, ' ', sizeof big);
    big[0] = '1';
    assert_int_equal(p2v_jread(big, 64, &lim, &doc, &err), 0);
    p2v_jread_free(&doc);
    assert_int_equal(p2v_jread(big, 65, &lim, &doc, &err), -E2BIG);
    assert_non_null(strstr(err.msg, "65 bytes"));
    assert_null(doc.root);
    /* The default depth, and the hard limit over a larger one. */
    size_t n = 2000;
    char *deep = malloc(2 * n);
    assert_non_null(deep);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    assert_int_equal(p2v_jread(deep, 2 * n, NULL, &doc, &err), -E2BIG);
    assert_int_equal(err.off, 64);
    struct p2v_jlimits huge = { .max_size = 1 << 20, .max_depth = 100000, .max_values = 1 << 20 };
    assert_int_equal(p2v_jread(deep, 2 * n, &huge, &doc, &err), -E2BIG);
    assert_int_equal(err.off, 512);
    assert_int_equal(p2v_jread(deep + n - 512, 1024, &huge, &doc, &err), 0);
    p2v_jread_free(&doc);
    free(deep);
}

static void files(void **state)
{
    (void)state;
    struct p2v_jdoc doc;
    struct p2v_jerror err;
    char path[] = "/tmp/p2v-json-read-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char text[] = "{\"overlay_digest\": \"00ff\", \"changes\": []}\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    assert_int_equal(close(fd), 0);
    assert_int_equal(p2v_jread_file(path, NULL, &doc, &err), 0);
    assert_string_equal(p2v_jget_str(doc.root, "overlay_digest"), "00ff");
    p2v_jread_free(&doc);
    struct p2v_jlimits small = { .max_size = 10, .max_depth = 8, .max_values = 8 };
    assert_int_equal(p2v_jread_file(path, &small, &doc, &err), -E2BIG);
    assert_non_null(strstr(err.msg, "more than the 10"));
    assert_int_equal(truncate(path, 20), 0);   /* cut short */
    assert_int_equal(p2v_jread_file(path, NULL, &doc, &err), -EINVAL);
    assert_int_equal(err.off, 19);
    assert_non_null(strstr(err.msg, "string without its closing quote at byte 19"));
    assert_int_equal(truncate(path, 0), 0);
    assert_int_equal(p2v_jread_file(path, NULL, &doc, &err), -EINVAL);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(p2v_jread_file(path, NULL, &doc, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "No such file"));
    assert_int_equal(p2v_jread_file("/tmp", NULL, &doc, &err), -EINVAL);
    assert_string_equal(err.msg, "not a regular file");
    assert_null(doc.root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(escapes),
        cmocka_unit_test(numbers),
        cmocka_unit_test(accessors),
        cmocka_unit_test(errors),
        cmocka_unit_test(limits),
        cmocka_unit_test(files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
