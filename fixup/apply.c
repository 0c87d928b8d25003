#define _GNU_SOURCE
#include "apply.h"

#include "drivers.h"
#include "../core/bytes.h"
#include "../core/json.h"
#include "../core/log.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { SYSTEM, SOFTWARE, NHIVES };
static const char *const hive_names[NHIVES] = { "SYSTEM", "SOFTWARE" };

struct ctx {
    const struct p2v_apply_in *in;
    const struct p2v_plan *plan;
    struct p2v_windows *w;
    struct p2v_gfs *gfs;
    struct p2v_hive *hive[NHIVES];
    int dirty[NHIVES];
    struct p2v_changes *out;
    const struct p2v_action *a;   /* the action being carried out */
    int firstboot_n;
    /* Other NTFS volumes opened for "N:/path" file actions. */
    struct { int number; struct p2v_gfs *g; } open[8];
    int nopen;
};

static int record(struct ctx *c, int changed, const char *old, const char *new_, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));

static int record(struct ctx *c, int changed, const char *old, const char *new_, const char *fmt,
                  ...)
{
    struct p2v_change *n = realloc(c->out->c, (size_t)(c->out->n + 1) * sizeof *n);
    if (!n)
        return -ENOMEM;
    c->out->c = n;
    struct p2v_change *ch = &n[c->out->n];
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(&ch->what, fmt, ap);
    va_end(ap);
    ch->old = strdup(old);
    ch->new_ = strdup(new_);
    if (r < 0 || !ch->old || !ch->new_) {
        if (r >= 0)
            free(ch->what);
        free(ch->old);
        free(ch->new_);
        return -ENOMEM;
    }
    ch->line = c->a->line;
    ch->action = c->a->argv[0];
    ch->changed = changed;
    c->out->n++;
    return 0;
}

static int fail(struct ctx *c, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct ctx *c, int r, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p2v_err("plan %s line %d (%s): %s", c->plan->path, c->a->line, c->a->argv[0], msg);
    return r;
}

/* ---- values as the report shows them ---- */

static char *render(uint32_t type, const uint8_t *d, size_t len)
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

/* ---- registry ---- */

static int hive(struct ctx *c, int which, struct p2v_hive **out)
{
    if (!c->hive[which]) {
        int r = p2v_windows_load_hive(c->gfs, c->w, hive_names[which], &c->hive[which]);
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
        size_t n = strlen(hive_names[i]);
        if (!strncasecmp(p, hive_names[i], n) && (p[n] == '\\' || !p[n])) {
            *which = i;
            p += n + (p[n] == '\\');
        }
    }
    if (*which < 0)
        return fail(c, -EINVAL, "key '%s' is not in HKLM\\SYSTEM or HKLM\\SOFTWARE", in);
    if (*which == SYSTEM && !strncasecmp(p, "CurrentControlSet", 17) && (p[17] == '\\' || !p[17]))
        snprintf(key, len, "%s%s", c->w->ccs, p + 17);
    else
        snprintf(key, len, "%s", p);
    return 0;
}

/* Sets one value unless it already holds exactly that. */
static int reg_put(struct ctx *c, int which, const char *key, const char *value, uint32_t type,
                   const void *data, size_t len)
{
    struct p2v_hive *h;
    int r = hive(c, which, &h);
    if (r < 0)
        return r;
    struct p2v_reg_value old;
    int had = p2v_hive_get(h, key, value, &old) == 0;
    int same = had && old.type == type && old.len == len && !memcmp(old.data, data, len);
    char *o = had ? render(old.type, old.data, old.len) : strdup("(absent)");
    char *n = render(type, data, len);
    if (had)
        free(old.data);
    if (!same && (r = p2v_hive_set(h, key, value, type, data, len)) < 0)
        fail(c, r, "setting %s\\%s: %s failed: %s", hive_names[which], key, value, strerror(-r));
    if (!same)
        c->dirty[which] = 1;
    if (r == 0)
        r = o && n ? record(c, !same, o, n, "%s\\%s: %s", hive_names[which], key,
                            value[0] ? value : "(default)")
                   : -ENOMEM;
    free(o);
    free(n);
    return r;
}

static int reg_dword(struct ctx *c, int which, const char *key, const char *value, uint32_t v)
{
    uint8_t b[4];
    put_le32(b, v);
    return reg_put(c, which, key, value, P2V_REG_DWORD, b, 4);
}

static int reg_string(struct ctx *c, int which, const char *key, const char *value,
                      uint32_t type, const char *s)
{
    uint8_t *u;
    size_t len;
    int r = p2v_utf16_from_utf8(s, &u, &len);
    if (r < 0)
        return fail(c, r, "'%s' is not valid UTF-8", s);
    r = reg_put(c, which, key, value, type, u, len);
    free(u);
    return r;
}

