/* Linux fix-ups: the plan's linux-* actions, carried out in the guest by
 * libguestfs (guest/linux_guestfs.h) on the disk p2v serves over NBD from
 * the apply's overlay (fs/nbd_export.h), so a dry run (scratch overlay)
 * runs exactly what the real apply runs.  Each file change is recorded by
 * content hash (old -> new), each command with what it printed; an action
 * whose result is already there changes nothing, so re-applying a plan
 * does nothing. */
#define _GNU_SOURCE
#include "apply_ctx.h"

#include "core/log.h"
#include "fs/nbd_export.h"
#include "guest/hive.h"
#include "guest/dpkg_status.h"
#include "guest/initramfs.h"
#include "guest/linux_guestfs.h"

#include <ctype.h>
#include <errno.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD_OUT_MAX 4000

/* "sha256:0123456789ab" of text, or "(absent)". */
static void hash_of(const char *d, size_t len, char *out, size_t olen)
{
    if (!d) {
        snprintf(out, olen, "(absent)");
        return;
    }
    struct sha256_ctx h;
    uint8_t dg[SHA256_DIGEST_SIZE];
    sha256_init(&h);
    sha256_update(&h, len, (const uint8_t *)d);
    sha256_digest(&h, sizeof dg, dg);
    snprintf(out, olen, "sha256:");
    for (int i = 0; i < 16 && strlen(out) + 3 <= olen; i++)
        snprintf(out + strlen(out), olen - strlen(out), "%02x", dg[i]);
}

/* hash_of's form for a file in the guest, hashed in the appliance: an
 * initramfs is tens of MiB, too much to carry out of it only to hash. */
int fx_lg_hash(struct ctx *c, const char *path, char *out, size_t len)
{
    char h[80];
    int r = p2v_lgfs_sha256(c->lg, path, h, sizeof h);
    if (r == -ENOENT)
        snprintf(out, len, "(absent)");
    else if (r == 0)
        snprintf(out, len, "sha256:%.32s", h);
    return r == -ENOENT ? 0 : r;
}

/* Replaces path's contents with data when they differ; records either. */
static int put_file(struct ctx *c, const char *path, const char *data)
{
    char *old = NULL, ho[48], hn[48];
    size_t olen = 0;
    int r = p2v_lgfs_read(c->lg, path, &old, &olen);
    if (r < 0 && r != -ENOENT)
        return fx_fail(c, r, "reading %s", path);
    hash_of(r == 0 ? old : NULL, olen, ho, sizeof ho);
    hash_of(data, strlen(data), hn, sizeof hn);
    int same = r == 0 && olen == strlen(data) && !memcmp(old, data, olen);
    free(old);
    if (same)
        return fx_record(c, 0, ho, hn, "%s", path);
    if ((r = p2v_lgfs_write(c->lg, path, data, strlen(data))) < 0)
        return fx_fail(c, r, "writing %s", path);
    return fx_record(c, 1, ho, hn, "%s", path);
}

/* Runs cmd in the guest (env: "NAME=value " put before it, not recorded:
 * it only pins what the tool stamps) and records it with its output; a
 * non-zero exit fails the action. */
static int run_cmd_env(struct ctx *c, const char *env, const char *cmd)
{
    char *out = NULL, *full = NULL;
    if (asprintf(&full, "%s %s", env, cmd) < 0)
        return -ENOMEM;
    int st = p2v_lgfs_sh(c->lg, full, &out);
    free(full);
    if (st < 0)
        return fx_fail(c, st, "running '%s' in the guest", cmd);
    size_t n = strlen(out);
    if (n > CMD_OUT_MAX)
        memmove(out, out + n - CMD_OUT_MAX, CMD_OUT_MAX + 1);  /* the end says what failed */
    int r = st == 0 ? fx_record(c, 1, "", out, "command: %s", cmd)
                    : fx_fail(c, -EIO, "'%s' in the guest exited with %d: %s", cmd, st, out);
    free(out);
    return r;
}

static int run_cmd(struct ctx *c, const char *cmd) { return run_cmd_env(c, "", cmd); }

/* ---- linux-nic NAME MAC ---------------------------------------------- */

