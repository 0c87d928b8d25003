#define _GNU_SOURCE
#include "hive.h"

#include "shadow.h"
#include "core/log.h"

#include <errno.h>
#include <hivex.h>
#include <iconv.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct p2v_hive {
    hive_h *h;
    int fd;               /* the memfd hivex reads and commits to */
    char path[64];        /* /proc/self/fd/N */
    char name[32];
    struct p2v_shadow twin;  /* tries each edit first */
};

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int p2v_hive_load(const uint8_t *data, size_t len, const char *name, struct p2v_hive **out)
{
    struct p2v_hive *h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    snprintf(h->name, sizeof h->name, "%s", name);
    h->fd = memfd_create("p2v-hive", MFD_CLOEXEC);
    int r = h->fd < 0 ? -errno : write_all(h->fd, data, len);
    if (r == 0) {
        snprintf(h->path, sizeof h->path, "/proc/self/fd/%d", h->fd);
        h->h = hivex_open(h->path, HIVEX_OPEN_WRITE);
        if (!h->h) {
            r = errno == ENOTSUP || errno == EINVAL || errno == 0 ? -EINVAL : -errno;
            p2v_err("the %s registry hive (%zu bytes) is damaged or not a registry hive; "
                    "repair Windows first (chkdsk, or restore the hive from RegBack)", name, len);
        }
    }
    if (r < 0) {
        if (h->fd >= 0)
            close(h->fd);
        free(h);
        return r;
    }
    *out = h;
    return 0;
}

int p2v_hive_save(struct p2v_hive *h, uint8_t **data, size_t *len)
{
    if (hivex_commit(h->h, h->path, 0) < 0) {
        int r = -errno;
        p2v_err("saving the %s hive failed: %s", h->name, strerror(errno));
        return r;
    }
    off_t end = lseek(h->fd, 0, SEEK_END);
    if (end < 0)
        return -errno;
    *data = malloc(end ? (size_t)end : 1);
    if (!*data)
        return -ENOMEM;
    if (pread(h->fd, *data, (size_t)end, 0) != end) {
        free(*data);
        return -EIO;
    }
    *len = (size_t)end;
    return 0;
}

void p2v_hive_close(struct p2v_hive *h)
{
    if (!h)
        return;
    p2v_shadow_stop(&h->twin);
    hivex_close(h->h);
    close(h->fd);
    free(h);
}

/* One edit of the hive, for guarded(). */
struct edit {
    const char *key, *value;
    uint32_t type;
    const void *data;
    size_t len;
};

/* The node at key; with create, missing keys are added.  0 if absent. */
static hive_node_h node_at(struct p2v_hive *h, const char *key, int create)
{
    hive_node_h n = hivex_root(h->h);
    char *copy = strdup(key), *save = NULL;
    if (!copy)
        return 0;
    for (char *part = strtok_r(copy, "\\", &save); n && part; part = strtok_r(NULL, "\\", &save)) {
        errno = 0;
        hive_node_h c = hivex_node_get_child(h->h, n, part);
        if (!c && errno == 0 && create)
            c = hivex_node_add_child(h->h, n, part);
        n = c;
    }
    free(copy);
    return n;
}

int p2v_hive_key_exists(struct p2v_hive *h, const char *key)
{
    return node_at(h, key, 0) != 0;
}

static int edit_create_key(struct p2v_hive *h, const struct edit *e)
{
    return node_at(h, e->key, 1) ? 0 : -EIO;
}

void p2v_strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

int p2v_hive_subkeys(struct p2v_hive *h, const char *key, char ***names, size_t *n)
{
    hive_node_h node = node_at(h, key, 0);
    if (!node)
        return -ENOENT;
    hive_node_h *kids = hivex_node_children(h->h, node);
    if (!kids)
        return -EIO;
    size_t k = 0;
    while (kids[k])
        k++;
    char **v = calloc(k + 1, sizeof *v);
    int r = v ? 0 : -ENOMEM;
    for (size_t i = 0; r == 0 && i < k; i++)
        if (!(v[i] = hivex_node_name(h->h, kids[i])))
            r = -EIO;
    free(kids);
    if (r < 0) {
        p2v_strv_free(v, k);
        return r;
    }
    *names = v;
    *n = k;
    return 0;
}