static int reg_multi(struct ctx *c, int which, const char *key, const char *value,
                     char *const *items, int n)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        uint8_t *u;
        size_t ul;
        if (p2v_utf16_from_utf8(items[i], &u, &ul) < 0) {
            free(buf);
            return fail(c, -EINVAL, "'%s' is not valid UTF-8", items[i]);
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
    int r = reg_put(c, which, key, value, P2V_REG_MULTI_SZ, buf, len + 2);
    free(buf);
    return r;
}

static int reg_binary(struct ctx *c, int which, const char *key, const char *value,
                      const uint8_t *d, size_t len)
{
    return reg_put(c, which, key, value, P2V_REG_BINARY, d, len);
}

static int reg_del(struct ctx *c, int which, const char *key, const char *value)
{
    struct p2v_hive *h;
    int r = hive(c, which, &h);
    if (r < 0)
        return r;
    if (!value) {
        int had = p2v_hive_key_exists(h, key);
        if (had && (r = p2v_hive_delete_key(h, key)) < 0)
            return fail(c, r, "deleting key %s\\%s failed: %s", hive_names[which], key,
                        strerror(-r));
        c->dirty[which] |= had;
        return record(c, had, had ? "(key)" : "(absent)", "(absent)", "%s\\%s",
                      hive_names[which], key);
    }
    struct p2v_reg_value old;
    int had = p2v_hive_get(h, key, value, &old) == 0;
    char *o = had ? render(old.type, old.data, old.len) : strdup("(absent)");
    if (had) {
        free(old.data);
        if ((r = p2v_hive_delete_value(h, key, value)) < 0) {
            free(o);
            return fail(c, r, "deleting %s\\%s: %s failed: %s", hive_names[which], key, value,
                        strerror(-r));
        }
        c->dirty[which] = 1;
    }
    r = o ? record(c, had, o, "(absent)", "%s\\%s: %s", hive_names[which], key, value) : -ENOMEM;
    free(o);
    return r;
}

/* ---- files ---- */

static void sha256_hex(const uint8_t *d, size_t len, char out[65])
{
    struct sha256_ctx s;
    uint8_t dig[SHA256_DIGEST_SIZE];
    sha256_init(&s);
    sha256_update(&s, len, d);
    sha256_digest(&s, sizeof dig, dig);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
        sprintf(out + 2 * i, "%02x", dig[i]);
}

static int read_local(struct ctx *c, const char *name, uint8_t **data, size_t *len)
{
    char *path = p2v_plan_file(c->plan, name);
    if (!path)
        return -ENOMEM;
    FILE *f = fopen(path, "rbe");
    int r = f ? 0 : -errno;
    *data = NULL;
    *len = 0;
    size_t cap = 0;
    while (r == 0) {
        if (*len == cap) {
            uint8_t *nb = realloc(*data, cap = cap ? cap * 2 : 65536);
            if (!nb) {
                r = -ENOMEM;
                break;
            }
            *data = nb;
        }
        size_t got = fread(*data + *len, 1, cap - *len, f);
        *len += got;
        if (!got) {
            if (ferror(f))
                r = -EIO;
            break;
        }
    }
    if (f)
        fclose(f);
    if (r < 0) {
        free(*data);
        *data = NULL;
        fail(c, r, "file %s: %s", path, strerror(-r));
    }
    free(path);
    return r;
}

/* Guest paths may start with %SystemRoot% (the Windows directory), or
 * with "N:" for partition N. */
static void guest_path(struct ctx *c, const char *in, char *out, size_t len)
{
    char *end;
    long n = strtol(in, &end, 10);
    if (end != in && *end == ':') {
        snprintf(out, len, "%ld:%s%s", n, end[1] == '/' || end[1] == '\\' ? "" : "/", end + 1);
    } else if (!strncasecmp(in, "%SystemRoot%", 12))
        snprintf(out, len, "%s%s", c->w->systemroot, in + 12);
    else
        snprintf(out, len, "%s%s", in[0] == '/' || in[0] == '\\' ? "" : "/", in);
    for (char *p = out; *p; p++)
        if (*p == '\\')
            *p = '/';
}

