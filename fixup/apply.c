#define _GNU_SOURCE
#include "apply_ctx.h"
#include "plan_files.h"

#include "core/bytes.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fx_record(struct ctx *c, int changed, const char *old, const char *new_, const char *fmt, ...)
{
    struct p2v_change *n = realloc(c->out->c, (size_t)(c->out->n + 1) * sizeof *n);
    if (!n)
        return -ENOMEM;
    c->out->c = n;
    struct p2v_change *ch = &n[c->out->n];
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(&ch->what, fmt, ap);
    va_end(ap);
    ch->old = strdup(old);
    ch->new_ = strdup(new_);
    if (r < 0 || !ch->old || !ch->new_) {
        if (r >= 0)
            free(ch->what);
        free(ch->old);
        free(ch->new_);
        return -ENOMEM;
    }
    ch->line = c->a->line;
    ch->action = c->a->argv[0];
    ch->changed = changed;
    c->out->n++;
    return 0;
}

int fx_fail(struct ctx *c, int r, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p2v_err("plan %s line %d (%s): %s", c->plan->path, c->a->line, c->a->argv[0], msg);
    return r;
}

/* ---- boot sectors ---- */

/* NTFS boot sectors (primary and backup) must say where their partition
 * starts; a disk imaged from another place may not. */
