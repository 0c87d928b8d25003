#define _GNU_SOURCE
#include "windows_programs.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Programs of other hypervisors, by the name their uninstaller shows. */
static const char *const vendor_programs[] = { "VMware Tools", "Parallels Tools",
                                               "VirtualBox Guest Additions", "Citrix XenServer",
                                               "XenServer", "Citrix Hypervisor", "Xen PV",
                                               "Citrix VM Tools" };

static const char *const uninstall_keys[] = {
    "Microsoft\\Windows\\CurrentVersion\\Uninstall",
    "WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
};

/* "{8-4-4-4-12}" hex: a Windows Installer product code. */
static int product_code(const char *s)
{
    static const char shape[] = "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}";
    for (size_t i = 0; i < sizeof shape - 1; i++)
        if (shape[i] == 'x' ? !isxdigit((unsigned char)s[i]) : s[i] != shape[i])
            return 0;
    return 1;
}

/* The product code an "MsiExec.exe /I{...}" (or /X) line names; NULL. */
static const char *msiexec_code(const char *cmd)
{
    if (!cmd || !strcasestr(cmd, "msiexec"))
        return NULL;
    for (const char *p = cmd; (p = strchr(p, '/')); p++) {
        const char *q = p + 1;
        if (*q != 'I' && *q != 'i' && *q != 'X' && *q != 'x')
            continue;
        q++;
        while (*q == ' ')
            q++;
        if (product_code(q))
            return q;
    }
    return NULL;
}

/* A command a script can hold on one line. */
static int one_line(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20)
            return 0;
    return 1;
}

void p2v_windows_silent_uninstall(const char *key, const char *uninstall, const char *quiet,
                                  int windows_installer, char *out, size_t len)
{
    out[0] = 0;
    const char *code = windows_installer && product_code(key) && !key[38] ? key
                                                                         : msiexec_code(uninstall);
    if (quiet && quiet[0] && one_line(quiet))
        snprintf(out, len, "%s", quiet);
    else if (code)
        /* No user interface, no reboot in the middle of first boot. */
        snprintf(out, len, "MsiExec.exe /X%.38s /qn /norestart REBOOT=ReallySuppress", code);
}

static int vendor(const char *name)
{
    for (size_t k = 0; k < sizeof vendor_programs / sizeof *vendor_programs; k++)
        if (strcasestr(name, vendor_programs[k]))
            return 1;
    return 0;
}

static void fill(struct p2v_hive *sw, const char *key, const char *sub, int wow64,
                 struct p2v_win_program *p)
{
    char *un = NULL, *quiet = NULL;
    uint32_t msi = 0;
    memset(p, 0, sizeof *p);
    snprintf(p->key, sizeof p->key, "%s", sub);
    p->wow64 = wow64;
    p2v_hive_get_string(sw, key, "UninstallString", &un);
    p2v_hive_get_string(sw, key, "QuietUninstallString", &quiet);
    p2v_hive_get_dword(sw, key, "WindowsInstaller", &msi);
    p2v_windows_silent_uninstall(sub, un, quiet, msi == 1, p->command, sizeof p->command);
    free(un);
    free(quiet);
}

/* Adds the programs under one Uninstall key. */
static int add_view(struct p2v_hive *sw, int wow64, struct p2v_win_program **out, size_t *n)
{
    char **subs;
    size_t ns;
    int r = p2v_hive_subkeys(sw, uninstall_keys[wow64], &subs, &ns);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    for (size_t i = 0; i < ns && r == 0; i++) {
        char key[512], *dn = NULL, *parent = NULL;
        uint32_t component = 0;
        snprintf(key, sizeof key, "%s\\%s", uninstall_keys[wow64], subs[i]);
        p2v_hive_get_dword(sw, key, "SystemComponent", &component);
        p2v_hive_get_string(sw, key, "ParentKeyName", &parent);
        if (p2v_hive_get_string(sw, key, "DisplayName", &dn) == 0 && dn[0] && component != 1 &&
            !parent) {
            struct p2v_win_program *grown = realloc(*out, (*n + 1) * sizeof **out);
            if (!grown) {
                r = -ENOMEM;
            } else {
                *out = grown;
                fill(sw, key, subs[i], wow64, &grown[*n]);
                snprintf(grown[*n].name, sizeof grown[*n].name, "%s", dn);
                grown[(*n)++].vendor = vendor(dn);
            }
        }
        free(dn);
        free(parent);
    }
    p2v_strv_free(subs, ns);
    return r;
}

int p2v_windows_programs(struct p2v_hive *software, struct p2v_win_program **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int r = add_view(software, 0, out, n);
    if (r == 0)
        r = add_view(software, 1, out, n);
    if (r < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return r;
}

void p2v_windows_uninstall_script(const struct p2v_win_program *p, const char *systemroot,
                                  char *out, size_t len)
{
    char base[64];
    size_t k = 0;
    /* Named after the key, not the display name: the guest's text may hold
     * anything, a product code is plain. */
    for (const char *s = p->key; *s && k < sizeof base - 1; s++)
        base[k++] = isalnum((unsigned char)*s) || *s == '-' || *s == '.' ? *s : '_';
    base[k] = 0;
    snprintf(out, len, "%s/p2v/firstboot/uninstall-%s.cmd", systemroot, base);
}

const struct p2v_win_program *p2v_windows_program_find(const struct p2v_win_program *p, size_t n,
                                                       const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(p[i].name, name) || !strcasecmp(p[i].key, name))
            return &p[i];
    return NULL;
}
