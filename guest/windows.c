#include "windows.h"

#include "core/bytes.h"
#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void p2v_windows_hive_path(const struct p2v_windows *w, const char *hive, char *out, size_t len)
{
    snprintf(out, len, "%s/System32/config/%s", w->systemroot, hive);
}

int p2v_windows_load_hive(struct p2v_gfs *g, const struct p2v_windows *w, const char *hive,
                          struct p2v_hive **out)
{
    char path[64];
    uint8_t *data;
    size_t len;
    p2v_windows_hive_path(w, hive, path, sizeof path);
    int r = p2v_gfs_read(g, path, &data, &len);
    if (r < 0) {
        if (r == -ENOENT)
            p2v_err("partition %d: %s is missing; this Windows cannot be inspected",
                    w->vol.number, path);
        return r;
    }
    r = p2v_hive_load(data, len, hive, out);
    free(data);
    return r;
}

static const char *machine_name(uint16_t m)
{
    switch (m) {
    case 0x014c: return "i386";
    case 0x8664: return "x86_64";
    case 0x0200: return "ia64";
    case 0xaa64: return "arm64";
    default: return "unknown";
    }
}

static void arch_of(struct p2v_gfs *g, struct p2v_windows *w)
{
    char path[64];
    uint8_t *d;
    size_t len;
    snprintf(path, sizeof path, "%s/System32/cmd.exe", w->systemroot);
    snprintf(w->arch, sizeof w->arch, "unknown");
    if (p2v_gfs_read(g, path, &d, &len) < 0)
        return;
    if (len >= 0x40 && d[0] == 'M' && d[1] == 'Z') {
        uint32_t pe = get_le32(d + 0x3c);
        if (pe <= len - 6 && !memcmp(d + pe, "PE\0\0", 4))
            snprintf(w->arch, sizeof w->arch, "%s", machine_name(get_le16(d + pe + 4)));
    }
    free(d);
}

static void copy_string(struct p2v_hive *h, const char *key, const char *value, char *out,
                        size_t len)
{
    char *s;
    if (p2v_hive_get_string(h, key, value, &s) == 0) {
        snprintf(out, len, "%s", s);
        free(s);
    }
}

static int read_facts(struct p2v_gfs *g, struct p2v_windows *w)
{
    struct p2v_hive *sys, *sw;
    int r = p2v_windows_load_hive(g, w, "SYSTEM", &sys);
    if (r < 0)
        return r;
    uint32_t cur = 1;
    if (p2v_hive_get_dword(sys, "Select", "Current", &cur) < 0)
        p2v_warn("partition %d: SYSTEM has no Select\\Current; assuming ControlSet001",
                 w->vol.number);
    w->controlset = (int)cur;
    snprintf(w->ccs, sizeof w->ccs, "ControlSet%03u", cur % 1000);
    char key[96];
    snprintf(key, sizeof key, "%s\\Control\\ComputerName\\ComputerName", w->ccs);
    copy_string(sys, key, "ComputerName", w->hostname, sizeof w->hostname);
    w->driver_database = p2v_hive_key_exists(sys, "DriverDatabase");
    p2v_hive_close(sys);

    if ((r = p2v_windows_load_hive(g, w, "SOFTWARE", &sw)) < 0)
        return r;
    const char *cv = "Microsoft\\Windows NT\\CurrentVersion";
    copy_string(sw, cv, "ProductName", w->product, sizeof w->product);
    copy_string(sw, cv, "CurrentBuildNumber", w->build, sizeof w->build);
    copy_string(sw, cv, "InstallationType", w->installation_type, sizeof w->installation_type);
    copy_string(sw, cv, "EditionID", w->edition, sizeof w->edition);
    uint32_t maj, min;
    if (p2v_hive_get_dword(sw, cv, "CurrentMajorVersionNumber", &maj) == 0 &&
        p2v_hive_get_dword(sw, cv, "CurrentMinorVersionNumber", &min) == 0) {
        w->major = maj;
        w->minor = min;
        snprintf(w->version, sizeof w->version, "%u.%u", maj, min);
    } else {
        /* Before Windows 10: the "6.1" string. */
        copy_string(sw, cv, "CurrentVersion", w->version, sizeof w->version);
        sscanf(w->version, "%u.%u", &w->major, &w->minor);
    }
    p2v_hive_close(sw);
    return 0;
}

/* The system root on this volume, if any. */
static int find_root(struct p2v_gfs *g, struct p2v_windows *w)
{
    static const char *const roots[] = { "/Windows", "/WINNT", "/win32", "/win", "/reactos" };
    for (size_t i = 0; i < sizeof roots / sizeof *roots; i++) {
        char p[64];
        int dir = 0;
        snprintf(p, sizeof p, "%s/System32/config", roots[i]);
        if (p2v_gfs_stat(g, p, &dir, NULL) != 1 || !dir)
            continue;
        snprintf(p, sizeof p, "%s/System32/cmd.exe", roots[i]);
        if (p2v_gfs_stat(g, p, &dir, NULL) != 1 || dir)
            continue;
        snprintf(w->systemroot, sizeof w->systemroot, "%s", roots[i]);
        return 1;
    }
    return 0;
}

int p2v_windows_find(struct p2v_layer *l, const struct p2v_volume *vols, int nvols,
                     const char *name, int rw, struct p2v_windows *w, struct p2v_gfs **gfs)
{
    for (int i = 0; i < nvols; i++) {
        /* libblkid names BitLocker only when its metadata is complete; the
         * boot sector's OEM id says it already. */
        uint8_t b[16];
        int fve = p2v_layer_read(l, b, sizeof b, vols[i].start) == 0 && !memcmp(b + 3, "-FVE-FS-", 8);
        if (fve || !strcmp(vols[i].fstype, "BitLocker")) {
            p2v_err("%s partition %d is BitLocker-encrypted; p2v cannot convert it. Decrypt "
                    "it first (manage-bde -off on that drive) and convert again", name,
                    vols[i].number);
            return -EACCES;
        }
    }
    for (int i = 0; i < nvols; i++) {
        if (strcmp(vols[i].fstype, "ntfs") != 0)
            continue;
        char what[4200];
        snprintf(what, sizeof what, "%s partition %d", name, vols[i].number);
        struct p2v_gfs *g;
        int r = p2v_gfs_open(l, vols[i].start, vols[i].size, what, 0, &g);
        if (r < 0)
            return r;
        memset(w, 0, sizeof *w);
        w->vol = vols[i];
        int found = find_root(g, w);
        if (found && (r = read_facts(g, w)) < 0) {
            p2v_gfs_close(g);
            return r;
        }
        if (found)
            arch_of(g, w);
        r = p2v_gfs_close(g);
        if (!found)
            continue;
        if (r == 0 && gfs)
            r = p2v_gfs_open(l, vols[i].start, vols[i].size, what, rw, gfs);
        return r;
    }
    return -ENOENT;
}
