/* A PowerShell script for the Hyper-V host: New-VM and the devices, with
 * the image copied beside the script (or -DiskPath). */
#include "vmdef.h"

#include <inttypes.h>
#include <string.h>

void p2v_vm_hyperv(FILE *f, const struct p2v_vm *vm)
{
    int gen2 = vm->generation == 2, overlay = !strcmp(vm->disk_mode, "overlay");
    fprintf(f, "# The VM \"%s\" for Hyper-V, written by p2v " P2V_VERSION
               " (p2v vm create --format hyperv).\n", vm->name);
    fputs("# Copy the image beside this script (or pass -DiskPath), then in an elevated\n"
          "# PowerShell: .\\SCRIPT.ps1 [-SwitchName NAME] [-DiskPath PATH] [-Name NAME]\n", f);
    if (overlay)
        fputs("# The VM writes to a differencing disk made beside the image; the image\n"
              "# itself is never changed.\n", f);
    fputs("[CmdletBinding()]\nparam(\n    [string]$DiskPath = (Join-Path $PSScriptRoot ", f);
    p2v_ps_quote(f, vm->disk_path);
    fputs("),\n    [string]$SwitchName = ", f);
    p2v_ps_quote(f, vm->network);
    fputs(",\n    [string]$Name = ", f);
    p2v_ps_quote(f, vm->name);
    fputs("\n)\n$ErrorActionPreference = 'Stop'\n"
          "if (-not (Test-Path -LiteralPath $DiskPath)) {\n"
          "    throw \"disk image $DiskPath not found: copy it there or pass -DiskPath\"\n}\n", f);
    if (overlay) {
        fputs("$ext = [IO.Path]::GetExtension($DiskPath)\n"
              "$child = Join-Path (Split-Path -Parent $DiskPath) ($Name + '-diff' + $ext)\n"
              "if (-not (Test-Path -LiteralPath $child)) {\n"
              "    New-VHD -Path $child -ParentPath $DiskPath -Differencing | Out-Null\n}\n"
              "$DiskPath = $child\n", f);
    }
    fprintf(f, "$vm = New-VM -Name $Name -Generation %d -MemoryStartupBytes %" PRIu64 "MB -NoVHD\n",
            vm->generation, vm->memory_mib);
    fprintf(f, "Set-VMProcessor -VM $vm -Count %d\n", vm->vcpus);
    fputs("Set-VMMemory -VM $vm -DynamicMemoryEnabled $false\n"
          "# New-VM adds an adapter of its own; the source's are added below.\n"
          "Get-VMNetworkAdapter -VM $vm | Remove-VMNetworkAdapter\n", f);
    if (gen2)
        fputs("$disk = Add-VMHardDiskDrive -VM $vm -ControllerType SCSI -ControllerNumber 0 "
              "-ControllerLocation 0 -Path $DiskPath -Passthru\n"
              "Add-VMDvdDrive -VM $vm -ControllerNumber 0 -ControllerLocation 1\n", f);
    else
        fputs("$disk = Add-VMHardDiskDrive -VM $vm -ControllerType IDE -ControllerNumber 0 "
              "-ControllerLocation 0 -Path $DiskPath -Passthru\n"
              "Add-VMDvdDrive -VM $vm -ControllerNumber 1 -ControllerLocation 0\n", f);
    for (int i = 0; i < vm->nnics; i++) {
        char mac[13];
        int k = 0;
        for (const char *p = vm->mac[i]; *p && k < 12; p++)
            if (*p != ':')
                mac[k++] = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
        mac[k] = 0;
        fprintf(f, "$nic = Add-VMNetworkAdapter -VM $vm -Name 'nic%d' -StaticMacAddress '%s' "
                   "-Passthru\n"
                   "if ($SwitchName) { Connect-VMNetworkAdapter -VMNetworkAdapter $nic "
                   "-SwitchName $SwitchName }\n", i, mac);
    }
    if (gen2) {
        /* Windows boots with Microsoft's own keys; Linux shims are signed
         * by Microsoft's UEFI CA; anything else may not be signed at all. */
        const char *sb = !strcmp(vm->os_family, "windows")
            ? "-EnableSecureBoot On -SecureBootTemplate MicrosoftWindows"
            : !strcmp(vm->os_family, "linux")
            ? "-EnableSecureBoot On -SecureBootTemplate MicrosoftUEFICertificateAuthority"
            : "-EnableSecureBoot Off";
        fprintf(f, "Set-VMFirmware -VM $vm -FirstBootDevice $disk %s\n", sb);
    } else {
        fputs("Set-VMBios -VM $vm -StartupOrder @('IDE', 'CD', 'LegacyNetworkAdapter', 'Floppy')\n", f);
    }
    fputs("Write-Host \"Created VM $Name. Start it with: Start-VM -Name '$Name'\"\n", f);
}
