/* The machine configuration: what p2v knows about the machine being
 * converted, from the running system (inventory_local.c) or from an
 * offline source (inventory_source.c).  It is written as XML (machine.rng
 * is its schema) or JSON, read back for `check --config` and `vm create
 * --config`, and is all the convertibility rules and VM writers see.
 * Unknown facts stay empty or zero; writers leave them out. */
#ifndef P2V_MACHINE_H
#define P2V_MACHINE_H

#include <stdint.h>
#include <stdio.h>

#define P2V_M_MAX_DISKS 32
#define P2V_M_MAX_PARTS 128
#define P2V_M_MAX_NICS 32
#define P2V_M_MAX_ADDRS 16
#define P2V_M_MAX_ITEMS 64

enum p2v_tristate { P2V_UNKNOWN = 0, P2V_YES, P2V_NO };

struct p2v_m_fs {
    char type[24], label[64], uuid[64];
    char state[16];           /* clean, hibernated, dirty, unclean; "" unknown */
};

struct p2v_m_part {
    int number;
    uint64_t start, size;
    char type[40];            /* "0x07" or a GPT type GUID */
    char name[80], uuid[40];
    int bootable;
    struct p2v_m_fs fs;
};

struct p2v_m_disk {
    char name[32], path[256], model[64], serial[64];
    uint64_t size;
    unsigned logical_sector;
    char table[8];            /* dos, gpt, none */
    char table_id[40];
    int nparts;
    struct p2v_m_part part[P2V_M_MAX_PARTS];
    struct p2v_m_fs whole;    /* a filesystem on the whole disk */
};

struct p2v_m_addr {
    char family[8];           /* ipv4, ipv6 */
    char addr[48];
    int prefix;               /* -1: unknown */
};

struct p2v_m_nic {
    char name[64], mac[18], driver[32];
    enum p2v_tristate dhcp;   /* Windows' EnableDHCP; unknown on a running machine */
    int naddrs;
    struct p2v_m_addr addr[P2V_M_MAX_ADDRS];
    char gateway[128], dns[128];   /* comma-separated */
    char config[128];         /* Linux: the guest file that configures it */
    char config_kind[16];     /* ifupdown, networkmanager, netplan, ifcfg, networkd */
    char pin[128];            /* Linux: a file binding its name to its MAC (udev rule, .link) */
};

struct p2v_m_driver {         /* a boot storage driver the OS has */
    char name[32];
    int start;                /* Windows service Start; -1 for Linux modules */
    int start_override;       /* Windows StartOverride\0, which wins over Start; -1: none */
    char file_path[96];       /* Windows: where its .sys is (the guest's path) */
    enum p2v_tristate file;   /* its .sys / .ko is there */
    int builtin;              /* Linux: built into the kernel */
};

struct p2v_m_tool {           /* another hypervisor's tools */
    char name[96];
    char kind[12];            /* service, program (Windows); package, program (Linux) */
    int start;                /* service Start, -1 for programs */
    char uninstall[12];       /* programs: unattended (p2v can remove it), manual,
                                 first-boot (uninstall-program has put it in place) */
};

struct p2v_m_hive {           /* a Windows registry hive as p2v found it */
    char name[16];            /* SYSTEM, SOFTWARE */
    char state[12];           /* clean, recovered (from its transaction logs), dirty */
    int entries;              /* log entries replayed (recovered) */
    int ignored;              /* dirty, used as it is (--ignore-hive-logs) */
    char why[256];            /* why it is dirty */
};

#define P2V_M_MAX_HIVES 4
#define P2V_M_MAX_KERNELS 8

struct p2v_m_kernel {         /* a Linux kernel and its initramfs */
    char version[64];
    char initramfs[96];       /* the guest path; "" none found */
    char state[12];           /* read, missing, damaged */
    char generator[16];       /* initramfs-tools, dracut, mkinitcpio; "" unknown */
    char drivers[192];        /* storage drivers (p2v_linux_storage_drivers) the initramfs
                                 holds, comma-separated */
    char builtin[192];        /* storage drivers built into this kernel */
    char available[192];      /* storage drivers this kernel has as modules */
};

struct p2v_m_ref {            /* a device reference in a Linux guest's configuration */
    char where[12];           /* fstab, crypttab, cmdline, resume */
    char file[96];            /* the guest file it is in */
    char device[96];          /* as written: /dev/sda1, UUID=..., LABEL=... */
};

