/* dpkg's status file: whether a package is installed, checked against
 * dpkg-query on the same file (the host's own database, and a small one
 * with the states a removal leaves behind). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest/dpkg_status.h"
#include "tests/unit/scratch_dir.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *t = NULL;
    size_t n = 0, cap = 0, r;
    do {
        if (n + 65536 + 1 > cap && !(t = realloc(t, cap = 2 * cap + 65536 + 1)))
            break;
        r = fread(t + n, 1, cap - n - 1, f);
        n += r;
    } while (r > 0);
    fclose(f);
    if (t)
        t[n] = 0;
    return t;
}

/* dpkg-query's verdict: 1 when the Status is "install ok installed". */
static int dpkg_query(const char *admindir, const char *pkg)
{
    char cmd[512], out[128] = "";
    snprintf(cmd, sizeof cmd, "dpkg-query --admindir='%s' -W -f='${Status}' '%s' 2>/dev/null",
             admindir, pkg);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    if (!fgets(out, sizeof out, p))
        out[0] = 0;
    pclose(p);
    return !strcmp(out, "install ok installed");
}

static void agrees_with_dpkg_query(const char *admindir, const char *const *pkgs)
{
    char path[512];
    snprintf(path, sizeof path, "%s/status", admindir);
    char *t = slurp(path);
    assert_non_null(t);
    for (int i = 0; pkgs[i]; i++) {
        int want = dpkg_query(admindir, pkgs[i]);
        if (p2v_dpkg_installed(t, pkgs[i]) != want)
            fail_msg("%s in %s: dpkg-query says %d", pkgs[i], path, want);
    }
    free(t);
}

static void host_database(void **state)
{
    (void)state;
    static const char *const pkgs[] = { "dpkg", "bash", "libc6", "coreutils", "dpk", "dpkg-dev-x",
                                        "no-such-package-here", "lib", NULL };
    if (access("/var/lib/dpkg/status", R_OK) != 0)
        skip();
    agrees_with_dpkg_query("/var/lib/dpkg", pkgs);
    char *t = slurp("/var/lib/dpkg/status");
    assert_non_null(t);
    assert_int_equal(p2v_dpkg_installed(t, "dpkg"), 1);  /* dpkg-query itself runs */
    free(t);
}

static void removal_states(void **state)
{
    (void)state;
    char dir[64];
    scratch_dir_make(dir, sizeof dir, "dpkg");
    char path[128];
    snprintf(path, sizeof path, "%s/status", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    /* the states apt-get remove, purge and a failed install leave */
    fputs("Package: open-vm-tools\nStatus: deinstall ok config-files\nPriority: extra\n"
          "Version: 2:12.2.0-1\nDescription: x\n\n"
          "Package: qemu-guest-agent\nStatus: install ok unpacked\nVersion: 1:7.2\n"
          "Description: y\n\n"
          "Package: open-vm-tools-desktop\nStatus: install ok installed\nVersion: 2:12.2.0-1\n"
          "Description: z\n Package: hyperv-daemons\n\n"
          "Package: hyperv-daemons\nStatus: install ok half-configured\nVersion: 6.1\n"
          "Description: w\n", f);
    fclose(f);
    static const char *const pkgs[] = { "open-vm-tools", "qemu-guest-agent", "open-vm-tools-desktop",
                                        "hyperv-daemons", "open-vm", NULL };
    agrees_with_dpkg_query(dir, pkgs);
    char *t = slurp(path);
    assert_int_equal(p2v_dpkg_installed(t, "open-vm-tools-desktop"), 1);
    assert_int_equal(p2v_dpkg_installed(t, "open-vm-tools"), 0);
    assert_int_equal(p2v_dpkg_installed(NULL, "x"), 0);
    assert_int_equal(p2v_dpkg_installed(t, ""), 0);
    free(t);
    scratch_dir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(host_database),
        cmocka_unit_test(removal_states),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
