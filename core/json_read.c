#include "json_read.h"

#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const struct p2v_jlimits p2v_jread_defaults = {
    .max_size = 64u << 20, .max_depth = 64, .max_values = 4u << 20,
};

/* The recursion is as deep as the nesting: this bounds the C stack. */
#define HARD_MAX_DEPTH 512

/* ---- memory: the tree lives in chunks freed together ---- */

struct p2v_jchunk {
    struct p2v_jchunk *next;
    size_t used, cap;
    max_align_t data[];
};

static void *arena_alloc(struct p2v_jdoc *doc, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    struct p2v_jchunk *c = doc->mem;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > (64u << 10) ? size : 64u << 10;
        c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = doc->mem;
        doc->mem = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    return p;
}

void p2v_jread_free(struct p2v_jdoc *doc)
{
    while (doc->mem) {
        struct p2v_jchunk *next = doc->mem->next;
        free(doc->mem);
        doc->mem = next;
    }
    doc->root = NULL;
}

/* ---- the parser ---- */

struct parser {
    const unsigned char *start, *p, *end;
    const struct p2v_jlimits *lim;
    size_t values;
    int depth;
    struct p2v_jdoc *doc;
    struct p2v_jerror *err;
};

/* Records the first error (at byte at) and returns r. */
static int fail(struct parser *ps, int r, const unsigned char *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct parser *ps, int r, const unsigned char *at, const char *fmt, ...)
{
    char what[120];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    ps->err->off = (size_t)(at - ps->start);
    snprintf(ps->err->msg, sizeof ps->err->msg, "%s at byte %zu", what, ps->err->off);
    return r;
}

static int nomem(struct parser *ps)
{
    ps->err->off = (size_t)(ps->p - ps->start);
    snprintf(ps->err->msg, sizeof ps->err->msg, "out of memory reading JSON");
    return -ENOMEM;
}

/* What the byte at p is, for a message. */
static const char *shown(const struct parser *ps, const unsigned char *p, char buf[16])
{
    if (p >= ps->end)
        return "the end of the text";
    if (*p >= 0x21 && *p < 0x7f)
        snprintf(buf, 16, "'%c'", *p);
    else
        snprintf(buf, 16, "byte 0x%02x", *p);
    return buf;
}

static int unexpected(struct parser *ps, const char *wanted)
{
    char b[16];
    return fail(ps, -EINVAL, ps->p, "%s expected, found %s", wanted, shown(ps, ps->p, b));
}