int p2v_hive_value_names(struct p2v_hive *h, const char *key, char ***names, size_t *n)
{
    hive_node_h node = node_at(h, key, 0);
    if (!node)
        return -ENOENT;
    hive_value_h *vals = hivex_node_values(h->h, node);
    if (!vals)
        return -EIO;
    size_t k = 0;
    while (vals[k])
        k++;
    char **v = calloc(k + 1, sizeof *v);
    int r = v ? 0 : -ENOMEM;
    for (size_t i = 0; r == 0 && i < k; i++)
        if (!(v[i] = hivex_value_key(h->h, vals[i])))
            r = -EIO;
    free(vals);
    if (r < 0) {
        p2v_strv_free(v, k);
        return r;
    }
    *names = v;
    *n = k;
    return 0;
}

int p2v_hive_get_multi(struct p2v_hive *h, const char *key, const char *value, char ***strs,
                       size_t *n)
{
    struct p2v_reg_value v;
    int r = p2v_hive_get(h, key, value, &v);
    if (r < 0)
        return r;
    if (v.type != P2V_REG_MULTI_SZ && v.type != P2V_REG_SZ && v.type != P2V_REG_EXPAND_SZ) {
        free(v.data);
        return -EINVAL;
    }
    char **out = calloc(v.len / 4 + 2, sizeof *out);
    size_t k = 0;
    r = out ? 0 : -ENOMEM;
    /* Strings are NUL-terminated UTF-16LE, one after another. */
    for (size_t off = 0; r == 0 && off + 1 < v.len;) {
        size_t end = off;
        while (end + 1 < v.len && (v.data[end] || v.data[end + 1]))
            end += 2;
        if (end > off) {
            r = p2v_utf8_from_utf16(v.data + off, end - off, &out[k]);
            if (r == 0)
                k++;
        }
        off = end + 2;
        if (v.type != P2V_REG_MULTI_SZ)
            break;
    }
    free(v.data);
    if (r < 0) {
        p2v_strv_free(out, k);
        return r;
    }
    *strs = out;
    *n = k;
    return 0;
}

int p2v_hive_get(struct p2v_hive *h, const char *key, const char *value, struct p2v_reg_value *v)
{
    hive_node_h n = node_at(h, key, 0);
    if (!n)
        return -ENOENT;
    hive_value_h val = hivex_node_get_value(h->h, n, value);
    if (!val)
        return -ENOENT;
    hive_type t;
    size_t len;
    char *d = hivex_value_value(h->h, val, &t, &len);
    if (!d)
        return -EIO;
    v->type = (uint32_t)t;
    v->data = (uint8_t *)d;
    v->len = len;
    return 0;
}

int p2v_hive_get_dword(struct p2v_hive *h, const char *key, const char *value, uint32_t *out)
{
    struct p2v_reg_value v;
    int r = p2v_hive_get(h, key, value, &v);
    if (r < 0)
        return r;
    if (v.type != P2V_REG_DWORD || v.len < 4)
        r = -EINVAL;
    else
        *out = v.data[0] | (uint32_t)v.data[1] << 8 | (uint32_t)v.data[2] << 16 |
               (uint32_t)v.data[3] << 24;
    free(v.data);
    return r;
}

int p2v_hive_get_string(struct p2v_hive *h, const char *key, const char *value, char **out)
{
    struct p2v_reg_value v;
    int r = p2v_hive_get(h, key, value, &v);
    if (r < 0)
        return r;
    if (v.type != P2V_REG_SZ && v.type != P2V_REG_EXPAND_SZ)
        r = -EINVAL;
    else
        r = p2v_utf8_from_utf16(v.data, v.len, out);
    free(v.data);
    return r;
}

static int edit_set(struct p2v_hive *h, const struct edit *e)
{
    hive_node_h n = node_at(h, e->key, 1);
    if (!n)
        return -EIO;
    hive_set_value sv = { .key = (char *)e->value, .t = (hive_type)e->type, .len = e->len,
                          .value = (char *)e->data };
    return hivex_node_set_value(h->h, n, &sv, 0) < 0 ? -errno : 0;
}