/* "N:/path": partition N's volume; anything else: the Windows volume. */
static int volume_of(struct ctx *c, const char *in, struct p2v_gfs **g, const char **path)
{
    char *end;
    long n = strtol(in, &end, 10);
    if (end == in || *end != ':') {
        *g = c->gfs;
        *path = in;
        return 0;
    }
    *path = end + 1;
    if (c->gfs && c->w->vol.number == n) {
        *g = c->gfs;
        return 0;
    }
    for (int i = 0; i < c->nopen; i++)
        if (c->open[i].number == n) {
            *g = c->open[i].g;
            return 0;
        }
    for (int i = 0; i < c->in->nvols; i++) {
        const struct p2v_volume *v = &c->in->vols[i];
        if (v->number != n)
            continue;
        if (strcmp(v->fstype, "ntfs") != 0 || c->nopen == 8)
            break;
        char what[4200];
        snprintf(what, sizeof what, "%s partition %d", c->in->name, v->number);
        int r = p2v_gfs_open(c->in->disk, v->start, v->size, what, 1, g);
        if (r < 0)
            return r;
        c->open[c->nopen].number = v->number;
        c->open[c->nopen++].g = *g;
        return 0;
    }
    return fail(c, -EINVAL, "'%s': partition %ld is not an NTFS volume of this disk", in, n);
}

/* What the guest holds at where now: its volume, path and bytes (NULL
 * when absent), and how the report shows it. */
struct current {
    struct p2v_gfs *g;
    const char *path;
    uint8_t *data;
    size_t len;
    char shown[128];
};

static int current(struct ctx *c, const char *where, struct current *cur)
{
    cur->data = NULL;
    cur->len = 0;
    int r = volume_of(c, where, &cur->g, &cur->path);
    if (r == 0)
        r = p2v_gfs_read(cur->g, cur->path, &cur->data, &cur->len);
    if (r < 0 && r != -ENOENT)
        return r;
    char h[65];
    if (cur->data) {
        sha256_hex(cur->data, cur->len, h);
        snprintf(cur->shown, sizeof cur->shown, "%zu bytes sha256:%s", cur->len, h);
    } else {
        snprintf(cur->shown, sizeof cur->shown, "(absent)");
    }
    return 0;
}

static int file_put(struct ctx *c, const char *where, const uint8_t *d, size_t len)
{
    struct current cur;
    int r = current(c, where, &cur);
    if (r < 0)
        return r;
    int same = cur.data && cur.len == len && !memcmp(cur.data, d, len);
    free(cur.data);
    char h[65], n[128];
    sha256_hex(d, len, h);
    snprintf(n, sizeof n, "%zu bytes sha256:%s", len, h);
    if (!same && (r = p2v_gfs_write(cur.g, cur.path, d, len)) < 0)
        return r;
    return record(c, !same, cur.shown, n, "%s", where);
}

static int file_del(struct ctx *c, const char *where)
{
    struct current cur;
    int r = current(c, where, &cur);
    if (r < 0)
        return r;
    int had = cur.data != NULL;
    free(cur.data);
    if (had && (r = p2v_gfs_delete(cur.g, cur.path)) < 0)
        return r;
    return record(c, had, cur.shown, "(absent)", "%s", where);
}

/* ---- drivers and services ---- */

static int service_exists(struct ctx *c, const char *drv)
{
    struct p2v_hive *h;
    char key[160];
    snprintf(key, sizeof key, "%s\\Services\\%s", c->w->ccs, drv);
    return hive(c, SYSTEM, &h) == 0 && p2v_hive_key_exists(h, key);
}

/* Where Windows looks for the driver of a PCI device at boot. */
static int register_pci(struct ctx *c, const char *drv, const char *id, const char *cls)
{
    char key[512];
    int r;
    if (!c->w->driver_database) {
        /* Windows 7 and older: the CriticalDeviceDatabase. */
        snprintf(key, sizeof key, "%s\\Control\\CriticalDeviceDatabase\\PCI#%s", c->w->ccs, id);
        if ((r = reg_string(c, SYSTEM, key, "Service", P2V_REG_SZ, drv)) == 0)
            r = reg_string(c, SYSTEM, key, "ClassGUID", P2V_REG_SZ, cls);
        return r;
    }
    /* Windows 8 and later: a small driver package in the DriverDatabase,
     * laid out as virt-v2v does it. */
    char inf[64], label[128], conf[64];
    const char *arch = !strcmp(c->w->arch, "i386") ? "x86" : !strcmp(c->w->arch, "arm64") ? "arm64" : "amd64";
    snprintf(inf, sizeof inf, "p2v-%s.inf", drv);
    snprintf(label, sizeof label, "%s_%s_0000000000000000", inf, arch);
    snprintf(conf, sizeof conf, "p2v_%s_conf", drv);
    char *one[1] = { label }, *confs[1] = { conf };
    snprintf(key, sizeof key, "DriverDatabase\\DriverInfFiles\\%s", inf);
    if ((r = reg_multi(c, SYSTEM, key, "", one, 1)) < 0 ||
        (r = reg_string(c, SYSTEM, key, "Active", P2V_REG_SZ, label)) < 0 ||
        (r = reg_multi(c, SYSTEM, key, "Configurations", confs, 1)) < 0)
        return r;
    snprintf(key, sizeof key, "DriverDatabase\\DeviceIds\\PCI\\%s", id);
    static const uint8_t rank[4] = { 0x01, 0xff, 0x00, 0x00 };
    if ((r = reg_binary(c, SYSTEM, key, inf, rank, sizeof rank)) < 0)
        return r;
    uint8_t version[8 + 16 + 24] = { 0x00, 0xff, 0x09, 0x00 };
    if (p2v_driver_class_bytes(cls, version + 8) < 0)
        return fail(c, -EINVAL, "class '%s' is not a {GUID}", cls);
    snprintf(key, sizeof key, "DriverDatabase\\DriverPackages\\%s", label);
    if ((r = reg_binary(c, SYSTEM, key, "Version", version, sizeof version)) < 0)
        return r;
    snprintf(key, sizeof key, "DriverDatabase\\DriverPackages\\%s\\Configurations\\%s", label, conf);
    if ((r = reg_dword(c, SYSTEM, key, "ConfigFlags", 0)) < 0 ||
        (r = reg_string(c, SYSTEM, key, "Service", P2V_REG_SZ, drv)) < 0)
        return r;
    snprintf(key, sizeof key, "DriverDatabase\\DriverPackages\\%s\\Descriptors\\PCI\\%s", label, id);
    return reg_string(c, SYSTEM, key, "Configuration", P2V_REG_SZ, conf);
}