struct p2v_m_mount {          /* an /etc/fstab line */
    char spec[96], file[96], type[24], options[96];
};

struct p2v_machine {
    char origin[8];           /* running, source */
    char source[256];         /* origin source: what was inspected */
    char hostname[64];
    struct {
        char arch[16], vendor[32], model[96];
        int count, sockets, cores, threads;   /* 0: unknown */
    } cpu;
    uint64_t memory_kib;      /* 0: unknown */
    char firmware[8];         /* bios, uefi; "" unknown */
    enum p2v_tristate acpi;
    struct {                  /* a UEFI disk's EFI System Partition */
        int partition;        /* its number; 0 none or not read */
        char fallback[8];     /* \EFI\BOOT\BOOTx64.EFI: present, missing; "" unknown */
        char loader[96];      /* the installed loader the fallback should start */
    } efi;
    struct {
        char family[12];      /* windows, linux, unknown */
        char name[128], id[32], version[32], build[16], arch[16];
        char edition[64], installation_type[32], kernel[64];
        unsigned major, minor;
        int partition;        /* where it lives; 0 unknown */
        char systemroot[32];
        char bootloader[16];  /* Linux: grub-bios, grub-efi, systemd-boot, none; "" unknown */
        char bootloader_config[96];
        /* Linux: the hypervisors' own guest tools (qemu-guest-agent,
         * hyperv-daemons), comma-separated: installed, and not installed
         * but with their package files on the disk (an offline install). */
        char agents_installed[64], agents_on_disk[64];
        int ndrivers, ntools, nmounts, nhives, nkernels, nrefs;
        struct p2v_m_kernel kernels[P2V_M_MAX_KERNELS];
        struct p2v_m_ref ref[P2V_M_MAX_ITEMS];
        struct p2v_m_driver driver[P2V_M_MAX_ITEMS];
        struct p2v_m_tool tool[P2V_M_MAX_ITEMS];
        struct p2v_m_mount mount[P2V_M_MAX_ITEMS];
        struct p2v_m_hive hive[P2V_M_MAX_HIVES];
    } os;
    int nnics;
    struct p2v_m_nic nic[P2V_M_MAX_NICS];
    int ndisks;
    struct p2v_m_disk disk[P2V_M_MAX_DISKS];
};

/* The running machine, from /proc, /sys and libraries.  0 or -errno. */
int p2v_inventory_local(struct p2v_machine *m);

struct p2v_disk_view;
/* An offline source's disk, as the layout planned it: the disk, and the
 * OS on it when one is found (Windows from its hives, Linux from /etc).
 * 0 or -errno with a message. */
int p2v_inventory_disk(const struct p2v_disk_view *dv, struct p2v_machine *m);

void p2v_machine_xml(FILE *f, const struct p2v_machine *m);
void p2v_machine_json(FILE *f, const struct p2v_machine *m);
/* Reads and validates (against the built-in machine.rng) a machine
 * configuration file.  0 or -errno with a message naming the file. */
int p2v_machine_load(const char *path, struct p2v_machine *m);
/* The schema, built in. */
extern const char p2v_machine_rng[];

/* Helpers for the rules and writers. */
const char *p2v_tristate_name(enum p2v_tristate t);
/* The firmware a disk boots with: uefi for GPT with an EFI System
 * Partition, bios otherwise. */
const char *p2v_disk_firmware(const struct p2v_m_disk *d);
/* Boot storage drivers of Linux the rules ask about (NULL-terminated), and
 * whether a modules.dep / modules.builtin text lists one. */
extern const char *const p2v_linux_storage_drivers[];
/* 1 if the comma-separated list holds name. */
int p2v_m_listed(const char *list, const char *name);
/* 1 if a device name changes when the disk moves to other hardware:
 * /dev/sdX, /dev/hdX, /dev/vdX, /dev/xvdX and their partitions. */
int p2v_m_unstable_device(const char *dev);
int p2v_linux_module_listed(const char *text, const char *name);
/* The Start Windows uses for driver d: StartOverride when there is one. */
int p2v_driver_start(const struct p2v_m_driver *d);
/* Copies with truncation, always terminated. */
void p2v_m_copy(char *dst, size_t len, const char *src);

#endif