static void skip_blanks(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int hex4(const unsigned char *p, const unsigned char *end, unsigned *out)
{
    if (end - p < 4)
        return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The escape after the backslash at q: its code point in *cp, the bytes
 * it takes in *used.  0 or an error. */
static int escape(struct parser *ps, const unsigned char *q, const unsigned char *end,
                  unsigned *cp, size_t *used)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *k = q + 1 < end && q[1] ? strchr(from, q[1]) : NULL;
    if (k) {
        *cp = (unsigned char)to[k - from];
        *used = 2;
        return 0;
    }
    if (q + 1 >= end || q[1] != 'u')
        return fail(ps, -EINVAL, q, "unknown escape in a string");
    unsigned hi, lo;
    if (hex4(q + 2, end, &hi) < 0)
        return fail(ps, -EINVAL, q, "\\u escape without four hex digits");
    *used = 6;
    *cp = hi;
    if (hi >= 0xDC00 && hi < 0xE000)
        return fail(ps, -EINVAL, q, "\\u escape of a lone low surrogate");
    if (hi >= 0xD800 && hi < 0xDC00) {
        if (end - q < 12 || q[6] != '\\' || q[7] != 'u' || hex4(q + 8, end, &lo) < 0 ||
            lo < 0xDC00 || lo >= 0xE000)
            return fail(ps, -EINVAL, q, "\\u escape of a high surrogate without its low half");
        *cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
        *used = 12;
    }
    return 0;
}

/* A string at ps->p (its opening quote): decoded into the tree. */
static int string(struct parser *ps, const char **out, size_t *out_len)
{
    const unsigned char *open = ps->p, *q = ps->p + 1, *close = q;
    while (close < ps->end && *close != '"')
        close += *close == '\\' && close + 1 < ps->end ? 2 : 1;
    if (close >= ps->end)
        return fail(ps, -EINVAL, open, "string without its closing quote");
    /* Escapes never decode to more bytes than they take. */
    char *o = arena_alloc(ps->doc, (size_t)(close - q) + 1);
    if (!o)
        return nomem(ps);
    size_t n = 0;
    while (q < close) {
        if (*q == '\\') {
            unsigned cp = 0;
            size_t used = 0;
            int r = escape(ps, q, close, &cp, &used);
            if (r < 0)
                return r;
            n += put_utf8(o + n, cp);
            q += used;
        } else if (*q < 0x20) {
            return fail(ps, -EINVAL, q, "control character 0x%02x in a string (it must be "
                        "escaped)", *q);
        } else {
            int len = p2v_utf8_len(q, (size_t)(close - q));
            if (len == 0)
                return fail(ps, -EINVAL, q, "invalid UTF-8 in a string");
            memcpy(o + n, q, (size_t)len);
            n += (size_t)len;
            q += len;
        }
    }
    o[n] = 0;
    *out = o;
    *out_len = n;
    ps->p = close + 1;
    return 0;
}

static int digits(struct parser *ps)
{
    const unsigned char *s = ps->p;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
        ps->p++;
    return ps->p > s ? 0 : unexpected(ps, "a digit");
}

/* -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?, kept as written. */
static int number(struct parser *ps, struct p2v_jvalue *v)
{
    const unsigned char *s = ps->p;
    if (*ps->p == '-')
        ps->p++;
    if (ps->p < ps->end && *ps->p == '0') {
        ps->p++;
        if (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            return fail(ps, -EINVAL, ps->p - 1, "number with a leading zero");
    } else if (digits(ps) < 0) {
        return -EINVAL;
    }
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (digits(ps) < 0)
            return -EINVAL;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (digits(ps) < 0)
            return -EINVAL;
    }
    size_t len = (size_t)(ps->p - s);
    char *t = arena_alloc(ps->doc, len + 1);
    if (!t)
        return nomem(ps);
    memcpy(t, s, len);
    t[len] = 0;
    v->type = P2V_JNUMBER;
    v->text = t;
    v->len = len;
    return 0;
}

static int value(struct parser *ps, struct p2v_jvalue *v);

static int by_name(const void *a, const void *b)
{
    const struct p2v_jvalue *x = *(const struct p2v_jvalue *const *)a;
    const struct p2v_jvalue *y = *(const struct p2v_jvalue *const *)b;
    if (x->name_len != y->name_len)
        return x->name_len < y->name_len ? -1 : 1;
    int c = memcmp(x->name, y->name, x->name_len);
    return c ? c : x->off < y->off ? -1 : x->off > y->off;
}

/* No name twice in one object: sorted, a name equals its neighbour's. */
static int unique_names(struct parser *ps, const struct p2v_jvalue *items, size_t n)
{
    if (n < 2)
        return 0;
    const struct p2v_jvalue **s = malloc(n * sizeof *s);
    if (!s)
        return nomem(ps);
    for (size_t i = 0; i < n; i++)
        s[i] = &items[i];
    qsort(s, n, sizeof *s, by_name);
    int r = 0;
    for (size_t i = 1; i < n && r == 0; i++)
        if (s[i]->name_len == s[i - 1]->name_len && !memcmp(s[i]->name, s[i - 1]->name, s[i]->name_len))
            r = fail(ps, -EINVAL, ps->start + s[i]->off, "a member name given twice in one object");
    free(s);
    return r;
}

/* An array or object at ps->p (its opening bracket).  Its items are
 * gathered in a growing buffer, then moved into the tree. */
static int container(struct parser *ps, struct p2v_jvalue *v)
{
    int object = *ps->p == '{';
    char close = object ? '}' : ']';
    if (++ps->depth > ps->lim->max_depth || ps->depth > HARD_MAX_DEPTH)
        return fail(ps, -E2BIG, ps->p, "arrays and objects nested deeper than %d",
                    ps->lim->max_depth < HARD_MAX_DEPTH ? ps->lim->max_depth : HARD_MAX_DEPTH);
    ps->p++;
    struct p2v_jvalue *items = NULL;
    size_t n = 0, cap = 0;
    int r = 0;
    skip_blanks(ps);
    if (ps->p < ps->end && *ps->p == close)
        goto done;
    for (;;) {
        if (n == cap) {
            struct p2v_jvalue *ni = realloc(items, (cap = cap ? cap * 2 : 8) * sizeof *ni);
            if (!ni) {
                r = nomem(ps);
                break;
            }
            items = ni;
        }
        struct p2v_jvalue *it = &items[n];
        memset(it, 0, sizeof *it);
        skip_blanks(ps);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"') {
                r = unexpected(ps, "a member name (a string)");
                break;
            }
            size_t at = (size_t)(ps->p - ps->start);
            if ((r = string(ps, &it->name, &it->name_len)) < 0)
                break;
            skip_blanks(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                r = unexpected(ps, "':' after a member name");
                break;
            }
            ps->p++;
            if ((r = value(ps, it)) < 0)
                break;
            it->off = at;   /* a member starts at its name */
        } else if ((r = value(ps, it)) < 0) {
            break;
        }
        n++;
        skip_blanks(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close)
            break;
        r = unexpected(ps, object ? "',' or '}'" : "',' or ']'");
        break;
    }