static int valid_mac(const char *m)
{
    if (strlen(m) != 17)
        return 0;
    for (int i = 0; i < 17; i++)
        if (i % 3 == 2 ? m[i] != ':' : !isxdigit((unsigned char)m[i]))
            return 0;
    return 1;
}

static int valid_ifname(const char *n)
{
    size_t len = strlen(n);
    if (!len || len > 15)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)n[i]) && n[i] != '-' && n[i] != '_' && n[i] != '.')
            return 0;
    return 1;
}

/* udev rules that name NAME by the old hardware's MAC are commented out:
 * the .link file names the VM's NIC instead. */
static int unpin_udev(struct ctx *c, const char *name)
{
    char **v;
    size_t n;
    if (p2v_lgfs_ls(c->lg, "/etc/udev/rules.d", &v, &n) < 0)
        return 0;
    int r = 0;
    char want[96];
    snprintf(want, sizeof want, "NAME=\"%s\"", name);
    for (size_t i = 0; i < n && r == 0; i++) {
        size_t bl = strlen(v[i]);
        if (bl < 6 || strcmp(v[i] + bl - 6, ".rules"))
            continue;
        char path[512], *text;
        size_t len;
        snprintf(path, sizeof path, "/etc/udev/rules.d/%s", v[i]);
        if (p2v_lgfs_read(c->lg, path, &text, &len) < 0)
            continue;
        char *out = malloc(2 * len + 64);
        if (!out) {
            free(text);
            r = -ENOMEM;
            break;
        }
        out[0] = 0;
        int hit = 0;
        for (char *l = text; *l;) {
            size_t ll = strcspn(l, "\n");
            int pin = l[0] != '#' && memmem(l, ll, want, strlen(want)) &&
                      memmem(l, ll, "ATTR{address}", 13);
            if (pin) {
                strcat(out, "# p2v: the VM's NIC is named by a .link file: ");
                hit = 1;
            }
            strncat(out, l, ll + (l[ll] == '\n'));
            l += ll + (l[ll] == '\n');
        }
        if (hit)
            r = put_file(c, path, out);
        free(out);
        free(text);
    }
    p2v_strv_free(v, n);
    return r;
}

static int fx_linux_nic(struct ctx *c)
{
    const char *name = c->a->argv[1], *mac = c->a->argv[2];
    if (!valid_ifname(name) || !valid_mac(mac))
        return fx_fail(c, -EINVAL, "linux-nic takes an interface name (at most 15 letters, "
                       "digits, '-', '_', '.') and a MAC (xx:xx:xx:xx:xx:xx), not '%s' '%s'",
                       name, mac);
    char path[128], body[512], lower[18];
    for (int i = 0; i < 18; i++)
        lower[i] = (char)tolower((unsigned char)mac[i]);
    snprintf(path, sizeof path, "/etc/systemd/network/10-p2v-%s.link", name);
    snprintf(body, sizeof body,
             "# Written by p2v: the converted machine's NIC (%s) keeps the name %s,\n"
             "# which the network configuration from the physical machine uses.\n"
             "[Match]\nMACAddress=%s\n\n[Link]\nName=%s\n", lower, name, lower, name);
    if (!p2v_lgfs_exists(c->lg, "/etc/systemd/network")) {
        char *o = NULL;
        p2v_lgfs_sh(c->lg, "mkdir -p /etc/systemd/network", &o);
        free(o);
    }
    int r = put_file(c, path, body);
    return r < 0 ? r : unpin_udev(c, name);
}

/* ---- linux-device-names ------------------------------------------------ */

static int kernel_name_at(const char *p)
{
    static const char *const pre[] = { "/dev/sd", "/dev/hd", "/dev/vd", "/dev/xvd", NULL };
    for (int i = 0; pre[i]; i++)
        if (!strncmp(p, pre[i], strlen(pre[i])) && islower((unsigned char)p[strlen(pre[i])]))
            return 1;
    return 0;
}

/* The disk the guest's root was on, as the guest named it ("/dev/sda"),
 * from fstab's / or a root= of the kernel command line. */
