/* A POSIX shell script that runs the VM with qemu-system-x86_64: the
 * same hardware as the libvirt domain, for hosts without libvirt and for
 * a quick boot test. */
#include "vmdef.h"

#include <inttypes.h>
#include <string.h>

static const char *nic_device(const char *target)
{
    return !strcmp(target, "virtio") ? "virtio-net-pci" : !strcmp(target, "qemu-ide") ? "rtl8139"
                                                                                      : "e1000e";
}

void p2v_vm_qemu(FILE *f, const struct p2v_vm *vm)
{
    int uefi = !strcmp(vm->firmware, "uefi"), overlay = !strcmp(vm->disk_mode, "overlay");
    fputs("#!/bin/sh\n", f);
    fprintf(f, "# The VM \"%s\" for QEMU, written by p2v " P2V_VERSION " (p2v vm create --format qemu).\n",
            vm->name);
    fprintf(f, "# Disk: %s (%s), %s.\n", vm->disk_path, vm->disk_format,
            overlay ? "never written: the VM's writes go to an overlay file beside this script"
            : !strcmp(vm->disk_mode, "readonly") ? "attached read-only" : "the VM writes to it");
    fputs("# Environment: P2V_DISK (the image), P2V_ACCEL (default kvm:tcg), P2V_CPU (default max),\n"
          "# P2V_DISPLAY (QEMU -display, default 'default'), P2V_NETDEV (default user),\n"
          "# P2V_OVMF_CODE, P2V_OVMF_VARS (UEFI firmware and its variable store template).\n"
          "# Arguments are passed on to QEMU (for example -no-reboot, or -snapshot).\n"
          "set -eu\nhere=$(cd \"$(dirname \"$0\")\" && pwd)\ndisk=${P2V_DISK:-", f);
    p2v_sh_quote(f, vm->disk_path);
    fputs("}\n[ -r \"$disk\" ] || { echo \"$0: cannot read the disk image $disk\" >&2; exit 1; }\n", f);
    fprintf(f, "fmt=%s\n", vm->disk_format);
    if (overlay) {
        /* The overlay holds changes to one image: over a new conversion
         * (another image, same name) they would damage its filesystems.  It
         * is bound to the image's identity: a VHD footer's unique id, both
         * VHDX headers' DataWriteGuid (new whenever the data changes). */
        fputs("overlay=$here/", f);
        p2v_sh_quote(f, vm->name);
        fputs("-overlay.qcow2\n"
              "case $fmt in\n"
              "vpc) id=$(tail -c 512 \"$disk\" | od -An -tx1 -j68 -N16) ;;\n"
              "vhdx) id=$(od -An -tx1 -j65568 -N16 \"$disk\")$(od -An -tx1 -j131104 -N16 \"$disk\") ;;\n"
              "*) id=$(stat -L -c '%s %Y' \"$disk\") ;;\n"
              "esac\n"
              "id=$(printf '%s' \"$id\" | tr -d ' \\n')\n"
              "if [ ! -e \"$overlay\" ]; then\n"
              "    qemu-img create -q -f qcow2 -F \"$fmt\" -b \"$disk\" \"$overlay\"\n"
              "    printf '%s\\n' \"$id\" >\"$overlay.image-id\"\n"
              "elif [ \"$(cat \"$overlay.image-id\" 2>/dev/null)\" != \"$id\" ]; then\n"
              "    echo \"$0: $overlay holds the VM's changes to another image than $disk\" \\\n"
              "         \"(converted again?): over this one they would damage its filesystems.\" \\\n"
              "         \"Move $overlay and $overlay.image-id away, or delete them, to start from the image.\" >&2\n"
              "    exit 1\n"
              "fi\ndisk=$overlay fmt=qcow2\n", f);
    }
    /* -drive separates options with commas; a comma in a path is doubled. */
    fputs("disk=$(printf '%s' \"$disk\" | sed 's/,/,,/g')\n", f);
    if (uefi) {
        fputs("code=${P2V_OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}\nvars=$here/", f);
        p2v_sh_quote(f, vm->name);
        fputs("-VARS.fd\n"
              "[ -e \"$vars\" ] || cp \"${P2V_OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}\" \"$vars\"\n"
              "code=$(printf '%s' \"$code\" | sed 's/,/,,/g')\n"
              "vars=$(printf '%s' \"$vars\" | sed 's/,/,,/g')\n", f);
    }
    fputs("exec qemu-system-x86_64 \\\n    -name ", f);
    p2v_sh_quote(f, vm->name);
    fprintf(f, " \\\n    -machine %s,accel=\"${P2V_ACCEL:-kvm:tcg}\"%s \\\n",
            !strcmp(vm->bus, "ide") ? "pc" : "q35", vm->acpi ? "" : ",acpi=off");
    fprintf(f, "    -cpu \"${P2V_CPU:-max}\" -m %" PRIu64 " -smp %d,sockets=%d,cores=%d,threads=%d \\\n",
            vm->memory_mib, vm->vcpus, vm->sockets, vm->cores, vm->threads);
    if (uefi)
        fputs("    -drive if=pflash,format=raw,unit=0,readonly=on,file=\"$code\" \\\n"
              "    -drive if=pflash,format=raw,unit=1,file=\"$vars\" \\\n", f);
    fprintf(f, "    -drive file=\"$disk\",format=\"$fmt\",if=none,id=disk0%s \\\n",
            !strcmp(vm->disk_mode, "readonly") ? ",readonly=on" : "");
    if (!strcmp(vm->bus, "virtio"))
        fputs("    -device virtio-blk-pci,drive=disk0,bootindex=1 \\\n", f);
    else  /* q35's AHCI and pc's IDE both call their first bus ide.0 */
        fputs("    -device ide-hd,drive=disk0,bus=ide.0,bootindex=1 \\\n", f);
    for (int i = 0; i < vm->nnics; i++)
        fprintf(f, "    -netdev \"${P2V_NETDEV:-user}\",id=net%d -device %s,netdev=net%d,mac=%s \\\n",
                i, nic_device(vm->target), i, vm->mac[i]);
    fputs("    -display \"${P2V_DISPLAY:-default}\" -serial mon:stdio \\\n    \"$@\"\n", f);
}
