#include "plan.h"

#include "core/log.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    int min, max;       /* arguments after the name */
    const char *usage;
} actions[] = {
    { "enable-driver", 1, 3, "enable-driver NAME [pci=ID,...] [class={GUID}]" },
    { "inject-driver", 2, 5, "inject-driver NAME FILE.sys [FILE.inf] [pci=ID,...] [class={GUID}]" },
    { "disable-service", 1, 1, "disable-service NAME" },
    { "disable-vendor-services", 0, 1, "disable-vendor-services [FILE]" },
    { "no-auto-reboot", 0, 0, "no-auto-reboot" },
    { "reg-set", 3, 15, "reg-set KEY VALUE TYPE [DATA...]" },
    { "reg-delete", 1, 2, "reg-delete KEY [VALUE]" },
    { "file-put", 2, 2, "file-put LOCAL-FILE GUEST-PATH" },
    { "file-delete", 1, 1, "file-delete GUEST-PATH" },
    { "firstboot", 1, 1, "firstboot SCRIPT.cmd" },
    { "uninstall-program", 1, 1, "uninstall-program \"DISPLAY NAME\"" },
    { "boot-geometry", 0, 0, "boot-geometry" },
    { "linux-initramfs", 1, 8, "linux-initramfs DRIVER..." },
    { "linux-device-names", 0, 0, "linux-device-names" },
    { "linux-nic", 2, 2, "linux-nic NAME MAC" },
    { "linux-remove-package", 1, 1, "linux-remove-package PACKAGE" },
    { "linux-install-package", 1, 1, "linux-install-package PACKAGE" },
    { "efi-fallback", 1, 1, "efi-fallback LOADER (a path on the ESP: /EFI/debian/grubx64.efi)" },
};

/* A ".." component: a guest path stays inside the volume it names. */
static int climbs(const char *path)
{
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/\\");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return 1;
        p += n;
        p += strspn(p, "/\\");
    }
    return 0;
}

