#define _GNU_SOURCE
#include "apply_ctx.h"
#include "plan_files.h"

#include "core/log.h"
#include "guest/windows_programs.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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

int fx_read_local(struct ctx *c, const char *name, uint8_t **data, size_t *len)
{
    char *path = p2v_plan_file(c->plan, name);
    if (!path)
        return -ENOMEM;
    int fd = -1;
    int r = p2v_plan_open_local(c->plan, c->a, path, &fd);
    FILE *f = r == 0 ? fdopen(fd, "rb") : NULL;
    if (r == 0 && !f) {
        r = -errno;
        close(fd);
    }
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
    int opened = f != NULL;
    if (f)
        fclose(f);
    if (r < 0) {
        free(*data);
        *data = NULL;
        if (opened)  /* else p2v_plan_open_local said why */
            fx_fail(c, r, "reading %s: %s", path, strerror(-r));
    }
    free(path);
    return r;
}

/* Guest paths may start with %SystemRoot% (the Windows directory), or
 * with "N:" for partition N. */
void fx_guest_path(struct ctx *c, const char *in, char *out, size_t len)
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
    return fx_fail(c, -EINVAL, "'%s': partition %ld is not an NTFS volume of this disk", in, n);
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
    if (r < 0)
        return r;  /* volume_of said why */
    r = p2v_gfs_read(cur->g, cur->path, &cur->data, &cur->len);
    if (r < 0 && r != -ENOENT)  /* the plan line the message above is about */
        return fx_fail(c, r, "'%s' cannot be read from the guest: %s", where, strerror(-r));
    char h[65];
    if (cur->data) {
        sha256_hex(cur->data, cur->len, h);
        snprintf(cur->shown, sizeof cur->shown, "%zu bytes sha256:%s", cur->len, h);
    } else {
        snprintf(cur->shown, sizeof cur->shown, "(absent)");
    }
    return 0;
}

int fx_file_put(struct ctx *c, const char *where, const uint8_t *d, size_t len)
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
    return fx_record(c, !same, cur.shown, n, "%s", where);
}

int fx_file_del(struct ctx *c, const char *where)
{
    struct current cur;
    int r = current(c, where, &cur);
    if (r < 0)
        return r;
    int had = cur.data != NULL;
    free(cur.data);
    if (had && (r = p2v_gfs_delete(cur.g, cur.path)) < 0)
        return r;
    return fx_record(c, had, cur.shown, "(absent)", "%s", where);
}

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

/* Puts a script the runner calls at first boot at path, and the runner. */
static int firstboot_put(struct ctx *c, const char *path, const uint8_t *script, size_t len)
{
    struct p2v_hive *h;
    uint32_t setup = 0;
    char *cmd = NULL;
    int r = fx_hive(c, SYSTEM, &h);
    if (r < 0)
        return r;
    p2v_hive_get_string(h, "Setup", "CmdLine", &cmd);
    if (p2v_hive_get_dword(h, "Setup", "SetupType", &setup) == 0 && setup != 0 &&
        (!cmd || strcmp(cmd, firstboot_cmdline) != 0)) {
        free(cmd);
        return fx_fail(c, -EBUSY, "Windows has setup work pending (SYSTEM\\Setup SetupType = %u); "
                    "finish it by booting the machine once, then convert", setup);
    }
    free(cmd);
    r = fx_file_put(c, path, script, len);
    char runner[256];
    snprintf(runner, sizeof runner, "%s/p2v/firstboot.cmd", c->w->systemroot);
    if (r == 0)
        r = fx_file_put(c, runner, (const uint8_t *)firstboot_runner, sizeof firstboot_runner - 1);
    if (r == 0)
        r = fx_reg_string(c, SYSTEM, "Setup", "CmdLine", P2V_REG_SZ, firstboot_cmdline);
    if (r == 0)
        r = fx_reg_dword(c, SYSTEM, "Setup", "SetupType", 2);
    return r;
}

int fx_firstboot(struct ctx *c)
{
    uint8_t *script;
    size_t len;
    int r = fx_read_local(c, c->a->argv[1], &script, &len);
    if (r < 0)
        return r;
    const char *base = strrchr(c->a->argv[1], '/');
    base = base ? base + 1 : c->a->argv[1];
    /* Numbered: the runner takes them in name order, so in plan order. */
    char path[256];
    snprintf(path, sizeof path, "%s/p2v/firstboot/%02d-%s%s", c->w->systemroot, ++c->firstboot_n,
             base, strcasestr(base, ".cmd") || strcasestr(base, ".bat") ? "" : ".cmd");
    r = firstboot_put(c, path, script, len);
    free(script);
    return r;
}

/* Another vendor's program removed at first boot with its own
 * uninstaller, run unattended (see p2v_windows_silent_uninstall). */
int fx_uninstall_program(struct ctx *c)
{
    struct p2v_hive *sw;
    struct p2v_win_program *p;
    size_t n;
    int r = fx_hive(c, SOFTWARE, &sw);
    if (r < 0)
        return r;
    if ((r = p2v_windows_programs(sw, &p, &n)) < 0)
        return fx_fail(c, r, "cannot list the programs in SOFTWARE's Uninstall keys");
    const struct p2v_win_program *it = p2v_windows_program_find(p, n, c->a->argv[1]);
    if (!it)
        r = fx_fail(c, -ENOENT, "no program named '%s' in SOFTWARE\\Microsoft\\Windows\\"
                    "CurrentVersion\\Uninstall (p2v inventory lists other hypervisors' programs)",
                    c->a->argv[1]);
    else if (!it->command[0])
        r = fx_fail(c, -ENOTSUP, "'%s' has no unattended uninstall (no QuietUninstallString, not "
                    "a Windows Installer package): remove it from the VM, or give its silent "
                    "command in a firstboot script", it->name);
    if (r < 0) {
        free(p);
        return r;
    }
    char path[256], script[1400];
    p2v_windows_uninstall_script(it, c->w->systemroot, path, sizeof path);
    int len = snprintf(script, sizeof script,
                       "@echo off\r\nrem p2v uninstall-program: Uninstall key %s%s\r\n%s\r\n",
                       it->wow64 ? "(WOW6432Node) " : "", strrchr(path, '/') + 11, it->command);
    if (len < 0 || (size_t)len >= sizeof script)
        r = fx_fail(c, -ENAMETOOLONG, "the uninstall command of '%s' is too long", it->name);
    else
        r = firstboot_put(c, path, (const uint8_t *)script, (size_t)len);
    free(p);
    return r;
}