/* pci=A,B and class={GUID} words, else the built-in table. */
static int driver_ids(struct ctx *c, const char *drv, int first, char *ids, size_t len,
                      const char **cls)
{
    const struct p2v_driver_info *d = p2v_driver_lookup(drv);
    snprintf(ids, len, "%s", d ? d->pci : "");
    *cls = d ? d->cls : P2V_CLASS_SCSI_ADAPTER;
    for (int i = first; i < c->a->argc; i++) {
        if (!strncmp(c->a->argv[i], "pci=", 4))
            snprintf(ids, len, "%s", c->a->argv[i] + 4);
        else if (!strncmp(c->a->argv[i], "class=", 6))
            *cls = c->a->argv[i] + 6;
    }
    return 0;
}

static int register_all(struct ctx *c, const char *drv, char *ids, const char *cls)
{
    char *save = NULL;
    int r = 0;
    for (char *id = strtok_r(ids, ",", &save); r == 0 && id; id = strtok_r(NULL, ",", &save))
        r = register_pci(c, drv, id, cls);
    return r;
}

static int enable_driver(struct ctx *c)
{
    const char *drv = c->a->argv[1];
    if (!service_exists(c, drv))
        return fail(c, -ENOENT, "service %s is not in this Windows; add it with "
                    "inject-driver %s FILE.sys", drv, drv);
    char key[160], ids[512];
    const char *cls;
    snprintf(key, sizeof key, "%s\\Services\\%s", c->w->ccs, drv);
    int r = reg_dword(c, SYSTEM, key, "Start", 0);
    /* StartOverride\0 = 3 overrides Start (a cause of 0x7B). */
    snprintf(key, sizeof key, "%s\\Services\\%s\\StartOverride", c->w->ccs, drv);
    if (r == 0)
        r = reg_del(c, SYSTEM, key, NULL);
    if (r == 0)
        r = driver_ids(c, drv, 2, ids, sizeof ids, &cls);
    return r == 0 ? register_all(c, drv, ids, cls) : r;
}