int p2v_plan_check_action(const struct p2v_action *a, const char **why)
{
    for (size_t i = 0; i < sizeof actions / sizeof *actions; i++) {
        if (strcmp(a->argv[0], actions[i].name) != 0)
            continue;
        if (a->argc - 1 < actions[i].min || a->argc - 1 > actions[i].max) {
            *why = actions[i].usage;
            return -EINVAL;
        }
        const char *guest = !strcmp(a->argv[0], "file-put") ? a->argv[2]
                          : !strcmp(a->argv[0], "file-delete") ? a->argv[1] : NULL;
        if (!strcmp(a->argv[0], "efi-fallback") &&
            (strncasecmp(a->argv[1], "/EFI/", 5) != 0 || climbs(a->argv[1]) ||
             strspn(a->argv[1], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-") !=
                 strlen(a->argv[1]))) {
            *why = "efi-fallback LOADER: a path under /EFI/ of letters, digits, '.', '_' and '-'";
            return -EINVAL;
        }
        if (guest && climbs(guest)) {
            *why = "a guest path may not contain '..'";
            return -EINVAL;
        }
        return 0;
    }
    *why = NULL;
    return -ENOENT;
}

/* Splits one line into words; 0 words for blank and comment lines. */
static int split(char *line, struct p2v_action *a, const char **why)
{
    char *in = line, *out;
    a->argc = 0;
    for (;;) {
        while (*in == ' ' || *in == '\t' || *in == '\r' || *in == '\n')
            in++;
        if (!*in || *in == '#')
            return 0;
        if (a->argc == P2V_PLAN_MAX_ARGS) {
            *why = "too many words";
            return -EINVAL;
        }
        a->argv[a->argc++] = out = in;
        int quoted = 0;
        for (; *in; in++) {
            if (*in == '"') {
                quoted = !quoted;
                continue;
            }
            if (quoted && *in == '\\' && (in[1] == '"' || in[1] == '\\'))
                in++;
            else if (!quoted && (*in == ' ' || *in == '\t' || *in == '\r' || *in == '\n'))
                break;
            else if (!quoted && *in == '#')
                break;
            *out++ = *in;
        }
        if (quoted) {
            *why = "a quote is not closed";
            return -EINVAL;
        }
        char stop = *in;
        *out = 0;
        if (stop == '#' || !stop)
            return 0;
        in++;
    }
}

int p2v_plan_load(const char *path, struct p2v_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    FILE *f = fopen(path, "re");
    if (!f) {
        int r = -errno;
        p2v_err("plan %s: %s", path, strerror(errno));
        return r;
    }
    char *copy = strdup(path);
    plan->path = strdup(path);
    plan->dir = copy ? strdup(dirname(copy)) : NULL;
    free(copy);
    char *line = NULL;
    size_t cap = 0;
    int r = plan->path && plan->dir ? 0 : -ENOMEM;
    ssize_t got;
    for (int no = 1; r == 0 && (got = getline(&line, &cap, f)) >= 0; no++) {
        struct p2v_action a = { .line = no };
        const char *why = NULL;
        /* A NUL would end the line early, unseen; other control bytes
         * (terminal escapes) would reach the terminal in messages. */
        ssize_t bad = -1;
        for (ssize_t i = 0; i < got && bad < 0; i++) {
            unsigned char ch = (unsigned char)line[i];
            if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') || ch == 0x7f)
                bad = i;
        }
        if (bad >= 0) {
            p2v_err("plan %s line %d: byte %zd is a control character (0x%02x), which a plan "
                    "cannot hold; a plan is text: remove it", path, no, bad + 1,
                    (unsigned char)line[bad]);
            r = -EINVAL;
            break;
        }
        char *copyline = strdup(line);
        a.buf = copyline;
        if (!copyline) {
            r = -ENOMEM;
            break;
        }
        r = split(copyline, &a, &why);
        if (r == 0 && a.argc == 0) {
            free(copyline);
            continue;
        }
        if (r == 0 && (r = p2v_plan_check_action(&a, &why)) < 0) {
            if (r == -ENOENT)
                p2v_err("plan %s line %d: unknown action '%s'; see p2v fixup --help", path, no,
                        a.argv[0]);
            else
                p2v_err("plan %s line %d: %s takes: %s", path, no, a.argv[0], why);
            r = -EINVAL;
        } else if (r < 0) {
            p2v_err("plan %s line %d: %s", path, no, why);
        }
        if (r < 0) {
            free(copyline);
            break;
        }
        struct p2v_action *na = realloc(plan->a, (size_t)(plan->n + 1) * sizeof *na);
        if (!na) {
            free(copyline);
            r = -ENOMEM;
            break;
        }
        plan->a = na;
        plan->a[plan->n++] = a;  /* argv points into a.buf */
    }
    if (r == 0 && ferror(f)) {
        r = -EIO;
        p2v_err("plan %s: reading it failed", path);
    }
    free(line);
    fclose(f);
    if (r < 0)
        p2v_plan_free(plan);
    return r;
}

void p2v_plan_free(struct p2v_plan *plan)
{
    for (int i = 0; i < plan->n; i++)
        free(plan->a[i].buf);
    free(plan->a);
    free(plan->path);
    free(plan->dir);
    memset(plan, 0, sizeof *plan);
}

char *p2v_plan_file(const struct p2v_plan *plan, const char *name)
{
    size_t n = strlen(plan->dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s%s", name[0] == '/' ? "" : plan->dir, name[0] == '/' ? "" : "/", name);
    return p;
}

/* The virtio-win (and installation media) folder for the guest. */
static const char *arch_dir(const struct p2v_windows *w)
{
    return !strcmp(w->arch, "i386") ? "x86" : !strcmp(w->arch, "arm64") ? "ARM64" : "amd64";
}

/* 1 when the line enables drv (it can start); else a commented line that
 * says why not and how to fix it, and 0. */
static int enable_or_comment(FILE *f, const struct p2v_windows *w, const char *drv,
                             const char *why, int (*has)(void *, const char *), void *ctx)
{
    int state = has(ctx, drv);
    if (state == P2V_DRIVER_READY) {
        fprintf(f, "enable-driver %s\n", drv);
        return 1;
    }
    if (state == P2V_DRIVER_NO_FILE)
        fprintf(f, "# enable-driver %s    (its file is missing: put it in place first with\n"
                   "#   inject-driver %s %s.sys, taken from the installation media, %s)\n",
                drv, drv, drv, arch_dir(w));
    else
        fprintf(f, "# enable-driver %s    (not in this Windows: %s)\n", drv, why);
    return 0;
}

/* A name from the guest as a plan word: quoted, with \" and \\ inside; a
 * control character (a hostile hive's line break) cannot end the line. */
static void put_word(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc((unsigned char)*s < 0x20 ? '?' : *s, f);
    }
    fputc('"', f);
}

/* Services are disabled above; the programs themselves are removed at
 * first boot, as virt-v2v does, where that needs no user. */
static void plan_uninstalls(FILE *f, const struct p2v_win_program *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!p[i].vendor)
            continue;
        if (p[i].command[0]) {
            fprintf(f, "# at first boot: %s\nuninstall-program ", p[i].command);
        } else {
            fprintf(f, "# no unattended uninstall (no QuietUninstallString, not a Windows Installer\n"
                       "# package): remove it from the VM, or write a firstboot script with its\n"
                       "# silent switch.\n# uninstall-program ");
        }
        put_word(f, p[i].name);
        fputc('\n', f);
    }
}

