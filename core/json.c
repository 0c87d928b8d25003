#include "json.h"

#include <stdarg.h>

int p2v_utf8_len(const unsigned char *p, size_t avail)
{
    int n = p[0] < 0x80 ? 1 : p[0] >= 0xC2 && p[0] < 0xE0 ? 2
          : p[0] >= 0xE0 && p[0] < 0xF0 ? 3 : p[0] >= 0xF0 && p[0] < 0xF5 ? 4 : 0;
    if (avail < (size_t)n)
        return 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    /* Overlong 3- and 4-byte forms, surrogates and values past U+10FFFF. */
    if ((n == 3 && ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0))) ||
        (n == 4 && ((p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90))))
        return 0;
    return n;
}

/* In a NUL-terminated string: the NUL is no continuation byte, so the
 * sequence check stops there. */
static int utf8_len(const unsigned char *p)
{
    return p2v_utf8_len(p, 4);
}

void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = utf8_len(p);
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || n == 0)
            /* Bytes that are not UTF-8 (Linux paths may hold any byte) are
             * shown as the code point of the same value, so the JSON stays
             * valid; such a path cannot be round-tripped exactly. */
            fprintf(f, "\\u%04x", *p);
        else
            fwrite(p, 1, (size_t)n, f);
        p += n ? n : 1;
    }
    fputc('"', f);
}

void xml_text(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = utf8_len(p);
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        /* As references, so attribute normalisation cannot turn them into blanks. */
        case '\t': fputs("&#9;", f); break;
        case '\n': fputs("&#10;", f); break;
        case '\r': fputs("&#13;", f); break;
        default:
            /* XML 1.0 has no way to write other control characters. */
            if (n == 0 || (*p < 0x20 && *p != '\t' && *p != '\n'))
                fputc('?', f);
            else
                fwrite(p, 1, (size_t)n, f);
        }
        p += n ? n : 1;
    }
}

/* ---- the writer ---- */

void p2v_json_init(struct p2v_json *j, FILE *f)
{
    j->f = f;
    j->depth = 0;
}

/* The separator and the key before a member or element. */
static void next(struct p2v_json *j, const char *key)
{
    if (j->depth > 0) {
        int d = j->depth - 1;
        if (j->lines[d])
            fputs(j->any[d] ? ",\n  " : "\n  ", j->f);
        else if (j->any[d])
            fputs(", ", j->f);
        j->any[d] = 1;
    }
    if (key) {
        json_string(j->f, key);
        fputs(": ", j->f);
    }
}

static void open_container(struct p2v_json *j, const char *key, char open, char close, int lines)
{
    next(j, key);
    fputc(open, j->f);
    if (j->depth < P2V_JSON_DEPTH) {
        j->close[j->depth] = close;
        j->any[j->depth] = 0;
        j->lines[j->depth] = (unsigned char)lines;
    }
    j->depth++;
}

void p2v_json_object(struct p2v_json *j, const char *key)
{
    open_container(j, key, '{', '}', 0);
}

void p2v_json_array(struct p2v_json *j, const char *key)
{
    open_container(j, key, '[', ']', 0);
}

void p2v_json_array_lines(struct p2v_json *j, const char *key)
{
    open_container(j, key, '[', ']', 1);
}

void p2v_json_end(struct p2v_json *j)
{
    if (j->depth == 0)
        return;
    int d = --j->depth;
    if (d < P2V_JSON_DEPTH) {
        if (j->lines[d] && j->any[d])
            fputc('\n', j->f);
        fputc(j->close[d], j->f);
    }
}

void p2v_json_finish(struct p2v_json *j)
{
    while (j->depth > 0)
        p2v_json_end(j);
    fputc('\n', j->f);
}

void p2v_json_str(struct p2v_json *j, const char *key, const char *s)
{
    next(j, key);
    json_string(j->f, s ? s : "");
}

void p2v_json_str_or_null(struct p2v_json *j, const char *key, const char *s)
{
    if (s && *s)
        p2v_json_str(j, key, s);
    else
        p2v_json_null(j, key);
}

void p2v_json_int(struct p2v_json *j, const char *key, long long v)
{
    next(j, key);
    fprintf(j->f, "%lld", v);
}

void p2v_json_uint(struct p2v_json *j, const char *key, unsigned long long v)
{
    next(j, key);
    fprintf(j->f, "%llu", v);
}

void p2v_json_bool(struct p2v_json *j, const char *key, int v)
{
    next(j, key);
    fputs(v ? "true" : "false", j->f);
}

void p2v_json_null(struct p2v_json *j, const char *key)
{
    next(j, key);
    fputs("null", j->f);
}

void p2v_json_fmt(struct p2v_json *j, const char *key, const char *fmt, ...)
{
    next(j, key);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(j->f, fmt, ap);
    va_end(ap);
}
