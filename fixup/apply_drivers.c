#define _GNU_SOURCE
#include "apply_ctx.h"

#include "guest/windows_drivers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int service_exists(struct ctx *c, const char *drv)
{
    struct p2v_hive *h;
    char key[160];
    snprintf(key, sizeof key, "%s\\Services\\%s", c->w->ccs, drv);
    return fx_hive(c, SYSTEM, &h) == 0 && p2v_hive_key_exists(h, key);
}

/* The driver package (or CriticalDeviceDatabase service) the hive maps
 * PCI ID id to already, in inf (len bytes); 0 when it maps none. */
static int mapped_by(struct ctx *c, const char *id, char *inf, size_t len)
{
    struct p2v_hive *h;
    char key[512], **names;
    size_t n;
    if (fx_hive(c, SYSTEM, &h) < 0)
        return 0;
    if (!c->w->driver_database) {
        char *svc = NULL;
        snprintf(key, sizeof key, "%s\\Control\\CriticalDeviceDatabase\\PCI#%s", c->w->ccs, id);
        if (p2v_hive_get_string(h, key, "Service", &svc) < 0)
            return 0;
        snprintf(inf, len, "service %s", svc);
        free(svc);
        return 1;
    }
    snprintf(key, sizeof key, "DriverDatabase\\DeviceIds\\PCI\\%s", id);
    if (p2v_hive_value_names(h, key, &names, &n) < 0)
        return 0;
    int found = n > 0 && names[0][0];
    if (found)
        snprintf(inf, len, "%s", names[0]);
    p2v_strv_free(names, n);
    return found;
}

/* Where Windows looks for the driver of a PCI device at boot.  An ID the
 * hive maps already (Windows' own packages map its inbox drivers, e.g.
 * mshdc.inf for storahci and intelide) is left as it is: a package of
 * p2v's own beside it would shadow Windows' and break later driver
 * updates and upgrades. */