static int root_disk(struct ctx *c, char *out, size_t len)
{
    char *t;
    size_t n;
    out[0] = 0;
    if (p2v_lgfs_read(c->lg, "/etc/fstab", &t, &n) < 0)
        return 0;
    /* / by kernel name first; when / is on LVM or named by UUID, an entry
     * whose partition of this disk (the appliance's /dev/sda) holds the
     * filesystem type the entry says (the ESP at /dev/sda1) names it. */
    for (int pass = 0; pass < 2 && !out[0]; pass++) {
        char *copy = strdup(t), *save = NULL;
        if (!copy)
            break;
        for (char *l = strtok_r(copy, "\n", &save); l && !out[0]; l = strtok_r(NULL, "\n", &save)) {
            char spec[96], mp[96], type[32], fs[32], dev[48];
            if (*l == '#' || sscanf(l, "%95s %95s %31s", spec, mp, type) != 3 ||
                strncmp(spec, "/dev/", 5) != 0 || (pass == 0) != !strcmp(mp, "/"))
                continue;
            size_t k = strlen(spec);
            while (k && isdigit((unsigned char)spec[k - 1]))
                k--;
            if (k == strlen(spec) || k >= len || !kernel_name_at(spec))
                continue;
            snprintf(dev, sizeof dev, "/dev/sda%s", spec + k);
            if (pass == 1 && (p2v_lgfs_fstype(c->lg, dev, fs, sizeof fs) <= 0 || strcmp(fs, type) != 0))
                continue;
            memcpy(out, spec, k);
            out[k] = 0;
        }
        free(copy);
    }
    free(t);
    return out[0] != 0;
}


/* text with every /dev/sdXN of disk replaced by UUID=...; *unresolved
 * gets the first name that could not be (another disk). */
static char *rewrite(struct ctx *c, const char *text, const char *disk, char *unresolved,
                     size_t ulen)
{
    size_t cap = strlen(text) * 2 + 256, o = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (const char *p = text; *p;) {
        size_t tok = 0;
        if (kernel_name_at(p) && (p == text || !isalnum((unsigned char)p[-1]))) {
            tok = strcspn(p, " \t\n\"',;");
        }
        char dev[96], uuid[80];
        if (tok && tok < sizeof dev) {
            memcpy(dev, p, tok);
            dev[tok] = 0;
            size_t dl = strlen(disk);
            int ours = !strncmp(dev, disk, dl) && dev[dl] && isdigit((unsigned char)dev[dl]);
            char appliance[96];
            snprintf(appliance, sizeof appliance, "/dev/sda%s", dev + dl);
            if (ours && p2v_lgfs_uuid(c->lg, appliance, uuid, sizeof uuid)) {
                o += (size_t)snprintf(out + o, cap - o, "UUID=%s", uuid);
                p += tok;
                continue;
            }
            if (!unresolved[0])
                snprintf(unresolved, ulen, "%s", dev);
        }
        if (o + 2 >= cap) {
            char *t = realloc(out, cap *= 2);
            if (!t) {
                free(out);
                return NULL;
            }
            out = t;
        }
        out[o++] = *p++;
        out[o] = 0;
    }
    out[o] = 0;
    return out;
}