done:
    if (r == 0 && object)
        r = unique_names(ps, items, n);
    if (r == 0 && n) {
        struct p2v_jvalue *kept = arena_alloc(ps->doc, n * sizeof *kept);
        if (kept)
            memcpy(kept, items, n * sizeof *kept);
        else
            r = nomem(ps);
        v->items = kept;
    }
    free(items);
    if (r < 0)
        return r;
    ps->p++;
    ps->depth--;
    v->type = object ? P2V_JOBJECT : P2V_JARRAY;
    v->n = n;
    return 0;
}

static int literal(struct parser *ps, const char *word)
{
    size_t len = strlen(word);
    if ((size_t)(ps->end - ps->p) < len || memcmp(ps->p, word, len) != 0)
        return unexpected(ps, "a value");
    ps->p += len;
    return 0;
}

/* The value after any blanks at ps->p.  v's name (a member's) is kept. */
static int value(struct parser *ps, struct p2v_jvalue *v)
{
    skip_blanks(ps);
    if (++ps->values > ps->lim->max_values)
        return fail(ps, -E2BIG, ps->p, "more than %zu values", ps->lim->max_values);
    v->off = (size_t)(ps->p - ps->start);
    if (ps->p >= ps->end)
        return unexpected(ps, "a value");
    switch (*ps->p) {
    case '{':
    case '[':
        return container(ps, v);
    case '"':
        v->type = P2V_JSTRING;
        return string(ps, &v->text, &v->len);
    case 't':
    case 'f':
        v->type = P2V_JBOOL;
        v->boolean = *ps->p == 't';
        return literal(ps, v->boolean ? "true" : "false");
    case 'n':
        v->type = P2V_JNULL;
        return literal(ps, "null");
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return number(ps, v);
        return unexpected(ps, "a value");
    }
}

int p2v_jread(const char *text, size_t len, const struct p2v_jlimits *lim,
              struct p2v_jdoc *doc, struct p2v_jerror *err)
{
    struct p2v_jerror spare;
    err = err ? err : &spare;
    memset(err, 0, sizeof *err);
    doc->root = NULL;
    doc->mem = NULL;
    lim = lim ? lim : &p2v_jread_defaults;
    if (!text)
        text = "", len = 0;   /* no arithmetic on a null pointer */
    struct parser ps = {
        .start = (const unsigned char *)text, .p = (const unsigned char *)text,
        .end = (const unsigned char *)text + len, .lim = lim, .doc = doc, .err = err,
    };
    if (len > lim->max_size) {
        snprintf(err->msg, sizeof err->msg, "the text is %zu bytes, more than the %zu this "
                 "reader takes", len, lim->max_size);
        return -E2BIG;
    }
    struct p2v_jvalue *root = arena_alloc(doc, sizeof *root);
    int r = root ? 0 : nomem(&ps);
    if (r == 0) {
        memset(root, 0, sizeof *root);
        r = value(&ps, root);
    }
    if (r == 0) {
        skip_blanks(&ps);
        char b[16];
        if (ps.p < ps.end)
            r = fail(&ps, -EINVAL, ps.p, "%s after the value (only blanks may follow it)",
                     shown(&ps, ps.p, b));
    }
    if (r < 0) {
        p2v_jread_free(doc);
        return r;
    }
    doc->root = root;
    return 0;
}