static int register_pci(struct ctx *c, const char *drv, const char *id, const char *cls)
{
    char key[512], pkg[128];
    int r;
    if (mapped_by(c, id, pkg, sizeof pkg))
        return fx_record(c, 0, pkg, pkg, "SYSTEM: PCI\\%s (%s's controller) is mapped", id, drv);
    if (!c->w->driver_database) {
        /* Windows 7 and older: the CriticalDeviceDatabase. */
        snprintf(key, sizeof key, "%s\\Control\\CriticalDeviceDatabase\\PCI#%s", c->w->ccs, id);
        if ((r = fx_reg_string(c, SYSTEM, key, "Service", P2V_REG_SZ, drv)) == 0)
            r = fx_reg_string(c, SYSTEM, key, "ClassGUID", P2V_REG_SZ, cls);
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
    if ((r = fx_reg_multi(c, SYSTEM, key, "", one, 1)) < 0 ||
        (r = fx_reg_string(c, SYSTEM, key, "Active", P2V_REG_SZ, label)) < 0 ||
        (r = fx_reg_multi(c, SYSTEM, key, "Configurations", confs, 1)) < 0)
        return r;
    snprintf(key, sizeof key, "DriverDatabase\\DeviceIds\\PCI\\%s", id);
    static const uint8_t rank[4] = { 0x01, 0xff, 0x00, 0x00 };
    if ((r = fx_reg_binary(c, SYSTEM, key, inf, rank, sizeof rank)) < 0)
        return r;
    uint8_t version[8 + 16 + 24] = { 0x00, 0xff, 0x09, 0x00 };
    if (p2v_driver_class_bytes(cls, version + 8) < 0)
        return fx_fail(c, -EINVAL, "class '%s' is not a {GUID}", cls);
    snprintf(key, sizeof key, "DriverDatabase\\DriverPackages\\%s", label);
    if ((r = fx_reg_binary(c, SYSTEM, key, "Version", version, sizeof version)) < 0)
        return r;
    snprintf(key, sizeof key, "DriverDatabase\\DriverPackages\\%s\\Configurations\\%s", label, conf);
    if ((r = fx_reg_dword(c, SYSTEM, key, "ConfigFlags", 0)) < 0 ||
        (r = fx_reg_string(c, SYSTEM, key, "Service", P2V_REG_SZ, drv)) < 0)
        return r;
    snprintf(key, sizeof key, "DriverDatabase\\DriverPackages\\%s\\Descriptors\\PCI\\%s", label, id);
    return fx_reg_string(c, SYSTEM, key, "Configuration", P2V_REG_SZ, conf);
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
    char *save = NULL, inf[128];
    int r = 0;
    /* Windows' own package matches the controller by its class code: then
     * it needs nothing of p2v's. */
    const struct p2v_driver_info *d = p2v_driver_lookup(drv);
    if (d && d->compat[0] && mapped_by(c, d->compat, inf, sizeof inf))
        return fx_record(c, 0, inf, inf, "SYSTEM: PCI\\%s (%s's controllers) is mapped",
                         d->compat, drv);
    for (char *id = strtok_r(ids, ",", &save); r == 0 && id; id = strtok_r(NULL, ",", &save))
        r = register_pci(c, drv, id, cls);
    return r;
}

/* Does the plan put path (or driver drv) in place itself, in any line? */
static int plan_puts(struct ctx *c, const char *drv, const char *path)
{
    for (int i = 0; i < c->plan->n; i++) {
        const struct p2v_action *a = &c->plan->a[i];
        if (!strcmp(a->argv[0], "inject-driver") && !strcasecmp(a->argv[1], drv))
            return 1;
        if (!strcmp(a->argv[0], "file-put") && a->argc > 2) {
            char g[256];
            fx_guest_path(c, a->argv[2], g, sizeof g);
            if (!strcasecmp(g, path))
                return 1;
        }
    }
    return 0;
}

int fx_enable_driver(struct ctx *c)
{
    const char *drv = c->a->argv[1];
    if (!service_exists(c, drv))
        return fx_fail(c, -ENOENT, "service %s is not in this Windows; add it with "
                    "inject-driver %s FILE.sys", drv, drv);
    /* A boot-start service whose file is missing stops Windows with 0x7B
     * as surely as a disabled one. */
    char file[256];
    struct p2v_hive *sys;
    int r = fx_hive(c, SYSTEM, &sys);
    if (r < 0)
        return r;
    p2v_windows_service_file(sys, c->w, drv, file, sizeof file);
    if (p2v_gfs_stat(c->gfs, file, NULL, NULL) != 1 && !plan_puts(c, drv, file))
        return fx_fail(c, -ENOENT, "%s's file %s is not in this Windows: enabling it would stop "
                       "Windows at boot; put it there with inject-driver %s FILE.sys (from the "
                       "installation media) in the plan", drv, file, drv);
    char key[160], ids[512];
    const char *cls;
    snprintf(key, sizeof key, "%s\\Services\\%s", c->w->ccs, drv);
    r = fx_reg_dword(c, SYSTEM, key, "Start", 0);
    /* StartOverride\0 = 3 overrides Start (a cause of 0x7B). */
    snprintf(key, sizeof key, "%s\\Services\\%s\\StartOverride", c->w->ccs, drv);
    if (r == 0)
        r = fx_reg_del(c, SYSTEM, key, NULL);
    if (r == 0)
        r = driver_ids(c, drv, 2, ids, sizeof ids, &cls);
    return r == 0 ? register_all(c, drv, ids, cls) : r;
}

/* The PE machine of a driver image, or 0 when it is no PE image. */
static unsigned pe_machine(const uint8_t *d, size_t len)
{
    if (len < 0x40 || d[0] != 'M' || d[1] != 'Z')
        return 0;
    uint32_t pe = (uint32_t)d[0x3c] | (uint32_t)d[0x3d] << 8 | (uint32_t)d[0x3e] << 16 |
                  (uint32_t)d[0x3f] << 24;
    if (pe > len - 6 || memcmp(d + pe, "PE\0\0", 4) != 0)
        return 0;
    return (unsigned)d[pe + 4] | (unsigned)d[pe + 5] << 8;
}

/* A driver for another architecture (or no driver at all) would stop
 * Windows at boot: refused before anything is written. */
static int check_machine(struct ctx *c, const char *file, const uint8_t *d, size_t len)
{
    static const struct { const char *arch; unsigned machine; } m[] = {
        { "i386", 0x014c }, { "x86_64", 0x8664 }, { "ia64", 0x0200 }, { "arm64", 0xaa64 },
    };
    unsigned got = pe_machine(d, len);
    if (!got)
        return fx_fail(c, -EINVAL, "%s is not a Windows driver (no PE image header)", file);
    for (size_t i = 0; i < sizeof m / sizeof *m; i++)
        if (!strcmp(c->w->arch, m[i].arch) && got != m[i].machine)
            return fx_fail(c, -EINVAL, "%s is built for PE machine 0x%04x, but this Windows is "
                           "%s (0x%04x): take the driver for %s from the media", file, got,
                           c->w->arch, m[i].machine,
                           !strcmp(c->w->arch, "i386") ? "x86" : c->w->arch);
    return 0;
}

int fx_inject_driver(struct ctx *c)
{
    const char *drv = c->a->argv[1];
    uint8_t *sys = NULL, *inf = NULL;
    size_t syslen, inflen = 0;
    int has_inf = c->a->argc > 3 && strncmp(c->a->argv[3], "pci=", 4) &&
                  strncmp(c->a->argv[3], "class=", 6);
    int r = fx_read_local(c, c->a->argv[2], &sys, &syslen);
    if (r == 0)
        r = check_machine(c, c->a->argv[2], sys, syslen);
    if (r == 0 && has_inf)
        r = fx_read_local(c, c->a->argv[3], &inf, &inflen);
    char path[128], key[160], ids[512], image[96];
    const char *cls = NULL;
    if (r == 0) {
        snprintf(path, sizeof path, "%s/System32/drivers/%s.sys", c->w->systemroot, drv);
        r = fx_file_put(c, path, sys, syslen);
    }
    if (r == 0 && has_inf) {
        /* PnP finds the .inf through DevicePath and installs it properly later. */
        snprintf(path, sizeof path, "%s/p2v/drivers/%s.inf", c->w->systemroot, drv);
        r = fx_file_put(c, path, inf, inflen);
    }
    free(sys);
    free(inf);
    snprintf(key, sizeof key, "%s\\Services\\%s", c->w->ccs, drv);
    snprintf(image, sizeof image, "system32\\drivers\\%s.sys", drv);
    if (r == 0 && (r = fx_reg_dword(c, SYSTEM, key, "Type", 1)) == 0 &&
        (r = fx_reg_dword(c, SYSTEM, key, "Start", 0)) == 0 &&
        (r = fx_reg_dword(c, SYSTEM, key, "ErrorControl", 1)) == 0 &&
        (r = fx_reg_string(c, SYSTEM, key, "Group", P2V_REG_SZ, "SCSI miniport")) == 0)
        r = fx_reg_string(c, SYSTEM, key, "ImagePath", P2V_REG_EXPAND_SZ, image);
    if (r == 0 && has_inf) {
        struct p2v_hive *h;
        char *dp = NULL;
        const char *cv = "Microsoft\\Windows\\CurrentVersion";
        if ((r = fx_hive(c, SOFTWARE, &h)) == 0) {
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
                r = fx_reg_string(c, SOFTWARE, cv, "DevicePath", P2V_REG_EXPAND_SZ, ndp);
                free(ndp);
            }
        } else if (r == 0) {
            r = fx_reg_string(c, SOFTWARE, cv, "DevicePath", P2V_REG_EXPAND_SZ, dp);
        }
        free(dp);
    }
    if (r == 0)
        r = driver_ids(c, drv, 3, ids, sizeof ids, &cls);
    if (r == 0 && !ids[0])
        return fx_fail(c, -EINVAL, "p2v does not know %s's PCI IDs: add pci=VEN_xxxx&DEV_xxxx,...", drv);
    return r == 0 ? register_all(c, drv, ids, cls) : r;
}