static int fx_linux_device_names(struct ctx *c)
{
    static const char *const files[] = { "/etc/fstab", "/etc/crypttab", "/etc/default/grub",
                                         "/boot/grub/grub.cfg", "/boot/grub2/grub.cfg",
                                         "/etc/initramfs-tools/conf.d/resume", "/etc/kernel/cmdline",
                                         NULL };
    char disk[64];
    if (!root_disk(c, disk, sizeof disk))
        snprintf(disk, sizeof disk, "/dev/sda");  /* no kernel name for /: nothing maps anyway */
    int r = 0;
    char **ents = NULL, *paths[64];
    size_t nents = 0, np = 0;
    for (int i = 0; files[i]; i++)
        paths[np++] = strdup(files[i]);
    if (p2v_lgfs_ls(c->lg, "/boot/loader/entries", &ents, &nents) == 0)
        for (size_t i = 0; i < nents && np < 64; i++)
            if (asprintf(&paths[np], "/boot/loader/entries/%s", ents[i]) >= 0)
                np++;
    p2v_strv_free(ents, nents);
    for (size_t i = 0; i < np && r == 0; i++) {
        const char *path = paths[i];
        char *text;
        size_t len;
        if (!path || p2v_lgfs_read(c->lg, path, &text, &len) < 0)
            continue;
        char unresolved[96] = "";
        char *out = rewrite(c, text, disk, unresolved, sizeof unresolved);
        if (!out) {
            free(text);
            r = -ENOMEM;
            break;
        }
        /* update-grub on the VM keeps UUIDs only if grub's defaults allow them. */
        char *dis = strstr(out, "\nGRUB_DISABLE_LINUX_UUID=true");
        if (!strcmp(path, "/etc/default/grub") && dis) {
            char *t;
            if (asprintf(&t, "%.*s\n#GRUB_DISABLE_LINUX_UUID=true  # p2v: device names change on "
                         "the VM%s", (int)(dis - out), out, dis + 29) >= 0) {
                free(out);
                out = t;
            }
        }
        if (strcmp(out, text) != 0)
            r = put_file(c, path, out);
        if (r == 0 && unresolved[0])
            r = fx_record(c, 0, unresolved, unresolved, "%s: %s is not on this disk (left as it is)",
                          path, unresolved);
        free(out);
        free(text);
    }
    for (size_t i = 0; i < np; i++)
        free(paths[i]);
    return r;
}

/* ---- linux-remove-package, linux-install-package PKG -------------------- */

static int dpkg_installed(struct ctx *c, const char *pkg)
{
    char *t;
    size_t n;
    if (p2v_lgfs_read(c->lg, "/var/lib/dpkg/status", &t, &n) < 0)
        return -1;
    int found = p2v_dpkg_installed(t, pkg);
    free(t);
    return found;
}

static int valid_pkg(const char *p)
{
    if (!*p || strlen(p) > 100)
        return 0;
    for (; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("+-._:", *p))
            return 0;
    return 1;
}

/* Whether pkg is installed, by dpkg's status or rpm: 1, 0; the package
 * manager in *deb.  -1 when the guest has neither. */
static int pkg_installed(struct ctx *c, const char *pkg, int *deb)
{
    int dpkg = dpkg_installed(c, pkg);
    *deb = dpkg >= 0;
    if (dpkg >= 0)
        return dpkg;
    char *o = NULL, cmd[160];
    snprintf(cmd, sizeof cmd, "command -v rpm >/dev/null || exit 2; rpm -q %s >/dev/null", pkg);
    int st = p2v_lgfs_sh(c->lg, cmd, &o);
    free(o);
    return st == 0 ? 1 : st == 1 ? 0 : -1;
}

/* linux-remove-package (install 0) and linux-install-package (install 1).
 * Removal purges with the guest's package manager.  Installation takes
 * the package files already on the disk, as the appliance has no network:
 * apt-get --no-download reads apt's cache, dnf --cacheonly its own, each
 * resolving the dependencies from there too. */
static int fx_linux_package(struct ctx *c, int install)
{
    const char *pkg = c->a->argv[1];
    if (!valid_pkg(pkg))
        return fx_fail(c, -EINVAL, "'%s' is not a package name", pkg);
    int deb;
    int have = pkg_installed(c, pkg, &deb);
    const char *want = install ? "installed" : "(absent)";
    if (have < 0 && !install)
        return fx_record(c, 0, "(absent)", "(absent)", "package %s", pkg);
    if (have < 0)
        return fx_fail(c, -ENOENT, "the guest has neither dpkg nor rpm to install %s with", pkg);
    if (have == install)
        return fx_record(c, 0, want, want, "package %s", pkg);
    char cmd[512];
    if (deb)
        snprintf(cmd, sizeof cmd, "DEBIAN_FRONTEND=noninteractive apt-get -y -q%s -o "
                 "Dpkg::Options::=--force-confdef %s %s",
                 install ? " --no-download --no-install-recommends" : "",
                 install ? "install" : "purge", pkg);
    else
        snprintf(cmd, sizeof cmd, install ? "dnf install -y -q --cacheonly %s" : "rpm -e %s", pkg);
    int r = fx_record(c, 1, install ? "(absent)" : "installed", want, "package %s", pkg);
    return r < 0 ? r : run_cmd(c, cmd);
}

