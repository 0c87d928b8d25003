/* Registry hives in memory: typed values set, read back, deleted; keys
 * made and removed; the saved bytes reload with the same content; bytes
 * that are not a hive are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/windows_drivers.h"
#include "guest/hive.h"

static uint8_t *seed;
static size_t seed_len;

static int load_seed(void **state)
{
    (void)state;
    FILE *f = fopen("tests/fixtures/minimal.hive", "rb");
    if (!f)
        return -1;
    seed = malloc(65536);
    seed_len = fread(seed, 1, 65536, f);
    fclose(f);
    return seed_len > 0 ? 0 : -1;
}

static int free_seed(void **state)
{
    (void)state;
    free(seed);
    return 0;
}

static void set_get_delete_and_save(void **state)
{
    (void)state;
    struct p2v_hive *h;
    assert_int_equal(p2v_hive_load(seed, seed_len, "TEST", &h), 0);
    const uint8_t dword[4] = { 3, 0, 0, 0 };
    assert_int_equal(p2v_hive_set(h, "ControlSet001\\Services\\viostor", "Start", P2V_REG_DWORD,
                                  dword, 4), 0);
    uint8_t *u;
    size_t ulen;
    assert_int_equal(p2v_utf16_from_utf8("système32\\x.sys", &u, &ulen), 0);
    assert_int_equal(ulen, 2 * 16);  /* 15 characters and the NUL */
    assert_int_equal(p2v_hive_set(h, "ControlSet001\\Services\\viostor", "ImagePath",
                                  P2V_REG_EXPAND_SZ, u, ulen), 0);
    free(u);
    uint32_t v = 0;
    /* Case-insensitive keys and values, as in Windows. */
    assert_int_equal(p2v_hive_get_dword(h, "controlset001\\SERVICES\\Viostor", "start", &v), 0);
    assert_int_equal(v, 3);
    char *s;
    assert_int_equal(p2v_hive_get_string(h, "ControlSet001\\Services\\viostor", "ImagePath", &s), 0);
    assert_string_equal(s, "système32\\x.sys");
    free(s);
    assert_true(p2v_hive_key_exists(h, "ControlSet001\\Services"));
    assert_false(p2v_hive_key_exists(h, "ControlSet002"));
    assert_int_equal(p2v_hive_get_dword(h, "ControlSet001\\Services\\viostor", "Nope", &v), -ENOENT);
    /* A string is not a dword. */
    assert_int_equal(p2v_hive_get_dword(h, "ControlSet001\\Services\\viostor", "ImagePath", &v), -EINVAL);
    assert_int_equal(p2v_hive_delete_value(h, "ControlSet001\\Services\\viostor", "IMAGEPATH"), 0);
    assert_int_equal(p2v_hive_get_string(h, "ControlSet001\\Services\\viostor", "ImagePath", &s), -ENOENT);
    assert_int_equal(p2v_hive_delete_value(h, "ControlSet001\\Services\\viostor", "ImagePath"), -ENOENT);
    assert_int_equal(p2v_hive_create_key(h, "Gone\\Child"), 0);
    assert_int_equal(p2v_hive_delete_key(h, "Gone"), 0);
    assert_false(p2v_hive_key_exists(h, "Gone\\Child"));
    /* Saved and reloaded: the same values. */
    uint8_t *bytes;
    size_t len;
    assert_int_equal(p2v_hive_save(h, &bytes, &len), 0);
    p2v_hive_close(h);
    assert_int_equal(p2v_hive_load(bytes, len, "TEST", &h), 0);
    free(bytes);
    assert_int_equal(p2v_hive_get_dword(h, "ControlSet001\\Services\\viostor", "Start", &v), 0);
    assert_int_equal(v, 3);
    p2v_hive_close(h);
}

/* hivex 1.3.23 aborts on this damaged hive when a key is deleted (an
 * assertion in mark_block_unused; found by fuzzing): p2v must fail the edit
 * with an error and go on, and its other edits still work. */
static void damaged_hive_edit_fails(void **state)
{
    (void)state;
    FILE *f = fopen("tests/fuzz/corpus/hive/crash-hivex-assert-delete-1.bin", "rb");
    assert_non_null(f);
    uint8_t *bad = malloc(1 << 20);
    assert_non_null(bad);
    size_t len = fread(bad, 1, 1 << 20, f);
    fclose(f);
    struct p2v_hive *h;
    assert_int_equal(p2v_hive_load(bad, len, "SYSTEM", &h), 0);
    assert_true(p2v_hive_key_exists(h, "ControlSet001\\Services\\vmtools"));
    assert_int_equal(p2v_hive_delete_key(h, "ControlSet001\\Services\\vmtools"), -EINVAL);
    assert_true(p2v_hive_key_exists(h, "ControlSet001\\Services\\vmtools"));  /* untouched */
    /* A new twin for the next edit, which works. */
    const uint8_t dword[4] = { 0, 0, 0, 0 };
    assert_int_equal(p2v_hive_set(h, "ControlSet001\\Services\\viostor", "Start",
                                  P2V_REG_DWORD, dword, 4), 0);
    uint32_t v = 9;
    assert_int_equal(p2v_hive_get_dword(h, "ControlSet001\\Services\\viostor", "Start", &v), 0);
    assert_int_equal(v, 0);
    p2v_hive_close(h);
    free(bad);
}

static void not_a_hive(void **state)
{
    (void)state;
    uint8_t junk[8192];
    memset(junk, 0x41, sizeof junk);
    struct p2v_hive *h;
    assert_int_equal(p2v_hive_load(junk, sizeof junk, "JUNK", &h), -EINVAL);
    /* A hive cut short. */
    assert_true(p2v_hive_load(seed, 100, "SHORT", &h) < 0);
}

static void class_guid_bytes(void **state)
{
    (void)state;
    uint8_t b[16];
    assert_int_equal(p2v_driver_class_bytes(P2V_CLASS_SCSI_ADAPTER, b), 0);
    /* {4D36E97B-E325-11CE-BFC1-08002BE10318}: first three fields little-endian. */
    const uint8_t want[16] = { 0x7b, 0xe9, 0x36, 0x4d, 0x25, 0xe3, 0xce, 0x11,
                               0xbf, 0xc1, 0x08, 0x00, 0x2b, 0xe1, 0x03, 0x18 };
    assert_memory_equal(b, want, 16);
    assert_int_equal(p2v_driver_class_bytes("4D36E97B-E325-11CE-BFC1-08002BE10318", b), -EINVAL);
    assert_non_null(p2v_driver_lookup("VIOSTOR"));
    assert_null(p2v_driver_lookup("nosuch"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(set_get_delete_and_save),
        cmocka_unit_test(not_a_hive),
        cmocka_unit_test(damaged_hive_edit_fails),
        cmocka_unit_test(class_guid_bytes),
    };
    return cmocka_run_group_tests(tests, load_seed, free_seed);
}
