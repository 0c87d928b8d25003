/* One small JSON writer for every --json output and report, and XML text
 * escaping for the machine configuration.
 *
 * The writer keeps track of where it is (inside which objects and arrays,
 * whether a member was written yet), so callers name members and values
 * and never write a brace, a quote or a comma.  Its output is p2v's one
 * style: {"key": value, "key": [1, 2]} on one line, then a newline; an
 * array opened with p2v_json_array_lines puts each element on a line of
 * its own, indented by two blanks.
 *
 *   struct p2v_json j;
 *   p2v_json_init(&j, stdout);
 *   p2v_json_object(&j, NULL);          // top level: no key
 *   p2v_json_str(&j, "source", path);
 *   p2v_json_array(&j, "parts");
 *   p2v_json_uint(&j, NULL, 1);         // inside an array: no key
 *   p2v_json_finish(&j);                // closes what is open, newline
 */
#ifndef P2V_JSON_H
#define P2V_JSON_H

#include <stddef.h>
#include <stdio.h>

#define P2V_JSON_DEPTH 16

struct p2v_json {
    FILE *f;
    int depth;                            /* containers open */
    char close[P2V_JSON_DEPTH];           /* '}' or ']' for each */
    unsigned char any[P2V_JSON_DEPTH];    /* it has a member or element */
    unsigned char lines[P2V_JSON_DEPTH];  /* its elements go on lines of their own */
};

void p2v_json_init(struct p2v_json *j, FILE *f);
/* Opens an object or an array as the next member (key) or element (key
 * NULL: at the top, or inside an array). */
void p2v_json_object(struct p2v_json *j, const char *key);
void p2v_json_array(struct p2v_json *j, const char *key);
void p2v_json_array_lines(struct p2v_json *j, const char *key);
/* Closes the innermost object or array. */
void p2v_json_end(struct p2v_json *j);
/* Closes everything still open and ends the line. */
void p2v_json_finish(struct p2v_json *j);

/* Values; key NULL inside an array. */
void p2v_json_str(struct p2v_json *j, const char *key, const char *s);
/* s, or null when s is NULL or empty. */
void p2v_json_str_or_null(struct p2v_json *j, const char *key, const char *s);
void p2v_json_int(struct p2v_json *j, const char *key, long long v);
void p2v_json_uint(struct p2v_json *j, const char *key, unsigned long long v);
void p2v_json_bool(struct p2v_json *j, const char *key, int v);
void p2v_json_null(struct p2v_json *j, const char *key);
/* A value printf writes as it is (a number with a fixed format). */
void p2v_json_fmt(struct p2v_json *j, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* s as a JSON string literal, quotes included (the writer's own). */
void json_string(FILE *f, const char *s);
/* Length of the valid UTF-8 sequence at p, which has avail bytes (a
 * NUL-terminated string may say 4), or 0 if there is none: overlong forms,
 * surrogates and values past U+10FFFF are not UTF-8.  Shared by the writer
 * and core/json_read.c. */
int p2v_utf8_len(const unsigned char *p, size_t avail);
/* Writes s as XML character data or attribute text (quotes escaped);
 * bytes that are not UTF-8 and control characters become '?'. */
void xml_text(FILE *f, const char *s);

#endif
