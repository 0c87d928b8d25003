#define _GNU_SOURCE
#include "hive.h"

#include "../core/log.h"

#include <errno.h>
#include <hivex.h>
#include <iconv.h>
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
    hivex_close(h->h);
    close(h->fd);
    free(h);
}

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

int p2v_hive_create_key(struct p2v_hive *h, const char *key)
{
    return node_at(h, key, 1) ? 0 : -EIO;
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

int p2v_hive_set(struct p2v_hive *h, const char *key, const char *value, uint32_t type,
                 const void *data, size_t len)
{
    hive_node_h n = node_at(h, key, 1);
    if (!n)
        return -EIO;
    hive_set_value sv = { .key = (char *)value, .t = (hive_type)type, .len = len,
                          .value = (char *)data };
    return hivex_node_set_value(h->h, n, &sv, 0) < 0 ? -errno : 0;
}

int p2v_hive_delete_value(struct p2v_hive *h, const char *key, const char *value)
{
    hive_node_h n = node_at(h, key, 0);
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

int p2v_hive_delete_key(struct p2v_hive *h, const char *key)
{
    hive_node_h n = node_at(h, key, 0);
    if (!n)
        return -ENOENT;
    if (n == hivex_root(h->h))
        return -EINVAL;
    return hivex_node_delete_child(h->h, n) < 0 ? -errno : 0;
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