int p2v_plan_default(FILE *f, const char *target, const struct p2v_windows *w,
                     const char *source, const char *drivers_dir,
                     int (*has)(void *ctx, const char *name), void *ctx,
                     const struct p2v_win_program *progs, size_t nprogs)
{
    int virtio = !strcmp(target, "virtio"), ide = !strcmp(target, "qemu-ide");
    int sata = !strcmp(target, "qemu-sata"), hyperv = !strcmp(target, "hyperv");
    if (!virtio && !ide && !sata && !hyperv)
        return -EINVAL;
    fprintf(f, "# p2v fix-up plan for target %s\n", target);
    fprintf(f, "# source: %s\n", source);
    fprintf(f, "# guest: %s %s build %s (%s), %s, %s\n", w->product[0] ? w->product : "Windows",
            w->version, w->build, w->arch, w->ccs,
            w->driver_database ? "DriverDatabase" : "CriticalDeviceDatabase");
    fprintf(f, "#\n# Edit freely; p2v fixup apply --dry-run shows what each line changes.\n\n");
    fprintf(f, "# Boot storage driver for the target's disk controller\n");
    if (virtio) {
        if (has(ctx, "viostor") == P2V_DRIVER_READY) {
            fprintf(f, "enable-driver viostor\n");
        } else {
            fprintf(f, "# viostor is not installed: take it from the virtio-win ISO\n"
                       "# (viostor/<windows version>/%s/); relative to this plan's directory.\n",
                    arch_dir(w));
            fprintf(f, "inject-driver viostor %s/viostor.sys %s/viostor.inf\n", drivers_dir,
                    drivers_dir);
        }
    } else if (ide || hyperv) {
        /* QEMU's i440fx and Hyper-V Generation 1 both boot from PIIX IDE. */
        /* The controller's driver and the channel driver: both. */
        if (!enable_or_comment(f, w, "intelide", "the IDE controller driver is missing", has, ctx))
            enable_or_comment(f, w, "pciide", "no IDE controller driver at all", has, ctx);
        enable_or_comment(f, w, "atapi", "the IDE channel driver is missing", has, ctx);
        if (hyperv) {
            fprintf(f, "# Hyper-V's synthetic storage, used once integration services run\n");
            enable_or_comment(f, w, "vmbus", "no Hyper-V integration services", has, ctx);
            enable_or_comment(f, w, "storvsc", "no Hyper-V integration services", has, ctx);
        }
    } else {
        /* QEMU q35's ICH9 AHCI controller. */
        if (!enable_or_comment(f, w, "storahci", "Windows 8 and later have it", has, ctx))
            enable_or_comment(f, w, "msahci", "no inbox AHCI driver: use qemu-ide", has, ctx);
    }
    fprintf(f, "\n# Other hypervisors' tools would fail or hang here\n");
    fprintf(f, "disable-vendor-services\n");
    plan_uninstalls(f, progs, nprogs);
    fprintf(f, "\n# Keep a stop screen (0x7B) on screen instead of rebooting in a loop\n");
    fprintf(f, "no-auto-reboot\n");
    fprintf(f, "\n# NTFS boot sectors: hidden sectors must match where each partition starts\n");
    fprintf(f, "boot-geometry\n");
    return 0;
}
