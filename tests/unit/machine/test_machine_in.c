/* The machine configuration written as XML (machine_out.c) and read back
 * through the built-in schema (machine_in.c) gives the same facts; a file
 * that breaks the schema is refused; padded tokens and numbers are read
 * as the schema reads them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/machine/machine_fixture.h"
#include "machine/machine.h"

static void xml_round_trip(void **state)
{
    (void)state;
    struct p2v_machine *m = windows_machine(), *back = calloc(1, sizeof *back);
    char path[] = "/tmp/p2v-machine-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    p2v_machine_xml(f, m);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(p2v_machine_load(path, back), 0);
    unlink(path);
    assert_string_equal(back->source, m->source);      /* escaped and back */
    assert_string_equal(back->hostname, m->hostname);
    assert_int_equal(back->cpu.count, 4);
    assert_int_equal(back->cpu.sockets, 2);
    assert_int_equal(back->memory_kib, m->memory_kib);
    assert_string_equal(back->firmware, "bios");
    assert_int_equal(back->acpi, P2V_YES);
    assert_string_equal(back->os.family, "windows");
    assert_int_equal(back->os.major, 6);
    assert_int_equal(back->os.ndrivers, 2);
    assert_int_equal(back->os.driver[1].start, 3);
    assert_int_equal(back->os.driver[1].start_override, -1);
    assert_string_equal(back->os.driver[1].file_path, m->os.driver[1].file_path);
    assert_int_equal(back->os.nhives, 2);
    assert_string_equal(back->os.hive[0].state, "recovered");
    assert_int_equal(back->os.hive[0].entries, 24);
    assert_int_equal(back->os.hive[1].ignored, 1);
    assert_string_equal(back->os.hive[1].why, m->os.hive[1].why);  /* escaped and back */
    assert_int_equal(back->nic[0].dhcp, P2V_NO);
    assert_string_equal(back->nic[0].addr[0].addr, "10.1.2.3");
    assert_int_equal(back->nic[0].addr[0].prefix, 16);
    assert_int_equal(back->disk[0].size, m->disk[0].size);
    assert_int_equal(back->disk[0].part[0].start, 1 << 20);
    assert_string_equal(back->disk[0].part[0].fs.state, "clean");
    /* The same facts give the same bytes. */
    char *a = NULL, *b = NULL;
    size_t alen, blen;
    FILE *fa = open_memstream(&a, &alen), *fb = open_memstream(&b, &blen);
    p2v_machine_xml(fa, m);
    p2v_machine_xml(fb, back);
    fclose(fa);
    fclose(fb);
    assert_string_equal(a, b);
    free(a);
    free(b);
    free(m);
    free(back);
}

static void schema_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "<machine version='1' origin='running'><cpu/></machine>",          /* missing parts */
        "<machine version='2' origin='running'><cpu/><firmware acpi='yes'/><os family='linux'/>"
        "<nics/><disks/></machine>",                                      /* unknown version */
        "<machine version='1' origin='running'><cpu/><memory unit='KiB'>lots</memory>"
        "<firmware acpi='yes'/><os family='linux'/><nics/><disks/></machine>",
        "<machine version='1' origin='running'><cpu/><firmware acpi='yes'/><os family='linux'/>"
        "<nics><nic name='e' mac='zz:zz'/></nics><disks/></machine>",
        "not xml at all <",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char path[] = "/tmp/p2v-machine-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, bad[i], strlen(bad[i])), (ssize_t)strlen(bad[i]));
        close(fd);
        struct p2v_machine *m = calloc(1, sizeof *m);
        assert_true(p2v_machine_load(path, m) < 0);
        free(m);
        unlink(path);
    }
}

/* The schema reads enumerations and numbers as tokens: blanks around
 * them, and a number's leading zeros, may run past the field p2v keeps
 * the value in, and must not cut the value. */
static void padded_tokens_and_numbers(void **state)
{
    (void)state;
    static const char pad[] = "                                        "; /* 40 blanks */
    static const char zeros[] = "0000000000000000000000000000000000000000";
    char xml[2048];
    snprintf(xml, sizeof xml,
             "<machine version='1' origin='%srunning%s'>"
             "<cpu count='%s%s4' sockets='\n%s2 '/>"
             "<memory unit='KiB'>%s%s16777216%s</memory>"
             "<firmware type='%suefi' acpi='%syes'/>"
             "<os family='%swindows%s'><major>%s10</major><minor>%s%s3</minor></os>"
             "<nics/><disks/></machine>",
             pad, pad, pad, zeros, zeros, pad, zeros, pad, pad, pad, pad, pad, zeros, pad, zeros);
    char path[] = "/tmp/p2v-machine-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, xml, strlen(xml)), (ssize_t)strlen(xml));
    close(fd);
    struct p2v_machine *m = calloc(1, sizeof *m);
    assert_non_null(m);
    assert_int_equal(p2v_machine_load(path, m), 0);
    unlink(path);
    assert_string_equal(m->origin, "running");
    assert_int_equal(m->cpu.count, 4);
    assert_int_equal(m->cpu.sockets, 2);
    assert_int_equal(m->memory_kib, 16777216);
    assert_string_equal(m->firmware, "uefi");
    assert_int_equal(m->acpi, P2V_YES);
    assert_string_equal(m->os.family, "windows");
    assert_int_equal(m->os.major, 10);
    assert_int_equal(m->os.minor, 3);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(xml_round_trip),
        cmocka_unit_test(schema_refuses),
        cmocka_unit_test(padded_tokens_and_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
