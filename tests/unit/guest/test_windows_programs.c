/* Installed programs from SOFTWARE's Uninstall keys: both views (64-bit
 * and WOW6432Node), system components and updates left out, another
 * vendor's tools marked, and the unattended uninstall command chosen
 * (QuietUninstallString, else msiexec /X with the product code, else
 * none). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/hive.h"
#include "guest/windows_programs.h"

#define UN "Microsoft\\Windows\\CurrentVersion\\Uninstall\\"
#define WOW "WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\"
#define CODE "{FE2F6A2C-196E-4210-9C04-2B1BC21F07EF}"

static void silent(const char *key, const char *un, const char *quiet, int msi, const char *want)
{
    char out[256];
    p2v_windows_silent_uninstall(key, un, quiet, msi, out, sizeof out);
    assert_string_equal(out, want);
}

static void silent_commands(void **state)
{
    (void)state;
    const char *msi = "MsiExec.exe /X" CODE " /qn /norestart REBOOT=ReallySuppress";
    /* A Windows Installer package named by its key... */
    silent(CODE, "MsiExec.exe /I" CODE, NULL, 1, msi);
    /* ... or by its UninstallString (/I and /X, any case, a blank). */
    silent("VMware", "msiexec.exe /i " CODE, NULL, 0, msi);
    silent("VMware", "MsiExec.exe /x" CODE, NULL, 0, msi);
    /* The publisher's quiet command wins. */
    silent(CODE, "MsiExec.exe /I" CODE, "\"C:\\t\\unins.exe\" /S", 1, "\"C:\\t\\unins.exe\" /S");
    /* An uninstaller p2v cannot run without a user: nothing. */
    silent("7-Zip", "\"C:\\Program Files\\7-Zip\\Uninstall.exe\"", NULL, 0, "");
    /* WindowsInstaller=1 but no product code anywhere: nothing. */
    silent("NotAGuid", "C:\\x.exe", NULL, 1, "");
    /* A product code that is not one (short, bad digit) is not taken. */
    silent("x", "msiexec /X{FE2F6A2C-196E-4210-9C04-2B1BC21F07E}", NULL, 0, "");
    silent("x", "msiexec /X{GE2F6A2C-196E-4210-9C04-2B1BC21F07EF}", NULL, 0, "");
    /* A quiet command with a line break would add lines to the script. */
    silent("x", NULL, "unins.exe /S\r\ndel C:\\boot.ini", 0, "");
}

static struct p2v_hive *software(void)
{
    FILE *f = fopen("tests/fixtures/minimal.hive", "rb");
    assert_non_null(f);
    uint8_t *seed = malloc(65536);
    size_t len = fread(seed, 1, 65536, f);
    fclose(f);
    struct p2v_hive *h;
    assert_int_equal(p2v_hive_load(seed, len, "SOFTWARE", &h), 0);
    free(seed);
    return h;
}

static void set_str(struct p2v_hive *h, const char *key, const char *name, const char *s)
{
    uint8_t *u;
    size_t n;
    assert_int_equal(p2v_utf16_from_utf8(s, &u, &n), 0);
    assert_int_equal(p2v_hive_set(h, key, name, P2V_REG_SZ, u, n), 0);
    free(u);
}

static void set_dword(struct p2v_hive *h, const char *key, const char *name, uint32_t v)
{
    uint8_t d[4] = { v & 0xFF, v >> 8 & 0xFF, v >> 16 & 0xFF, v >> 24 };
    assert_int_equal(p2v_hive_set(h, key, name, P2V_REG_DWORD, d, 4), 0);
}

static void programs_from_both_views(void **state)
{
    (void)state;
    struct p2v_hive *h = software();
    struct p2v_win_program *p;
    size_t n;
    /* No Uninstall key at all: none, no error. */
    assert_int_equal(p2v_windows_programs(h, &p, &n), 0);
    assert_int_equal(n, 0);
    free(p);
    set_str(h, UN CODE, "DisplayName", "VMware Tools");
    set_str(h, UN CODE, "UninstallString", "MsiExec.exe /I" CODE);
    set_dword(h, UN CODE, "WindowsInstaller", 1);
    set_str(h, UN "7-Zip", "DisplayName", "7-Zip 19.00 (x64)");
    set_str(h, UN "7-Zip", "UninstallString", "C:\\Program Files\\7-Zip\\Uninstall.exe");
    set_str(h, UN "Hidden", "DisplayName", "A component");
    set_dword(h, UN "Hidden", "SystemComponent", 1);
    set_str(h, UN "KB123", "DisplayName", "Update for VMware Tools");
    set_str(h, UN "KB123", "ParentKeyName", CODE);
    set_str(h, UN "NoName", "UninstallString", "x.exe");
    set_str(h, WOW "PTools", "DisplayName", "Parallels Tools");
    set_str(h, WOW "PTools", "QuietUninstallString", "\"C:\\PT\\uninst.exe\" /quiet");
    assert_int_equal(p2v_windows_programs(h, &p, &n), 0);
    assert_int_equal(n, 3);
    const struct p2v_win_program *v = p2v_windows_program_find(p, n, "vmware tools");
    assert_non_null(v);
    assert_true(v->vendor);
    assert_false(v->wow64);
    assert_string_equal(v->key, CODE);
    assert_string_equal(v->command, "MsiExec.exe /X" CODE " /qn /norestart REBOOT=ReallySuppress");
    const struct p2v_win_program *z = p2v_windows_program_find(p, n, "7-zip");  /* by key */
    assert_non_null(z);
    assert_false(z->vendor);
    assert_string_equal(z->command, "");
    const struct p2v_win_program *pt = p2v_windows_program_find(p, n, "Parallels Tools");
    assert_non_null(pt);
    assert_true(pt->vendor && pt->wow64);
    assert_string_equal(pt->command, "\"C:\\PT\\uninst.exe\" /quiet");
    assert_null(p2v_windows_program_find(p, n, "A component"));
    assert_null(p2v_windows_program_find(p, n, "Update for VMware Tools"));
    assert_null(p2v_windows_program_find(p, n, "VMware"));  /* whole names only */
    free(p);
    p2v_hive_close(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(silent_commands),
        cmocka_unit_test(programs_from_both_views),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