static int inject_driver(struct ctx *c)
{
    const char *drv = c->a->argv[1];
    uint8_t *sys = NULL, *inf = NULL;
    size_t syslen, inflen = 0;
    int has_inf = c->a->argc > 3 && strncmp(c->a->argv[3], "pci=", 4) &&
                  strncmp(c->a->argv[3], "class=", 6);
    int r = read_local(c, c->a->argv[2], &sys, &syslen);
    if (r == 0 && has_inf)
        r = read_local(c, c->a->argv[3], &inf, &inflen);
    char path[128], key[160], ids[512], image[96];
    const char *cls = NULL;
    if (r == 0) {
        snprintf(path, sizeof path, "%s/System32/drivers/%s.sys", c->w->systemroot, drv);
        r = file_put(c, path, sys, syslen);
    }
    if (r == 0 && has_inf) {
        /* PnP finds the .inf through DevicePath and installs it properly later. */
        snprintf(path, sizeof path, "%s/p2v/drivers/%s.inf", c->w->systemroot, drv);
        r = file_put(c, path, inf, inflen);
    }
    free(sys);
    free(inf);
    snprintf(key, sizeof key, "%s\\Services\\%s", c->w->ccs, drv);
    snprintf(image, sizeof image, "system32\\drivers\\%s.sys", drv);
    if (r == 0 && (r = reg_dword(c, SYSTEM, key, "Type", 1)) == 0 &&
        (r = reg_dword(c, SYSTEM, key, "Start", 0)) == 0 &&
        (r = reg_dword(c, SYSTEM, key, "ErrorControl", 1)) == 0 &&
        (r = reg_string(c, SYSTEM, key, "Group", P2V_REG_SZ, "SCSI miniport")) == 0)
        r = reg_string(c, SYSTEM, key, "ImagePath", P2V_REG_EXPAND_SZ, image);
    if (r == 0 && has_inf) {
        struct p2v_hive *h;
        char *dp = NULL;
        const char *cv = "Microsoft\\Windows\\CurrentVersion";
        if ((r = hive(c, SOFTWARE, &h)) == 0) {
            if (p2v_hive_get_string(h, cv, "DevicePath", &dp) < 0)
                dp = strdup("%SystemRoot%\\inf");
            if (!dp)
                r = -ENOMEM;
        }
        if (r == 0 && !strstr(dp, "%SystemRoot%\\p2v\\drivers")) {
            char *ndp;
            if (asprintf(&ndp, "%s;%%SystemRoot%%\\p2v\\drivers", dp) < 0)
                r = -ENOMEM;
            else {
                r = reg_string(c, SOFTWARE, cv, "DevicePath", P2V_REG_EXPAND_SZ, ndp);
                free(ndp);
            }
        } else if (r == 0) {
            r = reg_string(c, SOFTWARE, cv, "DevicePath", P2V_REG_EXPAND_SZ, dp);
        }
        free(dp);
    }
    if (r == 0)
        r = driver_ids(c, drv, 3, ids, sizeof ids, &cls);
    if (r == 0 && !ids[0])
        return fail(c, -EINVAL, "p2v does not know %s's PCI IDs: add pci=VEN_xxxx&DEV_xxxx,...", drv);
    return r == 0 ? register_all(c, drv, ids, cls) : r;
}

static int disable_service(struct ctx *c, const char *drv)
{
    char key[160];
    snprintf(key, sizeof key, "%s\\Services\\%s", c->w->ccs, drv);
    if (!service_exists(c, drv))
        return record(c, 0, "(absent)", "(absent)", "SYSTEM\\%s: Start", key);
    return reg_dword(c, SYSTEM, key, "Start", 4);
}

/* Removes name from a class's UpperFilters and LowerFilters. */
static int drop_filter(struct ctx *c, const char *cls, const char *name)
{
    static const char *const vals[] = { "UpperFilters", "LowerFilters" };
    struct p2v_hive *h;
    char key[160];
    int r = hive(c, SYSTEM, &h);
    snprintf(key, sizeof key, "%s\\Control\\Class\\%s", c->w->ccs, cls);
    for (int v = 0; r == 0 && v < 2; v++) {
        struct p2v_reg_value val;
        if (p2v_hive_get(h, key, vals[v], &val) < 0)
            continue;
        char *items[64];
        int n = 0, found = 0;
        for (size_t i = 0; val.type == P2V_REG_MULTI_SZ && i + 1 < val.len && (val.data[i] || val.data[i + 1]) && n < 64;) {
            size_t end = i;
            while (end + 1 < val.len && (val.data[end] || val.data[end + 1]))
                end += 2;
            char *one = NULL;
            if (p2v_utf8_from_utf16(val.data + i, end - i, &one) == 0) {
                if (!strcasecmp(one, name)) {
                    found = 1;
                    free(one);
                } else {
                    items[n++] = one;
                }
            }
            i = end + 2;
        }
        char *shown = found ? NULL : render(val.type, val.data, val.len);
        free(val.data);
        if (found)
            r = reg_multi(c, SYSTEM, key, vals[v], items, n);
        else  /* already without it: say so, as a second run does */
            r = shown ? record(c, 0, shown, shown, "SYSTEM\\%s: %s", key, vals[v]) : -ENOMEM;
        free(shown);
        for (int i = 0; i < n; i++)
            free(items[i]);
    }
    return r;
}

static int vendor_list(struct ctx *c, const char *text)
{
    char *copy = strdup(text), *save = NULL;
    int r = copy ? 0 : -ENOMEM;
    for (char *line = copy ? strtok_r(copy, "\n", &save) : NULL; r == 0 && line;
         line = strtok_r(NULL, "\n", &save)) {
        char kind[16], a[128], b[128];
        int n = sscanf(line, "%15s %127s %127s", kind, a, b);
        if (n < 1 || kind[0] == '#')
            continue;
        if (!strcmp(kind, "service") && n >= 2)
            r = disable_service(c, a);
        else if (!strcmp(kind, "filter") && n == 3)
            r = drop_filter(c, a, b);
        else
            r = fail(c, -EINVAL, "vendor list line '%s': expected 'service NAME' or "
                     "'filter {CLASS} NAME'", line);
    }
    free(copy);
    return r;
}

