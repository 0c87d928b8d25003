#include "plan.h"

#include "core/log.h"
#include "core/term_safe.h"

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

/* Why an action's words cannot be carried out, for the message. */
static _Thread_local char reason[512];

/* The UTF-16 units of n bytes of UTF-8 (NTFS and the registry count names
 * so), or -1 when the bytes are not UTF-8. */
static long utf16_units(const char *s, size_t n)
{
    long units = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (!k || i + k > n)
            return -1;
        unsigned long cp = k == 1 ? c : c & (0xff >> (k + 1));
        for (size_t j = 1; j < k; j++) {
            if (((unsigned char)s[i + j] & 0xc0) != 0x80)
                return -1;
            cp = cp << 6 | ((unsigned char)s[i + j] & 0x3f);
        }
        /* Strict UTF-8, as libntfs-3g converts it: no overlong forms, no
         * encoded surrogates, nothing past U+10FFFF. */
        static const unsigned long least[] = { 0, 0, 0x80, 0x800, 0x10000 };
        if (cp < least[k] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return -1;
        units += k == 4 ? 2 : 1;  /* beyond U+FFFF: a surrogate pair */
        i += k;
    }
    return units;
}

/* 0 when every component of path (split at seps) is UTF-8 of at most max
 * UTF-16 units; else -ENAMETOOLONG or -EILSEQ with reason set. */
static int names_fit(const char *path, const char *seps, long max, const char *what,
                     const char *who)
{
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, seps);
        long u = utf16_units(p, n);
        if (u < 0) {
            snprintf(reason, sizeof reason, "%s '%s' is not UTF-8 text; write the plan in UTF-8",
                     what, path);
            return -EILSEQ;
        }
        if (u > max) {
            snprintf(reason, sizeof reason, "the name '%.40s...' in %s '%.60s%s' is %ld UTF-16 "
                     "units long, over the %ld %s allows in a name; shorten it", p, what, path,
                     strlen(path) > 60 ? "..." : "", u, max, who);
            return -ENAMETOOLONG;
        }
        p += n;
        p += strspn(p, seps);
    }
    return 0;
}

/* NTFS's own files, in the root of every volume ($Extend: with what is
 * under it).  Replacing or deleting one breaks the volume. */
static const char *const ntfs_system[] = {
    "$MFT", "$MFTMirr", "$LogFile", "$Volume", "$AttrDef", "$Bitmap", "$Boot", "$BadClus",
    "$Secure", "$UpCase", "$Extend",
};

/* 0 when a file action may touch path; else -EPERM with reason set: the
 * volume's root, or one of NTFS's system files. */
static int touchable(const char *action, const char *path)
{
    const char *p = path, *first = NULL;
    char *end;
    long n = strtol(p, &end, 10);
    if (end != p && *end == ':' && n >= 0)
        p = end + 1;
    else if (!strncasecmp(p, "%SystemRoot%", 12))
        return 0;  /* under the Windows directory, never the root */
    /* The first component that is not "." (".." is refused already). */
    size_t len = 0;
    for (; *p; p += len) {
        p += strspn(p, "/\\");
        len = strcspn(p, "/\\");
        if (len && !(len == 1 && *p == '.')) {
            first = p;
            break;
        }
    }
    if (!first) {
        snprintf(reason, sizeof reason, "'%s' is the volume's root, not a file: name a file "
                 "under it", path);
        return -EPERM;
    }
    for (size_t i = 0; i < sizeof ntfs_system / sizeof *ntfs_system; i++)
        if (strlen(ntfs_system[i]) == len && !strncasecmp(first, ntfs_system[i], len)) {
            snprintf(reason, sizeof reason, "'%s' is NTFS's own %s%s: %s would damage the "
                     "volume, and p2v refuses it; remove the line", path, ntfs_system[i],
                     first[len] && i == sizeof ntfs_system / sizeof *ntfs_system - 1
                         ? " (or under it)" : "",
                     !strcmp(action, "file-delete") ? "deleting it" : "replacing it");
            return -EPERM;
        }
    return 0;
}

/* The words naming things inside the guest, checked before anything is
 * opened: files (NTFS holds 255 UTF-16 units a name; a path of 900 bytes
 * still fits p2v's 1024 once %SystemRoot% is expanded), registry keys (255
 * a name) and values (16383), services and first-boot scripts (p2v builds
 * keys and file names from them, in buffers of its own). */