/* ---- linux-initramfs DRIVER... ----------------------------------------- */

/* 1 if every kernel's initramfs holds each driver or has it built in. */
static int initramfs_ready(struct ctx *c)
{
    char **k;
    size_t nk;
    if (p2v_lgfs_ls(c->lg, "/lib/modules", &k, &nk) < 0)
        return 0;
    int ready = nk > 0;
    static const char *const forms[] = { "/boot/initrd.img-%s", "/boot/initramfs-%s.img",
                                         "/boot/initrd-%s", NULL };
    for (size_t i = 0; i < nk && ready; i++) {
        char path[256], *d = NULL, *builtin = NULL;
        size_t len;
        snprintf(path, sizeof path, "/lib/modules/%s/modules.builtin", k[i]);
        if (p2v_lgfs_read(c->lg, path, &builtin, &len) < 0)
            builtin = NULL;
        int found = 0;
        for (int f = 0; forms[f] && !found; f++) {
            snprintf(path, sizeof path, forms[f], k[i]);
            found = p2v_lgfs_read(c->lg, path, &d, &len) == 0;
        }
        struct p2v_initramfs ir;
        char why[256];
        int have = found && p2v_initramfs_read((const uint8_t *)d, len, &ir, why, sizeof why) == 0;
        ready = have;
        for (int a = 1; ready && a < c->a->argc; a++) {
            char mod[80];
            snprintf(mod, sizeof mod, "/%s.ko", c->a->argv[a]);
            ready = p2v_initramfs_has(&ir, c->a->argv[a]) || (builtin && strstr(builtin, mod));
        }
        if (have)
            p2v_initramfs_free(&ir);
        free(d);
        free(builtin);
    }
    p2v_strv_free(k, nk);
    return ready;
}

static int fx_linux_initramfs(struct ctx *c)
{
    for (int a = 1; a < c->a->argc; a++)
        if (!valid_pkg(c->a->argv[a]))
            return fx_fail(c, -EINVAL, "'%s' is not a module name", c->a->argv[a]);
    char list[512] = "";
    for (int a = 1; a < c->a->argc; a++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", a > 1 ? " " : "",
                 c->a->argv[a]);
    int r = 0;
    const char *cmd;
    char *text = NULL;
    size_t len;
    char epoch[64];
    snprintf(epoch, sizeof epoch, "SOURCE_DATE_EPOCH=%lld", (long long)c->in->time.tv_sec);
    char buf[4096];
    if (p2v_lgfs_exists(c->lg, "/usr/sbin/update-initramfs")) {
        /* initramfs-tools: /etc/initramfs-tools/modules, one module a line */
        if (p2v_lgfs_read(c->lg, "/etc/initramfs-tools/modules", &text, &len) < 0)
            text = strdup("");
        snprintf(buf, sizeof buf, "%s", text ? text : "");
        int added = 0;
        for (int a = 1; a < c->a->argc; a++) {
            char line[96];
            snprintf(line, sizeof line, "\n%s\n", c->a->argv[a]);
            char probe[4200];
            snprintf(probe, sizeof probe, "\n%s", buf);
            if (!strstr(probe, line)) {
                if (!added++ && buf[0] && buf[strlen(buf) - 1] != '\n')
                    strncat(buf, "\n", sizeof buf - strlen(buf) - 1);
                if (added == 1)
                    strncat(buf, "# p2v: the VM's storage drivers\n", sizeof buf - strlen(buf) - 1);
                strncat(buf, c->a->argv[a], sizeof buf - strlen(buf) - 2);
                strcat(buf, "\n");
            }
        }
        cmd = "update-initramfs -u -k all";
        if (added)
            r = put_file(c, "/etc/initramfs-tools/modules", buf);
    } else if (p2v_lgfs_exists(c->lg, "/usr/bin/dracut") || p2v_lgfs_exists(c->lg, "/usr/sbin/dracut")) {
        snprintf(buf, sizeof buf, "# p2v: the VM's storage drivers\nadd_drivers+=\" %s \"\n", list);
        r = put_file(c, "/etc/dracut.conf.d/p2v-virt.conf", buf);
        cmd = "dracut -f --reproducible --regenerate-all";
    } else if (p2v_lgfs_exists(c->lg, "/usr/bin/mkinitcpio")) {
        snprintf(buf, sizeof buf, "# p2v: the VM's storage drivers\nMODULES+=(%s)\n", list);
        r = put_file(c, "/etc/mkinitcpio.conf.d/p2v-virt.conf", buf);
        cmd = "mkinitcpio -P";
    } else {
        return fx_fail(c, -ENOENT, "no initramfs tool in the guest (update-initramfs, dracut or "
                       "mkinitcpio); install one on the source");
    }
    free(text);
    if (r < 0)
        return r;
    if (initramfs_ready(c))
        return fx_record(c, 0, list, list, "every kernel's initramfs holds");
    /* Each initramfs's hash before and after: what the record shows. */
    char **boot = NULL, *before[64] = { 0 };
    size_t nb = 0;
    if (p2v_lgfs_ls(c->lg, "/boot", &boot, &nb) < 0)
        nb = 0;
    for (size_t i = 0; i < nb && i < 64; i++) {
        char path[300];
        snprintf(path, sizeof path, "/boot/%s", boot[i]);
        char h[48];
        if (!strncmp(boot[i], "init", 4) && fx_lg_hash(c, path, h, sizeof h) == 0)
            before[i] = strdup(h);
    }
    if ((r = run_cmd_env(c, epoch, cmd)) == 0) {
        for (size_t i = 0; i < nb && i < 64 && r == 0; i++) {
            char path[300], h[48];
            snprintf(path, sizeof path, "/boot/%s", boot[i]);
            if (!before[i] || fx_lg_hash(c, path, h, sizeof h) < 0)
                continue;
            r = fx_record(c, strcmp(h, before[i]) != 0, before[i], h, "%s", path);
        }
    }
    for (size_t i = 0; i < 64; i++)
        free(before[i]);
    p2v_strv_free(boot, nb);
    if (r < 0)
        return r;
    if (!initramfs_ready(c))
        return fx_fail(c, -EIO, "after '%s', an initramfs still lacks one of %s (the kernel may "
                       "not have it as a module)", cmd, list);
    return fx_record(c, 1, "", list, "every kernel's initramfs holds");
}

