/* A Windows machine with every kind of fact, and characters that XML,
 * JSON and shells must escape: what the machine/ tests start from. */
#ifndef P2V_TEST_MACHINE_FIXTURE_H
#define P2V_TEST_MACHINE_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "machine/machine.h"

static inline struct p2v_machine *windows_machine(void)
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
    m->os.driver[0].start_override = m->os.driver[1].start_override = -1;
    strcpy(m->os.driver[1].file_path, "/Windows/System32/drivers/storahci.sys");
    m->os.nhives = 2;
    strcpy(m->os.hive[0].name, "SYSTEM"), strcpy(m->os.hive[0].state, "recovered");
    m->os.hive[0].entries = 24;
    strcpy(m->os.hive[1].name, "SOFTWARE"), strcpy(m->os.hive[1].state, "dirty");
    m->os.hive[1].ignored = 1;
    strcpy(m->os.hive[1].why, "SOFTWARE.LOG1: <missing> & \"empty\"");
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

#endif
