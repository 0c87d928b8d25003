/* The convertibility rules (rules.c): each passes, fails or skips on the
 * facts it looks at; a machine gets the image format its firmware and
 * disks need; Linux boot drivers are found in module lists. */
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
#include "machine/rules.h"

static const struct p2v_result *find(const struct p2v_result *r, int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(r[i].id, id))
            return &r[i];
    fail_msg("rule %s missing", id);
    return NULL;
}

/* The result of rule id, copied. */
static struct p2v_result result_of(const struct p2v_machine *m, const struct p2v_check_opts *o,
                                   const char *id)
{
    struct p2v_result r[P2V_MAX_RESULTS];
    int n = p2v_check_rules(m, o, r);
    assert_true(n > 0 && n <= P2V_MAX_RESULTS);
    return *find(r, n, id);
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

    /* hive-state: a recovered hive passes and is named; an unrecoverable
     * dirty one is a blocker; ignored on request, a warning. */
    struct p2v_result hr;
    int nhives = m->os.nhives;
    struct p2v_m_hive h0 = m->os.hive[0];
    m->os.nhives = 1;
    strcpy(m->os.hive[0].name, "SYSTEM");
    strcpy(m->os.hive[0].state, "recovered");
    m->os.hive[0].entries = 24, m->os.hive[0].ignored = 0;
    hr = result_of(m, &o, "hive-state");
    assert_int_equal(hr.status, P2V_PASS);
    assert_non_null(strstr(hr.message, "SYSTEM from 24 log entries"));
    strcpy(m->os.hive[0].state, "dirty");
    hr = result_of(m, &o, "hive-state");
    assert_int_equal(hr.status, P2V_FAIL);
    assert_int_equal(hr.severity, P2V_BLOCKER);
    assert_non_null(strstr(hr.remedy, "--ignore-hive-logs"));
    m->os.hive[0].ignored = 1;
    hr = result_of(m, &o, "hive-state");
    assert_int_equal(hr.status, P2V_FAIL);
    assert_int_equal(hr.severity, P2V_WARNING);
    m->os.nhives = 0;
    assert_int_equal(run(m, &o, "hive-state", NULL), P2V_SKIP);
    m->os.nhives = nhives;
    m->os.hive[0] = h0;

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

    /* IDE needs the controller's driver and atapi: atapi alone is a
     * blocker; both boot-start pass; StartOverride is named as what it is;
     * a missing file is a blocker whose remedy is the plan action, for
     * the guest's architecture. */
    struct p2v_result br = result_of(m, &o, "boot-driver");
    assert_int_equal(br.status, P2V_FAIL);
    assert_int_equal(br.severity, P2V_BLOCKER);
    assert_non_null(strstr(br.message, "intelide"));
    struct p2v_m_driver *ide = &m->os.driver[m->os.ndrivers++];
    *ide = (struct p2v_m_driver){ .name = "intelide", .start = 0, .start_override = -1,
                                  .file = P2V_YES };
    assert_int_equal(run(m, &o, "boot-driver", NULL), P2V_PASS);
    ide->start_override = 3;
    br = result_of(m, &o, "boot-driver");
    assert_int_equal(br.status, P2V_FAIL);
    assert_int_equal(br.severity, P2V_WARNING);
    assert_non_null(strstr(br.message, "Start=0, StartOverride=3"));
    ide->start_override = -1;
    ide->file = P2V_NO;
    strcpy(ide->file_path, "/Windows/System32/drivers/intelide.sys");
    strcpy(m->os.arch, "i386");
    br = result_of(m, &o, "boot-driver");
    assert_int_equal(br.severity, P2V_BLOCKER);
    assert_non_null(strstr(br.message, "intelide.sys is missing"));
    assert_non_null(strstr(br.remedy, "inject-driver intelide intelide.sys"));
    assert_non_null(strstr(br.remedy, "x86"));
    ide->file = P2V_YES;
    m->os.driver[0].start = 3;  /* atapi no longer boots: the worse verdict, on atapi */
    br = result_of(m, &o, "boot-driver");
    assert_int_equal(br.severity, P2V_WARNING);
    assert_non_null(strstr(br.message, "atapi"));
    m->os.driver[0].start = 0;
    strcpy(m->os.arch, "x86_64");
    o.target = "virtio";
    br = result_of(m, &o, "boot-driver");
    assert_non_null(strstr(br.remedy, "VIRTIO-WIN/viostor/OS/amd64"));
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
    /* Every static interface is listed. */
    m->nic[1] = m->nic[0];
    strcpy(m->nic[1].name, "{OTHER}");
    strcpy(m->nic[1].addr[0].addr, "10.9.9.9");
    m->nnics = 2;
    br = result_of(m, &o, "static-ip");
    assert_non_null(strstr(br.message, "2 interfaces"));
    assert_non_null(strstr(br.message, "10.1.2.3"));
    assert_non_null(strstr(br.message, "10.9.9.9"));
    m->nnics = 1;
    m->nic[0].dhcp = P2V_YES;
    assert_int_equal(run(m, &o, "static-ip", NULL), P2V_PASS);
    assert_int_equal(run(m, &o, "vendor-tools", NULL), P2V_PASS);
    m->os.ntools = 2;
    strcpy(m->os.tool[0].name, "vmtools"), strcpy(m->os.tool[0].kind, "service");
    m->os.tool[0].start = 2;
    strcpy(m->os.tool[1].name, "VMware Tools"), strcpy(m->os.tool[1].kind, "program");
    m->os.tool[1].start = -1;
    assert_int_equal(run(m, &o, "vendor-tools", NULL), P2V_FAIL);
    /* Disabled by a fix-up: no longer a warning; the program is named. */
    m->os.tool[0].start = 4;
    br = result_of(m, &o, "vendor-tools");
    assert_int_equal(br.status, P2V_PASS);
    assert_non_null(strstr(br.message, "VMware Tools"));

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

/* fs-state: ext and XFS, on a partition or the whole disk; other
 * filesystems and unknown states are not judged. */
static void fs_state(void **state)
{
    (void)state;
    struct p2v_machine *m = calloc(1, sizeof *m);
    struct p2v_check_opts o = { .target = "virtio", .generation = 1, .format = &p2v_vhd_format };
    m->ndisks = 1;
    strcpy(m->disk[0].name, "sdb");
    strcpy(m->disk[0].whole.type, "ntfs");
    strcpy(m->disk[0].whole.state, "dirty");
    assert_int_equal(run(m, &o, "fs-state", NULL), P2V_SKIP);
    strcpy(m->disk[0].whole.type, "xfs");
    strcpy(m->disk[0].whole.state, "clean");
    assert_int_equal(run(m, &o, "fs-state", NULL), P2V_PASS);
    strcpy(m->disk[0].whole.state, "unclean");
    struct p2v_result r = result_of(m, &o, "fs-state");
    assert_int_equal(r.status, P2V_FAIL);
    assert_int_equal(r.severity, P2V_WARNING);
    assert_non_null(strstr(r.message, "the xfs volume sdb"));
    m->disk[0].whole.type[0] = m->disk[0].whole.state[0] = 0;
    m->disk[0].nparts = 2;
    m->disk[0].part[0].number = 1, m->disk[0].part[1].number = 2;
    strcpy(m->disk[0].part[0].fs.type, "ext4");
    strcpy(m->disk[0].part[1].fs.type, "xfs");
    assert_int_equal(run(m, &o, "fs-state", NULL), P2V_PASS);  /* states unknown */
    strcpy(m->disk[0].part[1].fs.state, "unclean");
    r = result_of(m, &o, "fs-state");
    assert_int_equal(r.status, P2V_FAIL);
    assert_non_null(strstr(r.message, "partition 2 (xfs)"));
    assert_null(strstr(r.message, "partition 1"));
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rules),
        cmocka_unit_test(machine_format),
        cmocka_unit_test(linux_boot_driver),
        cmocka_unit_test(fs_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
