/* The efi-fallback action: a new VM's firmware has none of the source
 * machine's boot entries, so it starts the removable-media fallback
 * \EFI\BOOT\BOOTx64.EFI, which this action makes a copy of the installed
 * loader.  A shim is copied with the loaders it starts from its own
 * directory (GRUB, MokManager), since it looks for them beside itself.
 * The ESP is written in libguestfs's appliance (the kernel's vfat driver)
 * on the overlay; p2v does not write FAT itself. */
#define _GNU_SOURCE
#include "apply_ctx.h"

#include "guest/fat.h"
#include "guest/linux_guestfs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int put_copy(struct ctx *c, const char *from, const char *to)
{
    char old[48], new_[48];
    int r = fx_lg_hash(c, to, old, sizeof old);
    if (r == 0)
        r = fx_lg_hash(c, from, new_, sizeof new_);
    if (r < 0)
        return fx_fail(c, r, "reading %s on the EFI System Partition", to);
    if (!strcmp(old, new_))
        return fx_record(c, 0, old, new_, "ESP %s", to);
    if ((r = p2v_lgfs_copy(c->lg, from, to)) < 0)
        return fx_fail(c, r, "copying %s to %s on the EFI System Partition", from, to);
    return fx_record(c, 1, old, new_, "ESP %s", to);
}

/* The architecture a loader's file name says ("grubaa64.efi"). */
static const char *arch_of(const char *loader)
{
    return strcasestr(loader, "aa64") ? "aarch64" : strcasestr(loader, "ia32") ? "i386" : "x86_64";
}

int fx_efi_fallback(struct ctx *c)
{
    const char *loader = c->a->argv[1];
    char dev[64];
    int r = p2v_lgfs_mount_esp(c->lg, dev, sizeof dev);
    if (r == -ENOENT)
        return fx_fail(c, r, "the disk has no EFI System Partition (GPT type "
                             "C12A7328-F81F-11D2-BA4B-00A0C93EC93B); a BIOS disk needs no "
                             "efi-fallback: remove the line");
    if (r < 0)
        return fx_fail(c, r, "mounting the EFI System Partition");
    if (!p2v_lgfs_exists(c->lg, loader))
        return fx_fail(c, -ENOENT, "%s is not on the EFI System Partition (%s); 'p2v inventory' "
                       "names the loader it found", loader, dev);
    const char *fb = p2v_efi_fallback_name(arch_of(loader));
    r = put_copy(c, loader, fb);
    /* Shim starts grubx64.efi (and MokManager mmx64.efi) from its own
     * directory: they go beside the fallback too. */
    const char *base = strrchr(loader, '/');
    if (r == 0 && base && !strncasecmp(base + 1, "shim", 4)) {
        static const char *const companions[] = { "grubx64.efi", "mmx64.efi", "grubaa64.efi",
                                                  "mmaa64.efi", NULL };
        for (int i = 0; r == 0 && companions[i]; i++) {
            char from[300], to[64];
            snprintf(from, sizeof from, "%.*s/%s", (int)(base - loader), loader, companions[i]);
            snprintf(to, sizeof to, "/EFI/BOOT/%s", companions[i]);
            if (p2v_lgfs_exists(c->lg, from))
                r = put_copy(c, from, to);
        }
    }
    return r;
}
