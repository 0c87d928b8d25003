/* A libvirt domain (virsh define FILE): the hardware of struct p2v_vm in
 * the shape virt-v2v gives converted guests. */
#include "vmdef.h"

#include "core/json.h"

#include <inttypes.h>
#include <string.h>

static void uuid_text(const uint8_t u[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    int k = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[k++] = '-';
        out[k++] = hex[u[i] >> 4];
        out[k++] = hex[u[i] & 15];
    }
    out[k] = 0;
}

static const char *dev_prefix(const char *bus)
{
    return !strcmp(bus, "virtio") ? "vd" : !strcmp(bus, "ide") ? "hd" : "sd";
}

static const char *nic_model(const char *target)
{
    return !strcmp(target, "virtio") ? "virtio" : !strcmp(target, "qemu-ide") ? "rtl8139" : "e1000e";
}

void p2v_vm_libvirt(FILE *f, const struct p2v_vm *vm)
{
    char uuid[37];
    uuid_text(vm->uuid, uuid);
    fputs("<!-- Written by p2v " P2V_VERSION " (p2v vm create, libvirt format).\n", f);
    /* An XML comment cannot hold "--": such paths are left out of it. */
    if (vm->overlay[0] && (strstr(vm->disk_path, "--") || strstr(vm->overlay, "--"))) {
        fputs("     The VM writes to an overlay, never to the image: create the overlay\n"
              "     named in source file below, backed by the image in backingStore,\n"
              "     with qemu-img create before defining the domain.\n", f);
    } else if (vm->overlay[0]) {
        /* The image is never written: the VM writes to a qcow2 file backed
         * by it, which must exist before the domain starts. */
        fputs("     The VM writes to an overlay, never to the image. Create it first:\n"
              "       qemu-img create -f qcow2 -F ", f);
        fprintf(f, "%s -b '", vm->disk_format);
        xml_text(f, vm->disk_path);
        fputs("' '", f);
        xml_text(f, vm->overlay);
        fputs("'\n", f);
    }
    if (vm->overlay[0])
        fputs("     The overlay holds the VM's changes to this image only: after converting\n"
              "     again, delete it and create it anew, or the VM starts the old changes\n"
              "     over the new image and damages its filesystems.\n", f);
    fputs("     Define it with: virsh define FILE -->\n", f);
    fputs("<domain type='kvm'>\n  <name>", f);
    xml_text(f, vm->name);
    fprintf(f, "</name>\n  <uuid>%s</uuid>\n", uuid);
    fputs("  <description>", f);
    xml_text(f, vm->os_name[0] ? vm->os_name : !strcmp(vm->os_family, "unknown") ? "disk image"
                                                                                 : vm->os_family);
    fputs(", converted by p2v from ", f);
    xml_text(f, vm->image);
    fputs("</description>\n", f);
    fprintf(f, "  <memory unit='MiB'>%" PRIu64 "</memory>\n"
               "  <currentMemory unit='MiB'>%" PRIu64 "</currentMemory>\n"
               "  <vcpu placement='static'>%d</vcpu>\n",
            vm->memory_mib, vm->memory_mib, vm->vcpus);
    int uefi = !strcmp(vm->firmware, "uefi");
    fprintf(f, "  <os%s>\n    <type arch='x86_64' machine='%s'>hvm</type>\n  </os>\n",
            uefi ? " firmware='efi'" : "", !strcmp(vm->bus, "ide") ? "pc" : "q35");
    if (vm->acpi)
        fputs("  <features>\n    <acpi/>\n    <apic/>\n  </features>\n", f);
    fprintf(f, "  <cpu mode='host-model'>\n    <topology sockets='%d' cores='%d' threads='%d'/>\n"
               "  </cpu>\n", vm->sockets, vm->cores, vm->threads);
    /* Windows keeps the hardware clock in local time. */
    fprintf(f, "  <clock offset='%s'/>\n", !strcmp(vm->os_family, "windows") ? "localtime" : "utc");
    fputs("  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n"
          "  <on_crash>destroy</on_crash>\n  <devices>\n", f);
    fprintf(f, "    <disk type='file' device='disk'>\n      <driver name='qemu' type='%s'/>\n"
               "      <source file='", vm->overlay[0] ? "qcow2" : vm->disk_format);
    xml_text(f, vm->overlay[0] ? vm->overlay : vm->disk_path);
    fputs("'/>\n", f);
    if (vm->overlay[0]) {
        fprintf(f, "      <backingStore type='file'>\n        <format type='%s'/>\n"
                   "        <source file='", vm->disk_format);
        xml_text(f, vm->disk_path);
        fputs("'/>\n        <backingStore/>\n      </backingStore>\n", f);
    }
    fprintf(f, "      <target dev='%sa' bus='%s'/>\n", dev_prefix(vm->bus), vm->bus);
    if (!strcmp(vm->disk_mode, "readonly"))
        fputs("      <readonly/>\n", f);
    fputs("      <boot order='1'/>\n    </disk>\n", f);
    for (int i = 0; i < vm->nnics; i++) {
        fprintf(f, "    <interface type='network'>\n      <mac address='%s'/>\n"
                   "      <source network='", vm->mac[i]);
        xml_text(f, vm->network);
        fprintf(f, "'/>\n      <model type='%s'/>\n    </interface>\n", nic_model(vm->target));
    }
    fputs("    <serial type='pty'>\n      <target port='0'/>\n    </serial>\n"
          "    <console type='pty'>\n      <target type='serial' port='0'/>\n    </console>\n"
          "    <input type='tablet' bus='usb'/>\n"
          "    <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>\n"
          "    <video>\n      <model type='vga'/>\n    </video>\n", f);
    if (!strcmp(vm->target, "virtio"))
        fputs("    <memballoon model='virtio'/>\n", f);
    else
        fputs("    <memballoon model='none'/>\n", f);
    fputs("  </devices>\n</domain>\n", f);
}
