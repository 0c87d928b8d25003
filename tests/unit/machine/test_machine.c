/* The machine configuration and what reads it: XML written then read back
 * (through the built-in schema) gives the same facts; a file that breaks
 * the schema is refused; each convertibility rule passes, fails or skips
 * on the facts it looks at; a machine gets the image format its firmware
 * and disks need; VM plans pick firmware, bus, MACs and modes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine/machine.h"
#include "machine/rules.h"
#include "machine/vmdef.h"

static struct p2v_machine *windows_machine(void)
{
    struct p2v_machine *m = calloc(1, sizeof *m);
    assert_non_null(m);
    strcpy(m->origin, "source");
    strcpy(m->source, "/img/<w&7>.img");
    strcpy(m->hostname, "HOST\"1'");
    strcpy(m->cpu.arch, "x86_64");
    m->cpu.count = 4, m->cpu.sockets = 2, m->cpu.cores = 2, m->cpu.threads = 1;
    m->memory_kib = 4u << 20;
    strcpy(m->firmware, "bios");
    m->acpi = P2V_YES;
    strcpy(m->os.family, "windows");
    strcpy(m->os.name, "Windows 7 Professional");
    strcpy(m->os.version, "6.1");
    strcpy(m->os.arch, "x86_64");
    m->os.major = 6, m->os.minor = 1, m->os.partition = 1;
    m->os.ndrivers = 2;
    strcpy(m->os.driver[0].name, "atapi"), m->os.driver[0].start = 0, m->os.driver[0].file = P2V_YES;
    strcpy(m->os.driver[1].name, "storahci"), m->os.driver[1].start = 3, m->os.driver[1].file = P2V_YES;
    m->nnics = 1;
    strcpy(m->nic[0].name, "{GUID}");
    m->nic[0].dhcp = P2V_NO;
    m->nic[0].naddrs = 1;
    strcpy(m->nic[0].addr[0].family, "ipv4");
    strcpy(m->nic[0].addr[0].addr, "10.1.2.3");
    m->nic[0].addr[0].prefix = 16;
    strcpy(m->nic[0].gateway, "10.1.0.1");
    m->ndisks = 1;
    struct p2v_m_disk *d = &m->disk[0];
    strcpy(d->name, "sda");
    d->size = 64ull << 30;
    d->logical_sector = 512;
    strcpy(d->table, "dos");
    strcpy(d->table_id, "0x1234abcd");
    d->nparts = 1;
    d->part[0].number = 1, d->part[0].start = 1 << 20, d->part[0].size = d->size - (1 << 20);
    strcpy(d->part[0].type, "0x07");
    d->part[0].bootable = 1;
    strcpy(d->part[0].fs.type, "ntfs");
    strcpy(d->part[0].fs.state, "clean");
    return m;
}

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

static const struct p2v_result *find(const struct p2v_result *r, int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(r[i].id, id))
            return &r[i];
    fail_msg("rule %s missing", id);
    return NULL;
}

static enum p2v_status run(const struct p2v_machine *m, const struct p2v_check_opts *o,
                           const char *id, enum p2v_severity *sev)
{
    struct p2v_result r[P2V_MAX_RESULTS];
    int n = p2v_check_rules(m, o, r);
    assert_true(n > 0 && n <= P2V_MAX_RESULTS);
    const struct p2v_result *x = find(r, n, id);
    if (sev)
        *sev = x->severity;
    if (x->status == P2V_FAIL)
        assert_true(x->message[0] && x->remedy[0]);
    return x->status;
}

static void rules(void **state)
{
    (void)state;
    struct p2v_machine *m = windows_machine();
    struct p2v_check_opts o = { .target = "qemu-ide", .generation = 1, .format = &p2v_vhd_format };
    enum p2v_severity sev;
    assert_int_equal(run(m, &o, "memory", NULL), P2V_PASS);
    m->memory_kib = 256 * 1024;
    assert_int_equal(run(m, &o, "memory", &sev), P2V_FAIL);
    assert_int_equal(sev, P2V_BLOCKER);
    m->memory_kib = 0;
    assert_int_equal(run(m, &o, "memory", NULL), P2V_SKIP);

    assert_int_equal(run(m, &o, "acpi", NULL), P2V_PASS);
    m->acpi = P2V_NO;
    assert_int_equal(run(m, &o, "acpi", NULL), P2V_FAIL);
    m->acpi = P2V_UNKNOWN;
    assert_int_equal(run(m, &o, "acpi", NULL), P2V_SKIP);

    assert_int_equal(run(m, &o, "arch", NULL), P2V_PASS);
    strcpy(m->os.arch, "ia64");
    assert_int_equal(run(m, &o, "arch", NULL), P2V_FAIL);
    strcpy(m->os.arch, "x86_64");

    /* 2040 GiB fits a VHD; one sector more does not, but fits a VHDX. */
    m->disk[0].size = 2190433320960ull;
    assert_int_equal(run(m, &o, "disk-size", NULL), P2V_PASS);
    m->disk[0].size += 512;
    assert_int_equal(run(m, &o, "disk-size", NULL), P2V_FAIL);
    o.format = &p2v_vhdx_format;
    assert_int_equal(run(m, &o, "disk-size", NULL), P2V_PASS);
    m->disk[0].size = (64ull << 40) + 512;
    assert_int_equal(run(m, &o, "disk-size", NULL), P2V_FAIL);
    o.format = &p2v_vhd_format;
    m->disk[0].size = 64ull << 30;

    m->disk[0].logical_sector = 4096;
    assert_int_equal(run(m, &o, "sector-size", NULL), P2V_FAIL);
    o.format = &p2v_vhdx_format;
    assert_int_equal(run(m, &o, "sector-size", NULL), P2V_PASS);
    o.format = &p2v_vhd_format;
    m->disk[0].logical_sector = 512;

    assert_int_equal(run(m, &o, "ntfs-state", NULL), P2V_PASS);
    strcpy(m->disk[0].part[0].fs.state, "hibernated");
    assert_int_equal(run(m, &o, "ntfs-state", NULL), P2V_FAIL);
    m->disk[0].part[0].fs.state[0] = 0;
    assert_int_equal(run(m, &o, "ntfs-state", NULL), P2V_SKIP);

    assert_int_equal(run(m, &o, "bitlocker", NULL), P2V_PASS);
    strcpy(m->disk[0].part[0].fs.type, "BitLocker");
    assert_int_equal(run(m, &o, "bitlocker", NULL), P2V_FAIL);
    strcpy(m->disk[0].part[0].fs.type, "ntfs");

    assert_int_equal(run(m, &o, "dynamic-disk", NULL), P2V_PASS);
    strcpy(m->disk[0].part[0].type, "0x42");
    assert_int_equal(run(m, &o, "dynamic-disk", NULL), P2V_FAIL);
    strcpy(m->disk[0].part[0].type, "AF9B60A0-1431-4F62-BC68-3311714A69AD");
    assert_int_equal(run(m, &o, "dynamic-disk", NULL), P2V_FAIL);
    strcpy(m->disk[0].part[0].type, "0x07");

    struct p2v_check_opts hv = { .target = "hyperv", .generation = 2, .format = &p2v_vhd_format };
    strcpy(m->firmware, "uefi");
    assert_int_equal(run(m, &hv, "uefi-vhd", NULL), P2V_FAIL);
    hv.format = &p2v_vhdx_format;
    assert_int_equal(run(m, &hv, "uefi-vhd", NULL), P2V_PASS);
    assert_int_equal(run(m, &o, "uefi-vhd", NULL), P2V_PASS);
    strcpy(m->firmware, "bios");

    /* atapi boots qemu-ide; storahci is there but not boot-start. */
    assert_int_equal(run(m, &o, "boot-driver", NULL), P2V_PASS);
    o.target = "qemu-sata";
    assert_int_equal(run(m, &o, "boot-driver", &sev), P2V_FAIL);
    assert_int_equal(sev, P2V_WARNING);
    o.target = "virtio";
    assert_int_equal(run(m, &o, "boot-driver", &sev), P2V_FAIL);
    assert_int_equal(sev, P2V_BLOCKER);
    strcpy(m->os.family, "unknown");
    assert_int_equal(run(m, &o, "boot-driver", NULL), P2V_SKIP);
    assert_int_equal(run(m, &o, "os", &sev), P2V_FAIL);
    assert_int_equal(sev, P2V_WARNING);
    strcpy(m->os.family, "windows");

    assert_int_equal(run(m, &o, "static-ip", NULL), P2V_FAIL);
    m->nic[0].dhcp = P2V_YES;
    assert_int_equal(run(m, &o, "static-ip", NULL), P2V_PASS);
    assert_int_equal(run(m, &o, "vendor-tools", NULL), P2V_PASS);
    m->os.ntools = 1;
    strcpy(m->os.tool[0].name, "vmtools");
    assert_int_equal(run(m, &o, "vendor-tools", NULL), P2V_FAIL);

    assert_int_equal(run(m, &o, "dest-space", NULL), P2V_SKIP);
    o.dest = "/";
    o.need_bytes = 1;
    assert_int_equal(run(m, &o, "dest-space", NULL), P2V_PASS);
    o.need_bytes = UINT64_MAX;
    assert_int_equal(run(m, &o, "dest-space", NULL), P2V_FAIL);
    free(m);
}

