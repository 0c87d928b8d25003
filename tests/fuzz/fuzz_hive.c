/* Registry hives from a guest disk (possibly hostile) through what the
 * inspection, the inventory and the fix-ups do with them: load, the getters
 * on the keys p2v reads, a walk of the whole tree, then an edit (set, delete)
 * and a save, and the saved hive loaded back.
 *
 * hivex is not instrumented: coverage guides through p2v's hive.c, and a
 * hivex fault shows only as a crash or through ASan's interceptors (an ASan
 * report in p2v's child that tries an edit first is found again when the
 * edit is made in this process). */
#include "tests/fuzz/harness.h"
#include "core/log.h"
#include "guest/hive.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SIZE (256u * 1024)
#define MAX_KEYS 100
#define MAX_DEPTH 10

/* Value names p2v reads somewhere, "" the default value. */
static const char *const names[] = {
    "", "Current", "Default", "ComputerName", "Start", "Type", "ImagePath", "Group",
    "EnableDHCP", "IPAddress", "SubnetMask", "DefaultGateway", "NameServer", "DisplayName",
    "ProductName", "CurrentVersion", "CurrentBuildNumber", "InstallationType", "EditionID",
    "CurrentMajorVersionNumber", "CurrentMinorVersionNumber", "DevicePath", "LowerFilters",
    "UpperFilters", "0", "CmdLine", "SetupType",
};

static void check_str(const char *s)
{
    if (strlen(s) > MAX_SIZE * 2)
        abort();
}

/* Every getter on one key: the raw value, then the typed getters on the
 * values that are there (absent ones cost one lookup). */
static void values(struct p2v_hive *h, const char *key)
{
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        struct p2v_reg_value v;
        if (p2v_hive_get(h, key, names[i], &v) < 0)
            continue;
        if (v.len > MAX_SIZE)
            abort();  /* a value bigger than the hive */
        if (v.len) {
            volatile uint8_t sink = v.data[0] ^ v.data[v.len - 1];
            (void)sink;
        }
        free(v.data);
        uint32_t d;
        (void)p2v_hive_get_dword(h, key, names[i], &d);
        char *s;
        if (p2v_hive_get_string(h, key, names[i], &s) == 0) {
            check_str(s);
            free(s);
        }
        char **m;
        size_t n;
        if (p2v_hive_get_multi(h, key, names[i], &m, &n) == 0) {
            for (size_t k = 0; k < n; k++)
                check_str(m[k]);
            p2v_strv_free(m, n);
        }
    }
}

/* Depth-first over the subkeys found, as the inventory walks Services,
 * Interfaces and Uninstall. */
static void walk(struct p2v_hive *h, const char *key, int depth, int *budget)
{
    if (depth > MAX_DEPTH || *budget <= 0)
        return;
    (*budget)--;
    values(h, key);
    char **sub;
    size_t n;
    if (p2v_hive_subkeys(h, key, &sub, &n) < 0)
        return;
    for (size_t i = 0; i < n && *budget > 0; i++) {
        check_str(sub[i]);
        /* A name with a separator would be read as two keys: skip it. */
        if (!sub[i][0] || strchr(sub[i], '\\'))
            continue;
        size_t len = strlen(key) + strlen(sub[i]) + 2;
        char *child = malloc(len);
        if (!child)
            abort();
        snprintf(child, len, "%s%s%s", key, key[0] ? "\\" : "", sub[i]);
        walk(h, child, depth + 1, budget);
        free(child);
    }
    p2v_strv_free(sub, n);
}

static void inspect(struct p2v_hive *h)
{
    static const char *const keys[] = {
        "Select",
        "ControlSet001\\Control\\ComputerName\\ComputerName",
        "ControlSet001\\Services",
        "ControlSet001\\Services\\Tcpip\\Parameters\\Interfaces",
        "ControlSet001\\Control\\Class\\{4d36e967-e325-11ce-bfc1-08002be10318}",
        "ControlSet001\\Services\\atapi\\StartOverride",
        "Microsoft\\Windows NT\\CurrentVersion",
        "Microsoft\\Windows\\CurrentVersion",
        "Microsoft\\Windows\\CurrentVersion\\Uninstall",
        "DriverDatabase",
        "Setup",
    };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        (void)p2v_hive_key_exists(h, keys[i]);
        values(h, keys[i]);
    }
    int budget = MAX_KEYS;
    walk(h, "", 0, &budget);
}

/* The fix-ups' edits; 1 if the value set last was set. */
static const char *const svc = "ControlSet001\\Services\\viostor";
static const uint32_t start = 0;

static int edits(struct p2v_hive *h)
{
    (void)p2v_hive_delete_value(h, "ControlSet001\\Services\\atapi\\StartOverride", "0");
    (void)p2v_hive_delete_value(h, "Select", "LastKnownGood");
    (void)p2v_hive_delete_key(h, "ControlSet001\\Services\\vmtools");
    (void)p2v_hive_create_key(h, "ControlSet001\\Services\\vioscsi");
    static const uint8_t multi[] = { 'a', 0, 0, 0, 'b', 0, 0, 0, 0, 0 };
    (void)p2v_hive_set(h, "ControlSet001\\Control\\Class\\{4d36e967-e325-11ce-bfc1-08002be10318}",
                       "LowerFilters", P2V_REG_MULTI_SZ, multi, sizeof multi);
    uint8_t *u16;
    size_t ulen;
    if (p2v_utf16_from_utf8("System32\\drivers\\viostor.sys", &u16, &ulen) == 0) {
        (void)p2v_hive_set(h, svc, "ImagePath", P2V_REG_EXPAND_SZ, u16, ulen);
        free(u16);
    }
    return p2v_hive_set(h, svc, "Start", P2V_REG_DWORD, &start, 4) == 0;
}

/* Save and load back: the value set last must read back. */
static void edit(struct p2v_hive *h)
{
    /* hivex 1.3.23 aborts on some damaged hives (an assertion in
     * mark_block_unused, corpus/hive/crash-hivex-assert-delete-*.bin): p2v
     * tries each edit in a child first and fails it instead, so no input
     * may stop this process. */
    int set_ok = edits(h);
    uint8_t *data;
    size_t len;
    if (p2v_hive_save(h, &data, &len) < 0)
        return;
    struct p2v_hive *again;
    if (p2v_hive_load(data, len, "SAVED", &again) == 0) {
        uint32_t got;
        if (set_ok && (p2v_hive_get_dword(again, svc, "Start", &got) != 0 || got != start))
            abort();
        values(again, svc);
        p2v_hive_close(again);
    }
    free(data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        p2v_log_quiet(1);
        init = 1;
    }
    if (size > MAX_SIZE)
        return 0;
    struct p2v_hive *h;
    if (p2v_hive_load(data, size, "SYSTEM", &h) < 0)
        return 0;
    inspect(h);
    edit(h);
    p2v_hive_close(h);
    return 0;
}