static int read_error(struct p2v_jerror *err, int r, const char *what)
{
    if (r == -EINVAL)
        snprintf(err->msg, sizeof err->msg, "%s", what);
    else
        snprintf(err->msg, sizeof err->msg, "%s: %s", what, strerror(-r));
    return r;
}

int p2v_jread_file(const char *path, const struct p2v_jlimits *lim, struct p2v_jdoc *doc,
                   struct p2v_jerror *err)
{
    struct p2v_jerror spare;
    err = err ? err : &spare;
    lim = lim ? lim : &p2v_jread_defaults;
    memset(err, 0, sizeof *err);
    doc->root = NULL;
    doc->mem = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return read_error(err, -errno, "cannot open it");
    struct stat st;
    int r = fstat(fd, &st) < 0 ? -errno : !S_ISREG(st.st_mode) ? -EINVAL : 0;
    if (r < 0) {
        close(fd);
        return read_error(err, r, r == -EINVAL ? "not a regular file" : "cannot stat it");
    }
    /* One byte past the limit tells a file that is too large. */
    size_t max = lim->max_size < SIZE_MAX - 1 ? lim->max_size : SIZE_MAX - 2;
    size_t cap = (uint64_t)st.st_size < max ? (size_t)st.st_size + 1 : max + 1;
    char *buf = malloc(cap);
    size_t len = 0;
    r = buf ? 0 : -ENOMEM;
    while (r == 0 && len < cap) {
        ssize_t got = read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            r = -errno;
        else if (got == 0)
            break;
        else
            len += (size_t)got;
    }
    close(fd);
    if (r < 0) {
        free(buf);
        return read_error(err, r, "reading it failed");
    }
    if (len > lim->max_size) {
        free(buf);
        snprintf(err->msg, sizeof err->msg, "it is %lld bytes, more than the %zu this reader "
                 "takes", (long long)st.st_size, lim->max_size);
        return -E2BIG;
    }
    r = p2v_jread(buf, len, lim, doc, err);
    free(buf);
    return r;
}

/* ---- accessors ---- */

const struct p2v_jvalue *p2v_jget(const struct p2v_jvalue *obj, const char *name)
{
    if (!obj || obj->type != P2V_JOBJECT || !name)
        return NULL;
    size_t len = strlen(name);
    for (size_t i = 0; i < obj->n; i++)
        if (obj->items[i].name_len == len && !memcmp(obj->items[i].name, name, len))
            return &obj->items[i];
    return NULL;
}

const struct p2v_jvalue *p2v_jat(const struct p2v_jvalue *v, size_t i)
{
    if (!v || (v->type != P2V_JARRAY && v->type != P2V_JOBJECT) || i >= v->n)
        return NULL;
    return &v->items[i];
}

size_t p2v_jcount(const struct p2v_jvalue *v)
{
    return v && (v->type == P2V_JARRAY || v->type == P2V_JOBJECT) ? v->n : 0;
}

const char *p2v_jstr(const struct p2v_jvalue *v)
{
    if (!v || v->type != P2V_JSTRING || strlen(v->text) != v->len)
        return NULL;
    return v->text;
}

int p2v_jint(const struct p2v_jvalue *v, int64_t *out)
{
    /* A fraction or an exponent is not an integer, however large. */
    if (!v || v->type != P2V_JNUMBER || strpbrk(v->text, ".eE"))
        return -EINVAL;
    const char *s = v->text;
    int neg = *s == '-';
    s += neg;
    /* Accumulated negative, so INT64_MIN fits. */
    int64_t acc = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        int d = *s - '0';
        if (acc < (INT64_MIN + d) / 10)
            return -ERANGE;
        acc = acc * 10 - d;
    }
    if (!neg && acc == INT64_MIN)
        return -ERANGE;
    *out = neg ? acc : -acc;
    return 0;
}

int p2v_jbool(const struct p2v_jvalue *v, int *out)
{
    if (!v || v->type != P2V_JBOOL)
        return -EINVAL;
    *out = v->boolean;
    return 0;
}

const char *p2v_jget_str(const struct p2v_jvalue *obj, const char *name)
{
    return p2v_jstr(p2v_jget(obj, name));
}

int p2v_jget_int(const struct p2v_jvalue *obj, const char *name, int64_t *out)
{
    return p2v_jint(p2v_jget(obj, name), out);
}

int p2v_jget_bool(const struct p2v_jvalue *obj, const char *name, int *out)
{
    return p2v_jbool(p2v_jget(obj, name), out);
}