/* The image format a machine gets: with auto, VHDX when it boots through
 * UEFI or a disk is over VHD's 2040 GiB or has 4096-byte sectors, else
 * VHD; an asked format is kept whatever the machine. */
static void machine_format(void **state)
{
    (void)state;
    struct p2v_machine *m = windows_machine();
    const uint64_t vhd_max = 2040ull << 30;
    assert_ptr_equal(p2v_machine_format(m, P2V_IMAGE_AUTO), &p2v_vhd_format);
    m->disk[0].logical_sector = 0;      /* unknown: VHD's 512 */
    assert_ptr_equal(p2v_machine_format(m, P2V_IMAGE_AUTO), &p2v_vhd_format);
    m->disk[0].size = vhd_max;          /* VHD's limit holds */
    assert_ptr_equal(p2v_machine_format(m, P2V_IMAGE_AUTO), &p2v_vhd_format);

    m->disk[0].size = vhd_max + 512;
    assert_ptr_equal(p2v_machine_format(m, P2V_IMAGE_AUTO), &p2v_vhdx_format);
    assert_ptr_equal(p2v_machine_format(m, P2V_IMAGE_VHD), &p2v_vhd_format);
    m->disk[0].size = 64ull << 30;
    m->disk[0].logical_sector = 4096;
    assert_ptr_equal(p2v_machine_format(m, P2V_IMAGE_AUTO), &p2v_vhdx_format);
    assert_ptr_equal(p2v_machine_format(m, P2V_IMAGE_VHD), &p2v_vhd_format);
    m->disk[0].logical_sector = 512;
    strcpy(m->firmware, "uefi");
    assert_ptr_equal(p2v_machine_format(m, P2V_IMAGE_AUTO), &p2v_vhdx_format);
    assert_ptr_equal(p2v_machine_format(m, P2V_IMAGE_VHD), &p2v_vhd_format);
    strcpy(m->firmware, "bios");
    assert_ptr_equal(p2v_machine_format(m, P2V_IMAGE_VHDX), &p2v_vhdx_format);

    /* One disk that needs VHDX gives the whole machine VHDX. */
    m->ndisks = 2;
    m->disk[1] = m->disk[0];
    m->disk[1].size = vhd_max + 512;
    assert_ptr_equal(p2v_machine_format(m, P2V_IMAGE_AUTO), &p2v_vhdx_format);

    /* No disks: the firmware decides. */
    m->ndisks = 0;
    assert_ptr_equal(p2v_machine_format(m, P2V_IMAGE_AUTO), &p2v_vhd_format);
    strcpy(m->firmware, "uefi");
    assert_ptr_equal(p2v_machine_format(m, P2V_IMAGE_AUTO), &p2v_vhdx_format);
    assert_ptr_equal(p2v_machine_format(m, P2V_IMAGE_VHD), &p2v_vhd_format);
    m->firmware[0] = 0;                 /* unknown */
    assert_ptr_equal(p2v_machine_format(m, P2V_IMAGE_AUTO), &p2v_vhd_format);
    assert_ptr_equal(p2v_machine_format(m, P2V_IMAGE_VHDX), &p2v_vhdx_format);
    free(m);
}