static int boot_geometry(struct ctx *c)
{
    struct p2v_layer *d = c->in->disk;
    for (int i = 0; i < c->in->nvols; i++) {
        const struct p2v_volume *v = &c->in->vols[i];
        if (strcmp(v->fstype, "ntfs") != 0)
            continue;
        uint8_t b[512];
        int r = p2v_layer_read(d, b, 512, v->start);
        if (r < 0)
            return r;
        uint64_t backup = get_le64(b + 0x28) * 512;
        uint64_t at[2] = { v->start, backup + 512 <= v->size ? v->start + backup : 0 };
        uint32_t want = (uint32_t)(v->start / 512);
        for (int k = 0; k < 2 && at[k]; k++) {
            uint8_t cur[4], orig[4] = { 0 };
            if ((r = p2v_layer_read(d, cur, 4, at[k] + 0x1c)) < 0)
                return r;
            /* What the source had, before the disk layout moved anything. */
            uint64_t src = at[k] + 0x1c - c->in->base_shift;
            if (at[k] >= c->in->base_shift && src + 4 <= c->in->base->size &&
                (r = p2v_layer_read(c->in->base, orig, 4, src)) < 0)
                return r;
            if (get_le32(cur) != want) {
                uint8_t w4[4];
                put_le32(w4, want);
                if ((r = p2v_layer_write(d, w4, 4, at[k] + 0x1c)) < 0)
                    return r;
            }
            char o[32], n[32];
            snprintf(o, sizeof o, "%u", get_le32(orig));
            snprintf(n, sizeof n, "%u", want);
            r = fx_record(c, get_le32(orig) != want, o, n,
                       "partition %d %s boot sector (byte %llu): hidden sectors", v->number,
                       k ? "backup" : "primary", (unsigned long long)at[k]);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

/* ---- the plan ---- */

static int run(struct ctx *c, const struct p2v_action *a)
{
    c->a = a;
    const char *n = a->argv[0];
    if (!strcmp(n, "enable-driver"))
        return fx_enable_driver(c);
    if (!strcmp(n, "inject-driver"))
        return fx_inject_driver(c);
    if (!strcmp(n, "disable-service"))
        return fx_disable_service(c, a->argv[1]);
    if (!strcmp(n, "disable-vendor-services"))
        return fx_disable_vendor_services(c);
    if (!strcmp(n, "no-auto-reboot")) {
        char key[96];
        snprintf(key, sizeof key, "%s\\Control\\CrashControl", c->w->ccs);
        return fx_reg_dword(c, SYSTEM, key, "AutoReboot", 0);
    }
    if (!strcmp(n, "reg-set"))
        return fx_reg_set(c);
    if (!strcmp(n, "reg-delete"))
        return fx_reg_delete(c);
    if (!strcmp(n, "file-put") || !strcmp(n, "file-delete")) {
        char gp[1024];
        fx_guest_path(c, a->argv[a->argc - 1], gp, sizeof gp);
        if (n[5] == 'd')
            return fx_file_del(c, gp);
        uint8_t *d;
        size_t len;
        int r = fx_read_local(c, a->argv[1], &d, &len);
        if (r == 0)
            r = fx_file_put(c, gp, d, len);
        free(d);
        return r;
    }
    if (!strcmp(n, "firstboot"))
        return fx_firstboot(c);
    if (!strcmp(n, "uninstall-program"))
        return fx_uninstall_program(c);
    return 0;  /* boot-geometry: after the volume is closed */
}

/* Missing or forbidden local files are refused before anything is changed
 * (plan_files.c says which are forbidden). */
static int check_files(const struct p2v_plan *plan)
{
    for (int i = 0; i < plan->n; i++) {
        const struct p2v_action *a = &plan->a[i];
        int first = 0, last = -1;
        if (!strcmp(a->argv[0], "inject-driver")) {
            first = 2;
            last = a->argc > 3 && strncmp(a->argv[3], "pci=", 4) && strncmp(a->argv[3], "class=", 6) ? 3 : 2;
        } else if (!strcmp(a->argv[0], "file-put") || !strcmp(a->argv[0], "firstboot") ||
                   (!strcmp(a->argv[0], "disable-vendor-services") && a->argc > 1)) {
            first = last = 1;
        }
        for (int k = first; k <= last; k++) {
            char *p = p2v_plan_file(plan, a->argv[k]);
            int fd = -1;
            int r = p ? p2v_plan_open_local(plan, a, p, &fd) : -ENOMEM;
            if (fd >= 0)
                close(fd);
            free(p);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

/* Every action but boot-geometry and file actions on "N:/path" works in
 * Windows. */
static int need_windows(const struct p2v_plan *plan)
{
    int need = 0;
    for (int i = 0; i < plan->n; i++) {
        const struct p2v_action *a = &plan->a[i];
        char *end;
        int on_partition = (!strcmp(a->argv[0], "file-put") || !strcmp(a->argv[0], "file-delete")) &&
                           strtol(a->argv[a->argc - 1], &end, 10) >= 0 && end != a->argv[a->argc - 1] && *end == ':';
        need |= strcmp(a->argv[0], "boot-geometry") != 0 && !on_partition &&
                strncmp(a->argv[0], "linux-", 6) != 0 && strcmp(a->argv[0], "efi-fallback") != 0;
    }
    return need;
}

/* What writes into the guest's filesystems: Windows found (its volume
 * opened read-write), the actions, the edited hives saved, every volume
 * closed (which flushes it).  libntfs-3g stamps what it writes with the
 * current time, so the wall clock is pinned to in->time for exactly this
 * long: the same source and plan give the same image, and nothing else in
 * the process sees a frozen clock.  The hive edits are tried first in a
 * forked twin (guest/shadow.c), forked in here, which inherits the pin. */
static int guest_writes(struct ctx *c, int windows)
{
    const struct p2v_apply_in *in = c->in;
    int r = 0;
    p2v_clock_pin(&in->time);
    if (windows) {
        r = p2v_windows_find(in->disk, in->vols, in->nvols, in->name,
                             P2V_WIN_RW | in->windows_flags, c->w, &c->gfs);
        if (r == -ENOENT)
            p2v_err("%s: the plan edits Windows, but no Windows was found (no NTFS volume "
                    "with Windows/System32/config and cmd.exe)", in->name);
    }
    for (int i = 0; r == 0 && i < c->plan->n; i++)
        r = run(c, &c->plan->a[i]);
    /* Edited hives go back into the guest as whole files. */
    for (int h = 0; h < NHIVES; h++) {
        if (r == 0 && c->dirty[h]) {
            uint8_t *d;
            size_t len;
            char path[64];
            p2v_windows_hive_path(c->w, fx_hive_names[h], path, sizeof path);
            if ((r = p2v_hive_save(c->hive[h], &d, &len)) == 0) {
                r = p2v_gfs_write(c->gfs, path, d, len);
                free(d);
            }
        }
        p2v_hive_close(c->hive[h]);
    }
    if (c->gfs) {
        int cr = p2v_gfs_close(c->gfs);
        if (r == 0)
            r = cr;
    }
    for (int i = 0; i < c->nopen; i++) {
        int cr = p2v_gfs_close(c->open[i].g);
        if (r == 0)
            r = cr;
    }
    p2v_clock_unpin();
    /* The appliance's actions, once the filesystems p2v opened itself are
     * closed (they may share the disk; not a volume). */
    int lin = 0, efi = 0;
    for (int i = 0; i < c->plan->n; i++) {
        lin |= !strncmp(c->plan->a[i].argv[0], "linux-", 6);
        efi |= !strcmp(c->plan->a[i].argv[0], "efi-fallback");
    }
    if (r == 0 && (lin || efi))
        r = fx_guestfs_session(c, lin);
    return r;
}

int p2v_apply(const struct p2v_apply_in *in, const struct p2v_plan *plan,
              struct p2v_changes *out, struct p2v_windows *w)
{
    memset(out, 0, sizeof *out);
    struct ctx c = { .in = in, .plan = plan, .w = w, .out = out };
    int r = check_files(plan);
    if (r == 0)
        r = guest_writes(&c, need_windows(plan));
    /* The boot sectors are written straight to the disk, not through a
     * filesystem: no time is stamped on them. */
    for (int i = 0; r == 0 && i < plan->n; i++)
        if (!strcmp(plan->a[i].argv[0], "boot-geometry")) {
            c.a = &plan->a[i];
            r = boot_geometry(&c);
        }
    if (r < 0) {
        p2v_changes_free(out);
        return r;
    }
    /* In plan order: boot-geometry ran last but is reported at its line. */
    for (int i = 1; i < out->n; i++)
        for (int k = i; k > 0 && out->c[k - 1].line > out->c[k].line; k--) {
            struct p2v_change t = out->c[k];
            out->c[k] = out->c[k - 1];
            out->c[k - 1] = t;
        }
    return 0;
}

void p2v_changes_free(struct p2v_changes *c)
{
    for (int i = 0; i < c->n; i++) {
        free(c->c[i].what);
        free(c->c[i].old);
        free(c->c[i].new_);
    }
    free(c->c);
    c->c = NULL;
    c->n = 0;
}

void p2v_change_json(struct p2v_json *j, const struct p2v_change *ch)
{
    p2v_json_object(j, NULL);
    p2v_json_int(j, "line", ch->line);
    p2v_json_str(j, "action", ch->action);
    p2v_json_str(j, "what", ch->what);
    p2v_json_str(j, "old", ch->old);
    p2v_json_str(j, "new", ch->new_);
    p2v_json_bool(j, "changed", ch->changed);
    p2v_json_end(j);
}

void p2v_changes_json(struct p2v_json *j, const struct p2v_changes *c)
{
    p2v_json_array_lines(j, "changes");
    for (int i = 0; i < c->n; i++)
        p2v_change_json(j, &c->c[i]);
    p2v_json_end(j);
}

void p2v_changes_text(FILE *f, const struct p2v_changes *c)
{
    int changed = 0;
    for (int i = 0; i < c->n; i++) {
        const struct p2v_change *ch = &c->c[i];
        changed += ch->changed;
        fprintf(f, "%4d %-22s %s\n", ch->line, ch->action, ch->what);
        if (ch->changed)
            fprintf(f, "     %-22s %s -> %s\n", "", ch->old, ch->new_);
        else
            fprintf(f, "     %-22s unchanged (%s)\n", "", ch->new_);
    }
    fprintf(f, "%d change%s, %d already in place\n", changed, changed == 1 ? "" : "s",
            c->n - changed);
}
