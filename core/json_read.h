/* A small JSON reader, for p2v's own documents read back (the fix-up
 * record in a state directory, a check report, a batch job's summary).
 *
 * The text becomes a tree that the caller walks with accessors which
 * accept NULL, so a missing member or a value of the wrong type anywhere
 * in a chain ends as NULL (or an error), never as a crash:
 *
 *   struct p2v_jdoc doc;
 *   struct p2v_jerror err;
 *   if (p2v_jread_file(path, NULL, &doc, &err) < 0)
 *       p2v_err("%s: %s", path, err.msg);
 *   const char *what = p2v_jget_str(p2v_jat(p2v_jget(doc.root, "changes"), 0), "what");
 *   p2v_jread_free(&doc);
 *
 * What it reads is RFC 8259 JSON, strictly: UTF-8 text (invalid sequences
 * refused), escapes decoded to UTF-8 (\u surrogate pairs joined, a lone
 * surrogate refused), numbers kept as written, no trailing commas or
 * comments, no member name twice in one object (which one would count is
 * ambiguous).  The input is treated as untrusted bytes: size, nesting and
 * the number of values are limited, and every error names the byte offset
 * where the text went wrong. */
#ifndef P2V_JSON_READ_H
#define P2V_JSON_READ_H

#include <stddef.h>
#include <stdint.h>

enum p2v_jtype { P2V_JNULL, P2V_JBOOL, P2V_JNUMBER, P2V_JSTRING, P2V_JARRAY, P2V_JOBJECT };

struct p2v_jvalue {
    enum p2v_jtype type;
    int boolean;                     /* P2V_JBOOL: 0 or 1 */
    size_t off;                      /* byte offset of its first character in the text */
    /* A member of an object: its name (decoded, NUL-terminated), else NULL. */
    const char *name;
    size_t name_len;
    /* P2V_JSTRING: the decoded UTF-8 text; P2V_JNUMBER: the number as it
     * is written.  NUL-terminated; len bytes (a string with a \u0000
     * escape holds a NUL inside). */
    const char *text;
    size_t len;
    /* P2V_JARRAY, P2V_JOBJECT: the n elements or members, in text order. */
    const struct p2v_jvalue *items;
    size_t n;
};

struct p2v_jlimits {
    size_t max_size;      /* bytes of text */
    int max_depth;        /* arrays and objects open at once (at most 512) */
    size_t max_values;    /* values in all, members and elements included */
};
/* 64 MiB, 64 levels, 4 Mi values: far beyond any document p2v writes. */
extern const struct p2v_jlimits p2v_jread_defaults;

struct p2v_jchunk;
struct p2v_jdoc {
    const struct p2v_jvalue *root;
    struct p2v_jchunk *mem;          /* everything the tree holds */
};

struct p2v_jerror {
    size_t off;          /* where the text went wrong (0 for a file that cannot be read) */
    char msg[160];       /* what went wrong, with "at byte N" when it is in the text */
};

/* Parses text[0..len), which holds exactly one value (blanks around it
 * allowed).  lim NULL: the defaults.  0, or -EINVAL (not JSON), -E2BIG (a
 * limit) or -ENOMEM, with err (unless NULL) filled and doc empty. */
int p2v_jread(const char *text, size_t len, const struct p2v_jlimits *lim,
              struct p2v_jdoc *doc, struct p2v_jerror *err);
/* The same for a whole regular file; -errno when it cannot be read (-ENOENT
 * when it does not exist), with err->msg saying why. */
int p2v_jread_file(const char *path, const struct p2v_jlimits *lim, struct p2v_jdoc *doc,
                   struct p2v_jerror *err);
/* Frees the tree; doc is empty afterwards (freeing it again does nothing). */
void p2v_jread_free(struct p2v_jdoc *doc);

/* Accessors.  Each accepts NULL and a value of any type. */
/* The member called name of an object, or NULL. */
const struct p2v_jvalue *p2v_jget(const struct p2v_jvalue *obj, const char *name);
/* Element (or member) i of an array (or object), or NULL. */
const struct p2v_jvalue *p2v_jat(const struct p2v_jvalue *v, size_t i);
/* Elements or members; 0 for anything else. */
size_t p2v_jcount(const struct p2v_jvalue *v);
/* A string's text, or NULL: not a string, or one holding a NUL (which a C
 * string would cut short). */
const char *p2v_jstr(const struct p2v_jvalue *v);
/* An integer number (no fraction, no exponent) that fits: 0, else -EINVAL
 * (not such a number) or -ERANGE (too large). */
int p2v_jint(const struct p2v_jvalue *v, int64_t *out);
/* true or false: 0, else -EINVAL. */
int p2v_jbool(const struct p2v_jvalue *v, int *out);
/* p2v_jstr, p2v_jint and p2v_jbool of a member. */
const char *p2v_jget_str(const struct p2v_jvalue *obj, const char *name);
int p2v_jget_int(const struct p2v_jvalue *obj, const char *name, int64_t *out);
int p2v_jget_bool(const struct p2v_jvalue *obj, const char *name, int *out);

#endif