/* ---- the session -------------------------------------------------------- */

int fx_guestfs_session(struct ctx *c, int linux)
{
    const char *tmp = getenv("TMPDIR");
    struct p2v_nbd *nbd = NULL;
    int r = p2v_nbd_start(c->in->disk, tmp && *tmp ? tmp : "/tmp", 0, &nbd);
    if (r < 0)
        return r;
    p2v_note("starting libguestfs's appliance on the overlay (about 30 s without KVM)");
    r = linux ? p2v_lgfs_open(p2v_nbd_socket(nbd), 0, &c->lg)
              : p2v_lgfs_launch(p2v_nbd_socket(nbd), 0, &c->lg);
    for (int i = 0; r == 0 && i < c->plan->n; i++) {
        const struct p2v_action *a = &c->plan->a[i];
        c->a = a;
        if (!strcmp(a->argv[0], "linux-nic"))
            r = fx_linux_nic(c);
        else if (!strcmp(a->argv[0], "linux-device-names"))
            r = fx_linux_device_names(c);
        else if (!strcmp(a->argv[0], "linux-remove-package"))
            r = fx_linux_package(c, 0);
        else if (!strcmp(a->argv[0], "linux-install-package"))
            r = fx_linux_package(c, 1);
        else if (!strcmp(a->argv[0], "linux-initramfs"))
            r = fx_linux_initramfs(c);
    }
    /* Last: it unmounts the guest's root to mount the ESP alone. */
    for (int i = 0; r == 0 && i < c->plan->n; i++)
        if (!strcmp(c->plan->a[i].argv[0], "efi-fallback")) {
            c->a = &c->plan->a[i];
            r = fx_efi_fallback(c);
        }
    if (c->lg) {
        int cr = p2v_lgfs_close(c->lg);
        c->lg = NULL;
        if (r == 0)
            r = cr;
    }
    int nr = p2v_nbd_stop(nbd);
    return r < 0 ? r : nr;
}