int fx_disable_service(struct ctx *c, const char *drv)
{
    char key[160];
    snprintf(key, sizeof key, "%s\\Services\\%s", c->w->ccs, drv);
    if (!service_exists(c, drv))
        return fx_record(c, 0, "(absent)", "(absent)", "SYSTEM\\%s: Start", key);
    return fx_reg_dword(c, SYSTEM, key, "Start", 4);
}

/* Removes name from a class's UpperFilters and LowerFilters. */
static int drop_filter(struct ctx *c, const char *cls, const char *name)
{
    static const char *const vals[] = { "UpperFilters", "LowerFilters" };
    struct p2v_hive *h;
    char key[160];
    int r = fx_hive(c, SYSTEM, &h);
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
        char *shown = found ? NULL : fx_render(val.type, val.data, val.len);
        free(val.data);
        if (found)
            r = fx_reg_multi(c, SYSTEM, key, vals[v], items, n);
        else  /* already without it: say so, as a second run does */
            r = shown ? fx_record(c, 0, shown, shown, "SYSTEM\\%s: %s", key, vals[v]) : -ENOMEM;
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
            r = fx_disable_service(c, a);
        else if (!strcmp(kind, "filter") && n == 3)
            r = drop_filter(c, a, b);
        else
            r = fx_fail(c, -EINVAL, "vendor list line '%s': expected 'service NAME' or "
                     "'filter {CLASS} NAME'", line);
    }
    free(copy);
    return r;
}

int fx_disable_vendor_services(struct ctx *c)
{
    int r = vendor_list(c, p2v_vendor_services);
    if (r == 0 && c->a->argc > 1) {
        uint8_t *d;
        size_t len;
        if ((r = fx_read_local(c, c->a->argv[1], &d, &len)) < 0)
            return r;
        char *text = strndup((char *)d, len);
        free(d);
        r = text ? vendor_list(c, text) : -ENOMEM;
        free(text);
    }
    return r;
}