static void linux_boot_driver(void **state)
{
    (void)state;
    struct p2v_machine *m = calloc(1, sizeof *m);
    strcpy(m->os.family, "linux");
    struct p2v_check_opts o = { .target = "virtio", .generation = 1, .format = &p2v_vhd_format };
    assert_int_equal(run(m, &o, "boot-driver", NULL), P2V_SKIP);  /* no kernel known */
    strcpy(m->os.kernel, "6.1.0");
    assert_int_equal(run(m, &o, "boot-driver", NULL), P2V_FAIL);
    m->os.ndrivers = 1;
    strcpy(m->os.driver[0].name, "virtio_scsi");
    m->os.driver[0].start = -1, m->os.driver[0].file = P2V_YES;
    assert_int_equal(run(m, &o, "boot-driver", NULL), P2V_PASS);
    assert_true(p2v_linux_module_listed("kernel/drivers/scsi/virtio_scsi.ko.xz: a.ko\n", "virtio_scsi"));
    assert_true(p2v_linux_module_listed("x.ko:\nkernel/drivers/ata/ata-piix.ko\n", "ata_piix"));
    assert_false(p2v_linux_module_listed("kernel/drivers/block/virtio_blk2.ko:\n", "virtio_blk"));
    assert_false(p2v_linux_module_listed("kernel/x/ahci_platform.ko:\n", "ahci"));
    free(m);
}

static void quoting(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    p2v_sh_quote(f, "it's $HOME");
    fputc(' ', f);
    p2v_ps_quote(f, "it's $env:X");
    fclose(f);
    assert_string_equal(buf, "'it'\\''s $HOME' 'it''s $env:X'");
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(xml_round_trip),
        cmocka_unit_test(schema_refuses),
        cmocka_unit_test(padded_tokens_and_numbers),
        cmocka_unit_test(rules),
        cmocka_unit_test(machine_format),
        cmocka_unit_test(linux_boot_driver),
        cmocka_unit_test(quoting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
