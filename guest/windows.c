#include "windows.h"

#include "core/bytes.h"
#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void p2v_windows_hive_path(const struct p2v_windows *w, const char *hive, char *out, size_t len)
{
    snprintf(out, len, "%s/System32/config/%s", w->systemroot, hive);
}

const char *p2v_hive_state_name(enum p2v_hive_state s)
{
    return s == P2V_HIVE_CLEAN ? "clean" : s == P2V_HIVE_RECOVERED ? "recovered" : "dirty";
}

/* The record of hive in w: found, or a new one. */
static struct p2v_hive_status *status_of(struct p2v_windows *w, const char *hive)
{
    for (int i = 0; i < w->nhives; i++)
        if (!strcmp(w->hives[i].name, hive))
            return &w->hives[i];
    if (w->nhives == P2V_WINDOWS_HIVES)
        return NULL;
    struct p2v_hive_status *s = &w->hives[w->nhives++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", hive);
    return s;
}

/* A transaction log beside the hive: its bytes, or absent (no file). */
static int read_log(struct p2v_gfs *g, const char *path, int n, struct p2v_hive_log *log,
                    char *name, size_t name_len)
{
    uint8_t *d = NULL;
    size_t len = 0;
    snprintf(name, name_len, "%s.LOG%d", path, n);
    int r = p2v_gfs_read(g, name, &d, &len);
    *log = (struct p2v_hive_log){ r == 0 ? d : NULL, r == 0 ? len : 0, name };
    return r == -ENOENT ? 0 : r;
}

/* A dirty hive: replayed from its logs, or (as the flags say) used as it
 * is, or refused.  On success *data is the hive to load. */
static int recover(struct p2v_gfs *g, struct p2v_windows *w, const char *path,
                   struct p2v_hive_status *st, uint8_t **data, size_t *len)
{
    char names[2][96];
    struct p2v_hive_log logs[2] = { { 0 } };
    int r = read_log(g, path, 1, &logs[0], names[0], sizeof names[0]);
    if (r == 0)
        r = read_log(g, path, 2, &logs[1], names[1], sizeof names[1]);
    struct p2v_hive_recovery info = { 0 };
    uint8_t *rec = NULL;
    size_t rlen = 0;
    if (r == 0)
        r = p2v_hive_recover(*data, *len, logs, 2, !!(w->flags & P2V_WIN_IGNORE_HIVE_LOGS),
                             &rec, &rlen, &info);
    free((void *)logs[0].data);
    free((void *)logs[1].data);
    if (r == -ENOENT && (w->flags & P2V_WIN_TOLERATE_DIRTY)) {
        /* Inspection only: the rules report it; the facts are the stale
         * primary's. */
        st->state = P2V_HIVE_DIRTY;
        snprintf(st->why, sizeof st->why, "%s", info.why);
        return 0;
    }
    if (r == -ENOENT) {
        p2v_err("partition %d: the %s hive (%s) was not shut down cleanly (sequence numbers "
                "%u/%u) and its transaction logs cannot be replayed: %s. Start Windows and shut "
                "it down fully (shutdown /s /t 0), then convert again; or pass "
                "--ignore-hive-logs to use the hive as it is and lose what its logs hold",
                w->vol.number, st->name, path, info.seq1, info.seq2, info.why);
        return -EUCLEAN;
    }
    if (r < 0) {
        p2v_err("partition %d: the %s hive (%s) cannot be recovered from its transaction logs: "
                "%s", w->vol.number, st->name, path, r == -EINVAL ? info.why : strerror(-r));
        return r;
    }
    st->state = info.state;
    st->seq = info.seq;
    st->entries = info.entries;
    if (info.state == P2V_HIVE_DIRTY) {
        st->ignored = 1;
        snprintf(st->why, sizeof st->why, "%s", info.why);
        p2v_warn("partition %d: the %s hive was not shut down cleanly; its transaction logs are "
                 "ignored (--ignore-hive-logs): what they hold is lost (%s)", w->vol.number,
                 st->name, info.why);
    }
    free(*data);
    *data = rec;
    *len = rlen;
    return 0;
}

int p2v_windows_load_hive(struct p2v_gfs *g, struct p2v_windows *w, const char *hive,
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
    struct p2v_hive_status scratch, *st = status_of(w, hive);
    if (!st)
        st = &scratch;
    int dirty = p2v_hive_is_dirty(data, len);
    if (dirty >= 0 && len >= 12) {
        st->seq1 = get_le32(data + 4);
        st->seq2 = get_le32(data + 8);
        st->seq = st->seq1;
    }
    /* Not a hive at all: p2v_hive_load says so. */
    if (dirty == 1 && (r = recover(g, w, path, st, &data, &len)) < 0) {
        free(data);
        return r;
    }
    r = p2v_hive_load(data, len, hive, out);
    free(data);
    return r;
}

void p2v_windows_service_file(struct p2v_hive *sys, const struct p2v_windows *w,
                              const char *name, char *out, size_t len)
{
    char key[192], *ip = NULL;
    snprintf(out, len, "%s/System32/drivers/%s.sys", w->systemroot, name);
    snprintf(key, sizeof key, "%s\\Services\\%s", w->ccs, name);
    if (p2v_hive_get_string(sys, key, "ImagePath", &ip) < 0)
        return;
    const char *p = ip;
    if (!strncasecmp(p, "\\SystemRoot\\", 12))
        p += 12;
    if (!strncasecmp(p, "System32\\", 9)) {
        snprintf(out, len, "%s/%s", w->systemroot, p);
        for (char *q = out; *q; q++)
            if (*q == '\\')
                *q = '/';
    }
    free(ip);
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
    /* The host name as libguestfs reports it: the DNS host name Tcpip
     * keeps, else the NetBIOS computer name. */
    char key[96];
    snprintf(key, sizeof key, "%s\\Services\\Tcpip\\Parameters", w->ccs);
    copy_string(sys, key, "Hostname", w->hostname, sizeof w->hostname);
    snprintf(key, sizeof key, "%s\\Control\\ComputerName\\ComputerName", w->ccs);
    if (!w->hostname[0])
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

/* The system root on this volume: 1, 0 if none, -errno. */
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
        /* Named as the volume spells it (an XP disk says WINDOWS): the
         * paths p2v reports and writes are the guest's own. */
        char real[sizeof w->systemroot - 1];
        int r = p2v_gfs_spelling(g, "/", roots[i] + 1, real, sizeof real);
        if (r < 0)
            return r;
        snprintf(w->systemroot, sizeof w->systemroot, "/%.*s", (int)sizeof real - 1,
                 r ? real : roots[i] + 1);
        return 1;
    }
    return 0;
}

int p2v_windows_find(struct p2v_layer *l, const struct p2v_volume *vols, int nvols,
                     const char *name, unsigned flags, struct p2v_windows *w,
                     struct p2v_gfs **gfs)
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
        w->flags = flags;
        int found = find_root(g, w);
        if (found < 0 || (found && (r = read_facts(g, w)) < 0)) {
            r = found < 0 ? found : r;
            p2v_gfs_close(g);
            return r;
        }
        if (found)
            arch_of(g, w);
        r = p2v_gfs_close(g);
        if (!found)
            continue;
        if (r == 0 && gfs)
            r = p2v_gfs_open(l, vols[i].start, vols[i].size, what, !!(flags & P2V_WIN_RW), gfs);
        return r;
    }
    return -ENOENT;
}