static int disable_vendor_services(struct ctx *c)
{
    int r = vendor_list(c, p2v_vendor_services);
    if (r == 0 && c->a->argc > 1) {
        uint8_t *d;
        size_t len;
        if ((r = read_local(c, c->a->argv[1], &d, &len)) < 0)
            return r;
        char *text = strndup((char *)d, len);
        free(d);
        r = text ? vendor_list(c, text) : -ENOMEM;
        free(text);
    }
    return r;
}

/* ---- registry actions ---- */

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

static int reg_set(struct ctx *c)
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
            return fail(c, -EINVAL, "'%s' is not a %s", d[0], type);
        uint8_t b[8];
        put_le64(b, v);
        return reg_put(c, which, key, value, type[0] == 'd' ? P2V_REG_DWORD : P2V_REG_QWORD, b,
                       type[0] == 'd' ? 4 : 8);
    }
    if ((!strcmp(type, "sz") || !strcmp(type, "expand")) && nd == 1)
        return reg_string(c, which, key, value, type[0] == 's' ? P2V_REG_SZ : P2V_REG_EXPAND_SZ, d[0]);
    if (!strcmp(type, "multi"))
        return reg_multi(c, which, key, value, d, nd);
    if (!strcmp(type, "binary") && nd <= 1) {
        uint8_t b[4096];
        size_t len = 0;
        if (nd && hex_bytes(d[0], b, sizeof b, &len) < 0)
            return fail(c, -EINVAL, "'%s' is not hex bytes (01,ff,... or 01ff...)", d[0]);
        return reg_binary(c, which, key, value, b, len);
    }
    return fail(c, -EINVAL, "type '%s' with %d data words: use dword N, qword N, sz TEXT, "
                "expand TEXT, multi TEXT..., binary HEX", type, nd);
}

static int reg_delete(struct ctx *c)
{
    char key[512];
    int which;
    int r = parse_key(c, c->a->argv[1], &which, key, sizeof key);
    if (r < 0)
        return r;
    if (!key[0])
        return fail(c, -EINVAL, "refusing to delete a whole hive");
    return reg_del(c, which, key, c->a->argc > 2 ? c->a->argv[2] : NULL);
}

/* ---- first boot ---- */

/* Runs once, before anyone logs on, as SYSTEM: Windows' own hook for
 * setup programs (HKLM\SYSTEM\Setup CmdLine with SetupType 2).  The
 * runner first turns the hook off, so a failing script cannot loop. */
static const char firstboot_runner[] =
    "@echo off\r\n"
    "rem p2v first-boot runner: runs the scripts in %SystemRoot%\\p2v\\firstboot once,\r\n"
    "rem at the next boot, before logon, as SYSTEM.  Output: firstboot.log\r\n"
    "reg add HKLM\\SYSTEM\\Setup /v SetupType /t REG_DWORD /d 0 /f >nul\r\n"
    "reg add HKLM\\SYSTEM\\Setup /v CmdLine /t REG_SZ /d \"\" /f >nul\r\n"
    "for %%f in (\"%SystemRoot%\\p2v\\firstboot\\*.cmd\") do (\r\n"
    "  echo == %%f >> \"%SystemRoot%\\p2v\\firstboot.log\"\r\n"
    "  call \"%%f\" >> \"%SystemRoot%\\p2v\\firstboot.log\" 2>&1\r\n"
    ")\r\n";

static const char firstboot_cmdline[] = "cmd.exe /c \"%SystemRoot%\\p2v\\firstboot.cmd\"";

static int firstboot(struct ctx *c)
{
    struct p2v_hive *h;
    uint32_t setup = 0;
    char *cmd = NULL;
    int r = hive(c, SYSTEM, &h);
    if (r < 0)
        return r;
    p2v_hive_get_string(h, "Setup", "CmdLine", &cmd);
    if (p2v_hive_get_dword(h, "Setup", "SetupType", &setup) == 0 && setup != 0 &&
        (!cmd || strcmp(cmd, firstboot_cmdline) != 0)) {
        free(cmd);
        return fail(c, -EBUSY, "Windows has setup work pending (SYSTEM\\Setup SetupType = %u); "
                    "finish it by booting the machine once, then convert", setup);
    }
    free(cmd);
    uint8_t *script;
    size_t len;
    if ((r = read_local(c, c->a->argv[1], &script, &len)) < 0)
        return r;
    const char *base = strrchr(c->a->argv[1], '/');
    base = base ? base + 1 : c->a->argv[1];
    char path[256];
    snprintf(path, sizeof path, "%s/p2v/firstboot/%02d-%s%s", c->w->systemroot, ++c->firstboot_n,
             base, strcasestr(base, ".cmd") || strcasestr(base, ".bat") ? "" : ".cmd");
    r = file_put(c, path, script, len);
    free(script);
    snprintf(path, sizeof path, "%s/p2v/firstboot.cmd", c->w->systemroot);
    if (r == 0)
        r = file_put(c, path, (const uint8_t *)firstboot_runner, sizeof firstboot_runner - 1);
    if (r == 0)
        r = reg_string(c, SYSTEM, "Setup", "CmdLine", P2V_REG_SZ, firstboot_cmdline);
    if (r == 0)
        r = reg_dword(c, SYSTEM, "Setup", "SetupType", 2);
    return r;
}

