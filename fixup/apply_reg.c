#define _GNU_SOURCE
#include "apply_ctx.h"

#include "core/bytes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const fx_hive_names[NHIVES] = { "SYSTEM", "SOFTWARE" };

/* Values as the report shows them: "dword:3", "sz:text", "multi:[a,b]". */
char *fx_render(uint32_t type, const uint8_t *d, size_t len)
{
    char *s = NULL, *u = NULL;
    int r = -1;
    switch (type) {
    case P2V_REG_DWORD:
        if (len >= 4)
            r = asprintf(&s, "dword:%u", get_le32(d));
        break;
    case P2V_REG_QWORD:
        if (len >= 8)
            r = asprintf(&s, "qword:%llu", (unsigned long long)get_le64(d));
        break;
    case P2V_REG_SZ:
    case P2V_REG_EXPAND_SZ:
        if (p2v_utf8_from_utf16(d, len, &u) == 0)
            r = asprintf(&s, "%s:%s", type == P2V_REG_SZ ? "sz" : "expand", u);
        break;
    case P2V_REG_MULTI_SZ: {
        size_t cap = len * 2 + 16, at = 0;
        if (!(s = malloc(cap)))
            return NULL;
        at += (size_t)snprintf(s, cap, "multi:[");
        for (size_t i = 0; i + 1 < len && (d[i] || d[i + 1]);) {
            char *one = NULL;
            size_t end = i;
            while (end + 1 < len && (d[end] || d[end + 1]))
                end += 2;
            if (p2v_utf8_from_utf16(d + i, end - i, &one) == 0) {
                at += (size_t)snprintf(s + at, cap > at ? cap - at : 0, "%s%s",
                                       at > 7 ? "," : "", one);
                free(one);
            }
            i = end + 2;
        }
        snprintf(s + (at < cap ? at : cap - 1), cap > at ? cap - at : 1, "]");
        return s;
    }
    default:
        break;
    }
    free(u);
    if (r >= 0)
        return s;
    /* Binary, or anything odd: hex, the first 64 bytes. */
    size_t show = len < 64 ? len : 64;
    if (!(s = malloc(16 + 3 * show + 8)))
        return NULL;
    int at = sprintf(s, "hex(%u):", type);
    for (size_t i = 0; i < show; i++)
        at += sprintf(s + at, "%s%02x", i ? "," : "", d[i]);
    if (show < len)
        strcpy(s + at, ",...");
    return s;
}

int fx_hive(struct ctx *c, int which, struct p2v_hive **out)
{
    if (!c->hive[which]) {
        int r = p2v_windows_load_hive(c->gfs, c->w, fx_hive_names[which], &c->hive[which]);
        if (r < 0)
            return r;
    }
    *out = c->hive[which];
    return 0;
}

/* "HKLM\SYSTEM\CurrentControlSet\X" -> SYSTEM, "ControlSet001\X". */
static int parse_key(struct ctx *c, const char *in, int *which, char *key, size_t len)
{
    const char *p = in;
    if (!strncasecmp(p, "HKLM\\", 5))
        p += 5;
    else if (!strncasecmp(p, "HKEY_LOCAL_MACHINE\\", 19))
        p += 19;
    *which = -1;
    for (int i = 0; i < NHIVES; i++) {
        size_t n = strlen(fx_hive_names[i]);
        if (!strncasecmp(p, fx_hive_names[i], n) && (p[n] == '\\' || !p[n])) {
            *which = i;
            p += n + (p[n] == '\\');
        }
    }
    if (*which < 0)
        return fx_fail(c, -EINVAL, "key '%s' is not in HKLM\\SYSTEM or HKLM\\SOFTWARE", in);
    int n;
    if (*which == SYSTEM && !strncasecmp(p, "CurrentControlSet", 17) && (p[17] == '\\' || !p[17]))
        n = snprintf(key, len, "%s%s", c->w->ccs, p + 17);
    else
        n = snprintf(key, len, "%s", p);
    if (n < 0 || (size_t)n >= len)  /* a cut key would name another one */
        return fx_fail(c, -ENAMETOOLONG, "key '%.60s...' is over the %zu bytes p2v handles; "
                       "shorten it", in, len - 1);
    return 0;
}

/* Sets one value unless it already holds exactly that. */
int fx_reg_put(struct ctx *c, int which, const char *key, const char *value, uint32_t type,
                   const void *data, size_t len)
{
    struct p2v_hive *h;
    int r = fx_hive(c, which, &h);
    if (r < 0)
        return r;
    struct p2v_reg_value old;
    int had = p2v_hive_get(h, key, value, &old) == 0;
    int same = had && old.type == type && old.len == len && !memcmp(old.data, data, len);
    char *o = had ? fx_render(old.type, old.data, old.len) : strdup("(absent)");
    char *n = fx_render(type, data, len);
    if (had)
        free(old.data);
    if (!same && (r = p2v_hive_set(h, key, value, type, data, len)) < 0)
        fx_fail(c, r, "setting %s\\%s: %s failed: %s", fx_hive_names[which], key, value, strerror(-r));
    if (!same)
        c->dirty[which] = 1;
    if (r == 0)
        r = o && n ? fx_record(c, !same, o, n, "%s\\%s: %s", fx_hive_names[which], key,
                            value[0] ? value : "(default)")
                   : -ENOMEM;
    free(o);
    free(n);
    return r;
}

int fx_reg_dword(struct ctx *c, int which, const char *key, const char *value, uint32_t v)
{
    uint8_t b[4];
    put_le32(b, v);
    return fx_reg_put(c, which, key, value, P2V_REG_DWORD, b, 4);
}

