/* What a UEFI disk's EFI System Partition offers a firmware that has no
 * boot entries for it (a new VM: entries live in the old machine's NVRAM,
 * not on the disk): the removable-media fallback loader \EFI\BOOT\BOOTx64.EFI,
 * and the installed loader that fallback should start; and the plan line
 * that makes the one a copy of the other. */
#define _GNU_SOURCE
#include "inventory.h"

#include "guest/fat.h"
#include "guest/volume.h"
#include "layout/layout_plan.h"
#include "linux_plan.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct dirs {
    char name[8][64];
    int n;
};

static int dir_fn(void *ctx, const char *name, int is_dir, uint64_t size)
{
    (void)size;
    struct dirs *d = ctx;
    if (is_dir && d->n < 8 && strcasecmp(name, "BOOT") != 0 && strlen(name) < sizeof d->name[0])
        snprintf(d->name[d->n++], sizeof d->name[0], "%s", name);
    return 0;
}

/* The installed loader: Windows' boot manager; for Linux the distribution's
 * own directory first (shim before GRUB, as shim starts GRUB), then the
 * others, then systemd-boot. */
static void find_loader(struct p2v_fat *f, const struct p2v_machine *m, char *out, size_t len)
{
    static const char *const linux_files[] = { "shimx64.efi", "grubx64.efi",
                                               "systemd-bootx64.efi", NULL };
    char path[160];
    out[0] = 0;
    if (!strcmp(m->os.family, "windows")) {
        if (p2v_fat_stat(f, "/EFI/Microsoft/Boot/bootmgfw.efi", NULL, NULL) == 1)
            snprintf(out, len, "/EFI/Microsoft/Boot/bootmgfw.efi");
        return;
    }
    struct dirs d = { .n = 0 };
    if (p2v_fat_list(f, "/EFI", dir_fn, &d) < 0)
        return;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < d.n; i++) {
            int own = m->os.id[0] && !strcasecmp(d.name[i], m->os.id);
            if ((pass == 0) != own || !strcasecmp(d.name[i], "Microsoft"))
                continue;
            for (int k = 0; linux_files[k]; k++) {
                int n = snprintf(path, sizeof path, "/EFI/%s/%s", d.name[i], linux_files[k]);
                if (n < 0 || (size_t)n >= len || (size_t)n >= sizeof path)
                    continue;
                if (p2v_fat_stat(f, path, NULL, NULL) == 1) {
                    memcpy(out, path, (size_t)n + 1);
                    return;
                }
            }
        }
}

void p2v_inventory_efi(const struct p2v_disk_view *dv, struct p2v_machine *m)
{
    if (strcmp(m->firmware, "uefi") != 0 || !m->ndisks)
        return;
    const struct p2v_m_disk *d = &m->disk[0];
    int esp = 0;
    for (int i = 0; i < d->nparts && !esp; i++)
        if (!strcasecmp(d->part[i].type, P2V_GPT_TYPE_ESP))
            esp = d->part[i].number;
    struct p2v_volume vols[P2V_M_MAX_PARTS];
    int nv = p2v_disk_view_volumes(dv, vols, P2V_M_MAX_PARTS);
    for (int i = 0; i < nv; i++) {
        if (vols[i].number != esp)
            continue;
        m->efi.partition = esp;
        char name[300];
        snprintf(name, sizeof name, "%s partition %d (EFI System Partition)", dv->name, esp);
        struct p2v_fat *f;
        if (p2v_fat_open(dv->layer, vols[i].start, vols[i].size, name, &f) < 0)
            return;   /* fallback stays unknown: the rule says so */
        const char *fb = p2v_efi_fallback_name(m->os.arch[0] ? m->os.arch : "x86_64");
        int r = p2v_fat_stat(f, fb, NULL, NULL);
        if (r >= 0)
            p2v_m_copy(m->efi.fallback, sizeof m->efi.fallback, r ? "present" : "missing");
        find_loader(f, m, m->efi.loader, sizeof m->efi.loader);
        p2v_fat_close(f);
    }
}

int p2v_efi_plan_default(FILE *f, const struct p2v_machine *m)
{
    if (strcmp(m->efi.fallback, "missing") != 0)
        return 0;
    if (m->efi.loader[0])
        fprintf(f, "\n# The VM's firmware has no boot entry for this disk (entries stay in the\n"
                   "# old machine's NVRAM): the removable-media fallback starts the loader.\n"
                   "efi-fallback %s\n", m->efi.loader);
    else
        fputs("\n# No fallback loader and no known loader on the EFI System Partition:\n"
              "# install one on the source (see p2v check's efi-fallback rule).\n", f);
    return ferror(f) ? -1 : 0;
}