/* ---- boot sectors ---- */

/* NTFS boot sectors (primary and backup) must say where their partition
 * starts; a disk imaged from another place may not. */
static int boot_geometry(struct ctx *c)
{
    struct p2v_layer *d = c->in->disk;
    for (int i = 0; i < c->in->nvols; i++) {
        const struct p2v_volume *v = &c->in->vols[i];
        if (strcmp(v->fstype, "ntfs") != 0)
            continue;
        uint8_t b[512];
        int r = p2v_layer_read(d, b, 512, v->start);
        if (r < 0)
            return r;
        uint64_t backup = get_le64(b + 0x28) * 512;
        uint64_t at[2] = { v->start, backup + 512 <= v->size ? v->start + backup : 0 };
        uint32_t want = (uint32_t)(v->start / 512);
        for (int k = 0; k < 2 && at[k]; k++) {
            uint8_t cur[4], orig[4] = { 0 };
            if ((r = p2v_layer_read(d, cur, 4, at[k] + 0x1c)) < 0)
                return r;
            /* What the source had, before the disk layout moved anything. */
            uint64_t src = at[k] + 0x1c - c->in->base_shift;
            if (at[k] >= c->in->base_shift && src + 4 <= c->in->base->size &&
                (r = p2v_layer_read(c->in->base, orig, 4, src)) < 0)
                return r;
            if (get_le32(cur) != want) {
                uint8_t w4[4];
                put_le32(w4, want);
                if ((r = p2v_layer_write(d, w4, 4, at[k] + 0x1c)) < 0)
                    return r;
            }
            char o[32], n[32];
            snprintf(o, sizeof o, "%u", get_le32(orig));
            snprintf(n, sizeof n, "%u", want);
            r = record(c, get_le32(orig) != want, o, n,
                       "partition %d %s boot sector (byte %llu): hidden sectors", v->number,
                       k ? "backup" : "primary", (unsigned long long)at[k]);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

/* ---- the plan ---- */

static int run(struct ctx *c, const struct p2v_action *a)
{
    c->a = a;
    const char *n = a->argv[0];
    if (!strcmp(n, "enable-driver"))
        return enable_driver(c);
    if (!strcmp(n, "inject-driver"))
        return inject_driver(c);
    if (!strcmp(n, "disable-service"))
        return disable_service(c, a->argv[1]);
    if (!strcmp(n, "disable-vendor-services"))
        return disable_vendor_services(c);
    if (!strcmp(n, "no-auto-reboot")) {
        char key[96];
        snprintf(key, sizeof key, "%s\\Control\\CrashControl", c->w->ccs);
        return reg_dword(c, SYSTEM, key, "AutoReboot", 0);
    }
    if (!strcmp(n, "reg-set"))
        return reg_set(c);
    if (!strcmp(n, "reg-delete"))
        return reg_delete(c);
    if (!strcmp(n, "file-put") || !strcmp(n, "file-delete")) {
        char gp[1024];
        guest_path(c, a->argv[a->argc - 1], gp, sizeof gp);
        if (n[5] == 'd')
            return file_del(c, gp);
        uint8_t *d;
        size_t len;
        int r = read_local(c, a->argv[1], &d, &len);
        if (r == 0)
            r = file_put(c, gp, d, len);
        free(d);
        return r;
    }
    if (!strcmp(n, "firstboot"))
        return firstboot(c);
    return 0;  /* boot-geometry: after the volume is closed */
}

/* Missing local files are refused before anything is changed. */
static int check_files(const struct p2v_plan *plan)
{
    for (int i = 0; i < plan->n; i++) {
        const struct p2v_action *a = &plan->a[i];
        int first = 0, last = -1;
        if (!strcmp(a->argv[0], "inject-driver")) {
            first = 2;
            last = a->argc > 3 && strncmp(a->argv[3], "pci=", 4) && strncmp(a->argv[3], "class=", 6) ? 3 : 2;
        } else if (!strcmp(a->argv[0], "file-put") || !strcmp(a->argv[0], "firstboot") ||
                   (!strcmp(a->argv[0], "disable-vendor-services") && a->argc > 1)) {
            first = last = 1;
        }
        for (int k = first; k <= last; k++) {
            char *p = p2v_plan_file(plan, a->argv[k]);
            FILE *f = p ? fopen(p, "rbe") : NULL;
            int e = errno;
            if (!f) {
                p2v_err("plan %s line %d (%s): %s: %s", plan->path, a->line, a->argv[0],
                        p ? p : a->argv[k], strerror(p ? e : ENOMEM));
                free(p);
                return -ENOENT;
            }
            fclose(f);
            free(p);
        }
    }
    return 0;
}

int p2v_apply(const struct p2v_apply_in *in, const struct p2v_plan *plan,
              struct p2v_changes *out, struct p2v_windows *w)
{
    memset(out, 0, sizeof *out);
    struct ctx c = { .in = in, .plan = plan, .w = w, .out = out };
    int r = check_files(plan), need_windows = 0;
    for (int i = 0; i < plan->n; i++) {
        const struct p2v_action *a = &plan->a[i];
        char *end;
        int on_partition = (!strcmp(a->argv[0], "file-put") || !strcmp(a->argv[0], "file-delete")) &&
                           strtol(a->argv[a->argc - 1], &end, 10) >= 0 && end != a->argv[a->argc - 1] && *end == ':';
        need_windows |= strcmp(a->argv[0], "boot-geometry") != 0 && !on_partition;
    }
    if (r == 0 && need_windows) {
        r = p2v_windows_find(in->disk, in->vols, in->nvols, in->name, 1, w, &c.gfs);
        if (r == -ENOENT)
            p2v_err("%s: the plan edits Windows, but no Windows was found (no NTFS volume "
                    "with Windows/System32/config and cmd.exe)", in->name);
    }
    for (int i = 0; r == 0 && i < plan->n; i++)
        r = run(&c, &plan->a[i]);
    /* Edited hives go back into the guest as whole files. */
    for (int h = 0; h < NHIVES; h++) {
        if (r == 0 && c.dirty[h]) {
            uint8_t *d;
            size_t len;
            char path[64];
            p2v_windows_hive_path(w, hive_names[h], path, sizeof path);
            if ((r = p2v_hive_save(c.hive[h], &d, &len)) == 0) {
                r = p2v_gfs_write(c.gfs, path, d, len);
                free(d);
            }
        }
        p2v_hive_close(c.hive[h]);
    }
    if (c.gfs) {
        int cr = p2v_gfs_close(c.gfs);
        if (r == 0)
            r = cr;
    }
    for (int i = 0; i < c.nopen; i++) {
        int cr = p2v_gfs_close(c.open[i].g);
        if (r == 0)
            r = cr;
    }
    for (int i = 0; r == 0 && i < plan->n; i++)
        if (!strcmp(plan->a[i].argv[0], "boot-geometry")) {
            c.a = &plan->a[i];
            r = boot_geometry(&c);
        }
    if (r < 0) {
        p2v_changes_free(out);
        return r;
    }
    /* In plan order: boot-geometry ran last but is reported at its line. */
    for (int i = 1; i < out->n; i++)
        for (int k = i; k > 0 && out->c[k - 1].line > out->c[k].line; k--) {
            struct p2v_change t = out->c[k];
            out->c[k] = out->c[k - 1];
            out->c[k - 1] = t;
        }
    return 0;
}

void p2v_changes_free(struct p2v_changes *c)
{
    for (int i = 0; i < c->n; i++) {
        free(c->c[i].what);
        free(c->c[i].old);
        free(c->c[i].new_);
    }
    free(c->c);
    c->c = NULL;
    c->n = 0;
}


void p2v_changes_json(FILE *f, const struct p2v_changes *c)
{
    fputs("\"changes\": [", f);
    for (int i = 0; i < c->n; i++) {
        const struct p2v_change *ch = &c->c[i];
        fprintf(f, "%s\n  {\"line\": %d, \"action\": ", i ? "," : "", ch->line);
        json_string(f, ch->action);
        fputs(", \"what\": ", f);
        json_string(f, ch->what);
        fputs(", \"old\": ", f);
        json_string(f, ch->old);
        fputs(", \"new\": ", f);
        json_string(f, ch->new_);
        fprintf(f, ", \"changed\": %s}", ch->changed ? "true" : "false");
    }
    fputs(c->n ? "\n]" : "]", f);
}

void p2v_changes_text(FILE *f, const struct p2v_changes *c)
{
    int changed = 0;
    for (int i = 0; i < c->n; i++) {
        const struct p2v_change *ch = &c->c[i];
        changed += ch->changed;
        fprintf(f, "%4d %-22s %s\n", ch->line, ch->action, ch->what);
        if (ch->changed)
            fprintf(f, "     %-22s %s -> %s\n", "", ch->old, ch->new_);
        else
            fprintf(f, "     %-22s unchanged (%s)\n", "", ch->new_);
    }
    fprintf(f, "%d change%s, %d already in place\n", changed, changed == 1 ? "" : "s",
            c->n - changed);
}