static int edit_delete_value(struct p2v_hive *h, const struct edit *e)
{
    const char *value = e->value;
    hive_node_h n = node_at(h, e->key, 0);
    if (!n)
        return -ENOENT;
    /* hivex has no single-value delete: set the key's values without it. */
    hive_value_h *vals = hivex_node_values(h->h, n);
    if (!vals)
        return -EIO;
    size_t count = 0, kept = 0;
    while (vals[count])
        count++;
    hive_set_value *sv = calloc(count ? count : 1, sizeof *sv);
    int r = sv ? 0 : -ENOMEM, found = 0;
    for (size_t i = 0; r == 0 && i < count; i++) {
        char *k = hivex_value_key(h->h, vals[i]);
        hive_type t;
        size_t len;
        char *d = k ? hivex_value_value(h->h, vals[i], &t, &len) : NULL;
        if (!k || !d) {
            free(k);
            r = -EIO;
            break;
        }
        if (strcasecmp(k, value) == 0) {
            found = 1;
            free(k);
            free(d);
            continue;
        }
        sv[kept++] = (hive_set_value){ .key = k, .t = t, .len = len, .value = d };
    }
    if (r == 0 && !found)
        r = -ENOENT;
    if (r == 0 && hivex_node_set_values(h->h, n, kept, sv, 0) < 0)
        r = -errno;
    for (size_t i = 0; sv && i < kept; i++) {
        free(sv[i].key);
        free(sv[i].value);
    }
    free(sv);
    free(vals);
    return r;
}

static int edit_delete_key(struct p2v_hive *h, const struct edit *e)
{
    hive_node_h n = node_at(h, e->key, 0);
    if (!n)
        return -ENOENT;
    if (n == hivex_root(h->h))
        return -EINVAL;
    return hivex_node_delete_child(h->h, n) < 0 ? -errno : 0;
}

/* hivex (1.3.23) asserts, and so aborts the whole process, when an edit
 * frees a block that a damaged hive does not hold as one (mark_block_unused:
 * IS_VALID_BLOCK). Each edit is therefore made first by a forked twin of
 * this process (guest/shadow.c) on its copy of the hive; only if the twin
 * survives is it made here. The message carries the edit: op, type, then
 * key, value and data, each a u64 length (UINT64_MAX: none) and the bytes. */
enum { OP_CREATE_KEY, OP_SET, OP_DELETE_VALUE, OP_DELETE_KEY };
static int (*const edit_fns[])(struct p2v_hive *, const struct edit *) = {
    edit_create_key, edit_set, edit_delete_value, edit_delete_key,
};

static size_t put_field(uint8_t *m, size_t at, const void *p, size_t len)
{
    uint64_t n = p ? len : UINT64_MAX;
    if (m) {
        memcpy(m + at, &n, sizeof n);
        if (p && len)
            memcpy(m + at + sizeof n, p, len);
    }
    return at + sizeof n + (p ? len : 0);
}

static size_t encode(uint8_t *m, uint32_t op, const struct edit *e)
{
    if (m) {
        memcpy(m, &op, 4);
        memcpy(m + 4, &e->type, 4);
    }
    size_t at = put_field(m, 8, e->key, strlen(e->key) + 1);
    at = put_field(m, at, e->value, e->value ? strlen(e->value) + 1 : 0);
    return put_field(m, at, e->data, e->len);
}

static const uint8_t *get_field(const uint8_t *p, const uint8_t *end, const void **out,
                                size_t *len)
{
    uint64_t n;
    if (!p || (size_t)(end - p) < sizeof n)
        return NULL;
    memcpy(&n, p, sizeof n);
    p += sizeof n;
    *out = n == UINT64_MAX ? NULL : p;
    *len = n == UINT64_MAX ? 0 : (size_t)n;
    if (n != UINT64_MAX && n > (uint64_t)(end - p))
        return NULL;
    return p + *len;
}