static int guest_words(const struct p2v_action *a, const char **why)
{
    const char *n = a->argv[0];
    int r = 0;
    const char *guest = !strcmp(n, "file-put") ? a->argv[2]
                      : !strcmp(n, "file-delete") ? a->argv[1] : NULL;
    if (guest && climbs(guest)) {
        *why = "a guest path may not contain '..'";
        return -EPERM;
    }
    if (guest && strlen(guest) > 900) {
        snprintf(reason, sizeof reason, "the guest path '%.60s...' is %zu bytes long, over "
                 "p2v's 900", guest, strlen(guest));
        r = -ENAMETOOLONG;
    }
    if (guest && r == 0 && (r = names_fit(guest, "/\\", 255, "guest path", "NTFS")) == 0)
        r = touchable(n, guest);
    if (!strcmp(n, "reg-set") || !strcmp(n, "reg-delete")) {
        if (strlen(a->argv[1]) > 400) {
            snprintf(reason, sizeof reason, "the registry key '%.60s...' is %zu bytes long, "
                     "over p2v's 400", a->argv[1], strlen(a->argv[1]));
            r = -ENAMETOOLONG;
        }
        if (r == 0)
            r = names_fit(a->argv[1], "\\", 255, "registry key", "the registry");
        if (r == 0 && a->argc > 2 && utf16_units(a->argv[2], strlen(a->argv[2])) > 16383) {
            snprintf(reason, sizeof reason, "the value name '%.40s...' is over the 16383 "
                     "UTF-16 units a registry value name may have; shorten it", a->argv[2]);
            r = -ENAMETOOLONG;
        }
    }
    if (!strcmp(n, "enable-driver") || !strcmp(n, "inject-driver") ||
        !strcmp(n, "disable-service")) {
        /* p2v builds registry keys and file names from it: an injected
         * driver's p2v-NAME.inf and its configuration name the most. */
        size_t max = !strcmp(n, "inject-driver") ? 54 : 128;
        if (strpbrk(a->argv[1], "/\\")) {
            snprintf(reason, sizeof reason, "'%s' is not a service name (it holds '/' or '\\')",
                     a->argv[1]);
            r = -EINVAL;
        } else if (r == 0 && strlen(a->argv[1]) > max) {
            snprintf(reason, sizeof reason, "the service name '%.40s...' is %zu bytes long, over "
                     "the %zu p2v builds its registry keys and files from", a->argv[1],
                     strlen(a->argv[1]), max);
            r = -ENAMETOOLONG;
        }
    }
    if (!strcmp(n, "firstboot")) {
        /* Copied in as %SystemRoot%\p2v\firstboot\NN-NAME[.cmd]. */
        const char *base = strrchr(a->argv[1], '/') ? strrchr(a->argv[1], '/') + 1 : a->argv[1];
        if (strlen(base) > 200) {
            snprintf(reason, sizeof reason, "the script's name '%.40s...' is %zu bytes long; it "
                     "becomes a file name in the guest, and p2v takes at most 200: rename it",
                     base, strlen(base));
            r = -ENAMETOOLONG;
        }
    }
    if (r < 0)
        *why = reason;
    return r;
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
        if (!strcmp(a->argv[0], "efi-fallback") &&
            (strncasecmp(a->argv[1], "/EFI/", 5) != 0 || climbs(a->argv[1]) ||
             strspn(a->argv[1], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-") !=
                 strlen(a->argv[1]))) {
            *why = "LOADER must be a path under /EFI/ of letters, digits, '.', '_' and '-'";
            return -EINVAL;
        }
        if (!strcmp(a->argv[0], "efi-fallback") && names_fit(a->argv[1], "/", 255, "ESP path", "FAT") < 0) {
            *why = reason;  /* FAT's long names: 255 units too */
            return -ENAMETOOLONG;
        }
        return guest_words(a, why);
    }
    *why = NULL;
    return -ENOENT;
}

/* The usage line of an action: what a wrong word count is told. */
static const char *actions_usage(const char *name)
{
    for (size_t i = 0; i < sizeof actions / sizeof *actions; i++)
        if (!strcmp(name, actions[i].name))
            return actions[i].usage;
    return NULL;
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
            else if (r == -EINVAL && why == actions_usage(a.argv[0]))
                p2v_err("plan %s line %d: %s takes: %s", path, no, a.argv[0], why);
            else
                p2v_err("plan %s line %d: %s: %s", path, no, a.argv[0], why);
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

void p2v_plan_put_word(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fputc('\\', f);
        fputc(ch < 0x20 || ch == 0x7f ? '?' : ch, f);  /* the loader refuses these */
    }
    fputc('"', f);
}

void p2v_plan_put_text(FILE *f, const char *s)
{
    char buf[1024];
    size_t n = strlen(s);
    /* In pieces: p2v_term_safe writes what fits.  A piece never ends
     * inside an escape: each holds at most a quarter of the buffer. */
    for (size_t at = 0; at < n; at += sizeof buf / 4 - 1) {
        char piece[sizeof buf / 4];
        snprintf(piece, sizeof piece, "%s", s + at);
        fputs(p2v_term_safe(piece, buf, sizeof buf, 0), f);
    }
}

/* Services are disabled above; the programs themselves are removed at
 * first boot, as virt-v2v does, where that needs no user. */
static void plan_uninstalls(FILE *f, const struct p2v_win_program *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!p[i].vendor)
            continue;
        if (p[i].command[0]) {
            fputs("# at first boot: ", f);
            p2v_plan_put_text(f, p[i].command);
            fputs("\nuninstall-program ", f);
        } else {
            fprintf(f, "# no unattended uninstall (no QuietUninstallString, not a Windows Installer\n"
                       "# package): remove it from the VM, or write a firstboot script with its\n"
                       "# silent switch.\n# uninstall-program ");
        }
        p2v_plan_put_word(f, p[i].name);
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
    /* Guest strings reach the plan escaped: none can end a comment and
     * start a line of its own. */
    fputs("# source: ", f);
    p2v_plan_put_text(f, source);
    fputs("\n# guest: ", f);
    const char *facts[] = { w->product[0] ? w->product : "Windows", " ", w->version, " build ",
                            w->build, " (", w->arch, "), ", w->ccs, ", " };
    for (size_t i = 0; i < sizeof facts / sizeof *facts; i++)
        p2v_plan_put_text(f, facts[i]);
    fprintf(f, "%s\n", w->driver_database ? "DriverDatabase" : "CriticalDeviceDatabase");
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
