/* The JSON reader on arbitrary bytes: the fix-up record in a state
 * directory and the reports a batch reads back are p2v's own, but what a
 * file holds is read as untrusted.  A tree that parses is walked and
 * checked (types, names only on members, offsets inside the text, strings
 * valid UTF-8, integers as strtoll reads them), written again with the
 * writer (core/json.h) and read back to the same tree; tight limits give
 * the same answer or a limit error; an error names a byte of the text. */
#include "tests/fuzz/harness.h"
#include "core/json.h"
#include "core/json_read.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s\n", #c); abort(); } } while (0)

struct walk {
    size_t size;
    int depth;         /* the deepest nesting seen */
    int nul;           /* a string or name holds a NUL */
};

static void check_utf8(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        int n = p[i] < 0x80 ? 1 : p[i] < 0xE0 ? 2 : p[i] < 0xF0 ? 3 : 4;
        CHECK(p[i] < 0x80 || p[i] >= 0xC2);
        CHECK(p[i] < 0xF5 && i + (size_t)n <= len);
        for (int k = 1; k < n; k++)
            CHECK((p[i + k] & 0xC0) == 0x80);
        i += (size_t)n;
    }
    CHECK(s[len] == 0);
}

static void walk(const struct p2v_jvalue *v, int depth, int member, struct walk *w)
{
    CHECK(v->off < w->size);
    CHECK(!member == !v->name);
    if (v->name) {
        check_utf8(v->name, v->name_len);
        w->nul |= strlen(v->name) != v->name_len;
    }
    if (depth > w->depth)
        w->depth = depth;
    switch (v->type) {
    case P2V_JSTRING:
        check_utf8(v->text, v->len);
        w->nul |= strlen(v->text) != v->len;
        CHECK((p2v_jstr(v) != NULL) == (strlen(v->text) == v->len));
        break;
    case P2V_JNUMBER: {
        CHECK(strlen(v->text) == v->len && v->len > 0);
        int64_t i;
        int r = p2v_jint(v, &i);
        if (!strpbrk(v->text, ".eE")) {
            errno = 0;
            long long s = strtoll(v->text, NULL, 10);
            CHECK(r == (errno == ERANGE ? -ERANGE : 0));
            CHECK(r < 0 || i == s);
        } else {
            CHECK(r == -EINVAL);
        }
        break;
    }
    case P2V_JARRAY:
    case P2V_JOBJECT:
        CHECK(v->n == 0 || v->items);
        for (size_t i = 0; i < v->n; i++) {
            walk(&v->items[i], depth + 1, v->type == P2V_JOBJECT, w);
            CHECK(v->items[i].off > v->off);
            CHECK(p2v_jat(v, i) == &v->items[i]);
            if (v->type == P2V_JOBJECT && !w->nul)
                CHECK(p2v_jget(v, v->items[i].name) == &v->items[i]);
        }
        CHECK(p2v_jat(v, v->n) == NULL);
        break;
    case P2V_JBOOL:
        CHECK(v->boolean == 0 || v->boolean == 1);
        break;
    case P2V_JNULL:
        break;
    }
}

static void write_value(struct p2v_json *j, const struct p2v_jvalue *v)
{
    switch (v->type) {
    case P2V_JNULL: p2v_json_null(j, v->name); break;
    case P2V_JBOOL: p2v_json_bool(j, v->name, v->boolean); break;
    case P2V_JNUMBER: p2v_json_fmt(j, v->name, "%s", v->text); break;
    case P2V_JSTRING: p2v_json_str(j, v->name, v->text); break;
    case P2V_JARRAY:
    case P2V_JOBJECT:
        if (v->type == P2V_JARRAY)
            p2v_json_array(j, v->name);
        else
            p2v_json_object(j, v->name);
        for (size_t i = 0; i < v->n; i++)
            write_value(j, &v->items[i]);
        p2v_json_end(j);
        break;
    }
}

static void same(const struct p2v_jvalue *a, const struct p2v_jvalue *b)
{
    CHECK(a->type == b->type && a->n == b->n && a->boolean == b->boolean);
    CHECK(!a->name == !b->name && (!a->name || !strcmp(a->name, b->name)));
    CHECK(!a->text == !b->text && (!a->text || (a->len == b->len && !memcmp(a->text, b->text, a->len))));
    for (size_t i = 0; i < a->n; i++)
        same(&a->items[i], &b->items[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    const char *text = (const char *)data;
    struct p2v_jdoc doc;
    struct p2v_jerror err;
    int r = p2v_jread(text, size, NULL, &doc, &err);
    CHECK(r == 0 || r == -EINVAL || r == -E2BIG || r == -ENOMEM);
    if (r < 0) {
        CHECK(!doc.root && !doc.mem && err.msg[0] && err.off <= size);
    } else {
        CHECK(doc.root && !doc.root->name);
        struct walk w = { .size = size };
        walk(doc.root, 0, 0, &w);
        /* The writer tracks 16 levels and writes C strings. */
        if (w.depth < P2V_JSON_DEPTH && !w.nul) {
            char *out = NULL;
            size_t len = 0;
            FILE *f = open_memstream(&out, &len);
            CHECK(f);
            struct p2v_json j;
            p2v_json_init(&j, f);
            write_value(&j, doc.root);
            p2v_json_finish(&j);
            CHECK(fclose(f) == 0);
            struct p2v_jdoc again;
            CHECK(p2v_jread(out, len, NULL, &again, &err) == 0);
            same(doc.root, again.root);
            p2v_jread_free(&again);
            free(out);
        }
    }
    /* Tight limits: the same tree, or a limit's error; never another. */
    struct p2v_jlimits tight = { .max_size = size, .max_depth = 4, .max_values = 64 };
    struct p2v_jdoc small;
    int rs = p2v_jread(text, size, &tight, &small, &err);
    if (r == 0)
        CHECK(rs == 0 || rs == -E2BIG);
    else
        CHECK(rs < 0);
    if (rs == 0) {
        CHECK(r == 0);
        same(doc.root, small.root);
    }
    p2v_jread_free(&small);
    p2v_jread_free(&doc);
    return 0;
}