int fx_reg_string(struct ctx *c, int which, const char *key, const char *value,
                      uint32_t type, const char *s)
{
    uint8_t *u;
    size_t len;
    int r = p2v_utf16_from_utf8(s, &u, &len);
    if (r < 0)
        return fx_fail(c, r, "'%s' is not valid UTF-8", s);
    r = fx_reg_put(c, which, key, value, type, u, len);
    free(u);
    return r;
}

int fx_reg_multi(struct ctx *c, int which, const char *key, const char *value,
                     char *const *items, int n)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        uint8_t *u;
        size_t ul;
        if (p2v_utf16_from_utf8(items[i], &u, &ul) < 0) {
            free(buf);
            return fx_fail(c, -EINVAL, "'%s' is not valid UTF-8", items[i]);
        }
        uint8_t *nb = realloc(buf, len + ul + 2);
        if (!nb) {
            free(u);
            free(buf);
            return -ENOMEM;
        }
        buf = nb;
        memcpy(buf + len, u, ul);
        len += ul;
        free(u);
    }
    uint8_t *nb = realloc(buf, len + 2);
    if (!nb) {
        free(buf);
        return -ENOMEM;
    }
    buf = nb;
    buf[len] = buf[len + 1] = 0;  /* the list's closing NUL */
    int r = fx_reg_put(c, which, key, value, P2V_REG_MULTI_SZ, buf, len + 2);
    free(buf);
    return r;
}

int fx_reg_binary(struct ctx *c, int which, const char *key, const char *value,
                      const uint8_t *d, size_t len)
{
    return fx_reg_put(c, which, key, value, P2V_REG_BINARY, d, len);
}

int fx_reg_del(struct ctx *c, int which, const char *key, const char *value)
{
    struct p2v_hive *h;
    int r = fx_hive(c, which, &h);
    if (r < 0)
        return r;
    if (!value) {
        int had = p2v_hive_key_exists(h, key);
        if (had && (r = p2v_hive_delete_key(h, key)) < 0)
            return fx_fail(c, r, "deleting key %s\\%s failed: %s", fx_hive_names[which], key,
                        strerror(-r));
        c->dirty[which] |= had;
        return fx_record(c, had, had ? "(key)" : "(absent)", "(absent)", "%s\\%s",
                      fx_hive_names[which], key);
    }
    struct p2v_reg_value old;
    int had = p2v_hive_get(h, key, value, &old) == 0;
    char *o = had ? fx_render(old.type, old.data, old.len) : strdup("(absent)");
    if (had) {
        free(old.data);
        if ((r = p2v_hive_delete_value(h, key, value)) < 0) {
            free(o);
            return fx_fail(c, r, "deleting %s\\%s: %s failed: %s", fx_hive_names[which], key, value,
                        strerror(-r));
        }
        c->dirty[which] = 1;
    }
    r = o ? fx_record(c, had, o, "(absent)", "%s\\%s: %s", fx_hive_names[which], key, value) : -ENOMEM;
    free(o);
    return r;
}

static int hex_bytes(const char *s, uint8_t *out, size_t cap, size_t *len)
{
    *len = 0;
    for (const char *p = s; *p;) {
        if (*p == ',' || *p == ' ') {
            p++;
            continue;
        }
        unsigned v;
        if (sscanf(p, "%2x", &v) != 1 || *len == cap)
            return -EINVAL;
        out[(*len)++] = (uint8_t)v;
        p += p[1] && p[1] != ',' ? 2 : 1;
    }
    return 0;
}

int fx_reg_set(struct ctx *c)
{
    char key[512];
    int which;
    int r = parse_key(c, c->a->argv[1], &which, key, sizeof key);
    if (r < 0)
        return r;
    const char *value = !strcmp(c->a->argv[2], "@") ? "" : c->a->argv[2];
    const char *type = c->a->argv[3];
    int nd = c->a->argc - 4;
    char *const *d = c->a->argv + 4;
    if ((!strcmp(type, "dword") || !strcmp(type, "qword")) && nd == 1) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(d[0], &end, 0);
        if (errno || *end || (type[0] == 'd' && v > 0xFFFFFFFFull))
            return fx_fail(c, -EINVAL, "'%s' is not a %s", d[0], type);
        uint8_t b[8];
        put_le64(b, v);
        return fx_reg_put(c, which, key, value, type[0] == 'd' ? P2V_REG_DWORD : P2V_REG_QWORD, b,
                       type[0] == 'd' ? 4 : 8);
    }
    if ((!strcmp(type, "sz") || !strcmp(type, "expand")) && nd == 1)
        return fx_reg_string(c, which, key, value, type[0] == 's' ? P2V_REG_SZ : P2V_REG_EXPAND_SZ, d[0]);
    if (!strcmp(type, "multi"))
        return fx_reg_multi(c, which, key, value, d, nd);
    if (!strcmp(type, "binary") && nd <= 1) {
        uint8_t b[4096];
        size_t len = 0;
        if (nd && hex_bytes(d[0], b, sizeof b, &len) < 0)
            return fx_fail(c, -EINVAL, "'%s' is not hex bytes (01,ff,... or 01ff...)", d[0]);
        return fx_reg_binary(c, which, key, value, b, len);
    }
    return fx_fail(c, -EINVAL, "type '%s' with %d data words: use dword N, qword N, sz TEXT, "
                "expand TEXT, multi TEXT..., binary HEX", type, nd);
}

int fx_reg_delete(struct ctx *c)
{
    char key[512];
    int which;
    int r = parse_key(c, c->a->argv[1], &which, key, sizeof key);
    if (r < 0)
        return r;
    if (!key[0])
        return fx_fail(c, -EINVAL, "refusing to delete a whole hive");
    return fx_reg_del(c, which, key, c->a->argc > 2 ? c->a->argv[2] : NULL);
}