/* In the twin: decode and make the edit. */
static int twin_edit(void *ctx, const void *msg, size_t len)
{
    const uint8_t *p = msg, *end = p + len;
    uint32_t op;
    struct edit e = { 0 };
    const void *key, *value;
    size_t klen, vlen;
    if (len < 8)
        return -EINVAL;
    memcpy(&op, p, 4);
    memcpy(&e.type, p + 4, 4);
    p = get_field(p + 8, end, &key, &klen);
    p = get_field(p, end, &value, &vlen);
    p = get_field(p, end, &e.data, &e.len);
    if (!p || !key || op >= sizeof edit_fns / sizeof *edit_fns)
        return -EINVAL;
    e.key = key;
    e.value = value;
    return edit_fns[op](ctx, &e);
}

static int guarded(struct p2v_hive *h, uint32_t op, const struct edit *e, const char *what)
{
    size_t len = encode(NULL, op, e);
    uint8_t *msg = malloc(len);
    if (!msg)
        return -ENOMEM;
    encode(msg, op, e);
    int r = p2v_shadow_try(&h->twin, twin_edit, h, msg, len);
    free(msg);
    if (r < 0) {
        p2v_err("the %s hive: cannot try %s %s in a child process first: %s", h->name, what,
                e->key, strerror(-r));
        return r;
    }
    if (r == SIGABRT || r == SIGSEGV || r == SIGBUS || r == SIGILL || r == SIGFPE) {
        p2v_err("the %s hive is damaged: hivex cannot %s %s%s%s without crashing; repair "
                "Windows first (chkdsk, or restore the hive from RegBack)", h->name, what,
                e->key, e->value ? " value " : "", e->value ? e->value : "");
        return -EINVAL;
    }
    if (r > 0) {
        p2v_err("the %s hive: the child process trying %s %s was stopped by signal %d",
                h->name, what, e->key, r);
        return -EINTR;
    }
    r = edit_fns[op](h, e);
    p2v_shadow_made(&h->twin, r);
    return r;
}

int p2v_hive_create_key(struct p2v_hive *h, const char *key)
{
    struct edit e = { .key = key };
    return guarded(h, OP_CREATE_KEY, &e, "create key");
}

int p2v_hive_set(struct p2v_hive *h, const char *key, const char *value, uint32_t type,
                 const void *data, size_t len)
{
    struct edit e = { .key = key, .value = value, .type = type, .data = data, .len = len };
    return guarded(h, OP_SET, &e, "set");
}

int p2v_hive_delete_value(struct p2v_hive *h, const char *key, const char *value)
{
    struct edit e = { .key = key, .value = value };
    return guarded(h, OP_DELETE_VALUE, &e, "delete from");
}

int p2v_hive_delete_key(struct p2v_hive *h, const char *key)
{
    struct edit e = { .key = key };
    return guarded(h, OP_DELETE_KEY, &e, "delete key");
}

static int convert(const char *to, const char *from, const void *in, size_t inlen, char **out,
                   size_t *outlen)
{
    iconv_t cd = iconv_open(to, from);
    if (cd == (iconv_t)-1)
        return -errno;
    size_t cap = inlen * 2 + 4, left = cap;
    char *buf = calloc(1, cap), *o = buf, *i = (char *)in;
    size_t ileft = inlen;
    int r = 0;
    if (!buf)
        r = -ENOMEM;
    else if (iconv(cd, &i, &ileft, &o, &left) == (size_t)-1)
        r = -EILSEQ;
    iconv_close(cd);
    if (r < 0) {
        free(buf);
        return r;
    }
    *out = buf;
    *outlen = cap - left;
    return 0;
}

int p2v_utf16_from_utf8(const char *s, uint8_t **out, size_t *len)
{
    char *o;
    size_t n;
    int r = convert("UTF-16LE", "UTF-8", s, strlen(s) + 1, &o, &n);
    if (r == 0) {
        *out = (uint8_t *)o;
        *len = n;
    }
    return r;
}

int p2v_utf8_from_utf16(const uint8_t *p, size_t len, char **out)
{
    size_t n = 0;
    while (n + 1 < len && (p[n] || p[n + 1]))  /* up to the first NUL */
        n += 2;
    size_t outlen;
    int r = convert("UTF-8", "UTF-16LE", p, n, out, &outlen);
    if (r == 0)
        (*out)[outlen] = 0;
    return r;
}
