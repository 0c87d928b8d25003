/* A VM definition: the virtual hardware p2v gives a converted machine,
 * decided once from the machine configuration, the image and the user's
 * overrides, then written for libvirt (domain XML), Hyper-V (a PowerShell
 * script) or QEMU (a shell script). */
#ifndef P2V_VMDEF_H
#define P2V_VMDEF_H

#include "machine.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#define P2V_VM_MAX_NICS 8

struct p2v_vm {
    char name[64];
    uint8_t uuid[16];
    uint64_t memory_mib;
    int vcpus, sockets, cores, threads;
    char firmware[8];          /* bios, uefi */
    int generation;            /* Hyper-V */
    char target[12];           /* virtio, qemu-sata, qemu-ide, hyperv */
    char bus[8];               /* virtio, sata, ide, scsi */
    char image[PATH_MAX];      /* the image as given, made absolute */
    char disk_path[PATH_MAX];  /* the disk as the definition names it */
    char disk_format[8];       /* vpc, vhdx, raw (QEMU's names) */
    char disk_mode[12];        /* direct, overlay, readonly */
    char overlay[PATH_MAX];    /* libvirt overlay mode: the qcow2 file the VM writes */
    char network[64];          /* libvirt network; Hyper-V switch */
    int nnics;
    char mac[P2V_VM_MAX_NICS][18];
    char os_family[12], os_name[128];
    int acpi;
};

struct p2v_vm_opts {
    const char *format;        /* libvirt, hyperv, qemu */
    const char *name, *target, *firmware, *disk_mode, *disk_path, *network;
    uint64_t memory_mib;       /* 0: from the machine, else 2048 */
    int vcpus;                 /* 0: from the machine, else 2 */
    int generation;            /* 0: 2 for UEFI, else 1 */
    const char *out_dir;       /* where the definition goes (libvirt overlay beside it) */
};

/* Decides the VM from the machine m and the image at image (a file, or a
 * p2v mount point whose disk.vhdx or disk.vhd is taken).  0, or -errno
 * with a message saying which choice cannot work and why. */
int p2v_vm_plan(const struct p2v_machine *m, const char *image, const struct p2v_vm_opts *o,
                struct p2v_vm *vm);
/* The image file a path names: itself, or a mount point's disk file. */
int p2v_vm_image_path(const char *image, char *out, size_t len);

void p2v_vm_libvirt(FILE *f, const struct p2v_vm *vm);
void p2v_vm_hyperv(FILE *f, const struct p2v_vm *vm);
void p2v_vm_qemu(FILE *f, const struct p2v_vm *vm);

/* Quoting for the scripts: a POSIX shell word, a PowerShell literal. */
void p2v_sh_quote(FILE *f, const char *s);
void p2v_ps_quote(FILE *f, const char *s);

#endif
