/* libguestfs session on a Linux guest (linux_guestfs.h). */
#define _GNU_SOURCE
#include "guest/linux_guestfs.h"

#include "core/log.h"

#include <errno.h>
#include <guestfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct p2v_lgfs {
    guestfs_h *g;
    char *root, *distro;
};

static int open_session(const char *nbd_socket, int ro, int find_linux, struct p2v_lgfs **out);

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static int fail(guestfs_h *g, const char *what)
{
    const char *e = guestfs_last_error(g);
    p2v_err("libguestfs: %s: %s", what, e ? e : "failed");
    return -EIO;
}

/* Longest mount point last: "/" before "/boot" before "/boot/efi". */
static int by_depth(const void *a, const void *b)
{
    return (int)strlen(((char *const *)a)[0]) - (int)strlen(((char *const *)b)[0]);
}

static int mount_all(struct p2v_lgfs *s, int ro)
{
    char **mp = guestfs_inspect_get_mountpoints(s->g, s->root);
    if (!mp)
        return fail(s->g, "listing the guest's mount points");
    size_t n = 0;
    while (mp[n])
        n += 2;
    qsort(mp, n / 2, 2 * sizeof *mp, by_depth);
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i += 2) {
        int e = ro ? guestfs_mount_ro(s->g, mp[i + 1], mp[i]) : guestfs_mount(s->g, mp[i + 1], mp[i]);
        /* / must mount; another filesystem that does not (swap listed
         * as a mount point, an absent disk) is left out, as the guest
         * would boot without it too. */
        if (e < 0 && !strcmp(mp[i], "/"))
            r = fail(s->g, "mounting the root filesystem");
        else if (e < 0)
            p2v_warn("the guest's %s (%s) cannot be mounted; changes under it are not made",
                     mp[i], mp[i + 1]);
    }
    free_strv(mp);
    return r;
}

int p2v_lgfs_open(const char *nbd_socket, int ro, struct p2v_lgfs **out)
{
    return open_session(nbd_socket, ro, 1, out);
}

int p2v_lgfs_launch(const char *nbd_socket, int ro, struct p2v_lgfs **out)
{
    return open_session(nbd_socket, ro, 0, out);
}

static int open_session(const char *nbd_socket, int ro, int find_linux, struct p2v_lgfs **out)
{
    struct p2v_lgfs *s = calloc(1, sizeof *s);
    if (!s || !(s->g = guestfs_create())) {
        free(s);
        p2v_err("libguestfs: cannot create a handle");
        return -ENOMEM;
    }
    char server[4300];
    snprintf(server, sizeof server, "unix:%s", nbd_socket);
    const char *servers[] = { server, NULL };
    int r = 0;
    guestfs_set_error_handler(s->g, NULL, NULL);  /* errors are reported by fail() */
    if (guestfs_add_drive_opts(s->g, "", GUESTFS_ADD_DRIVE_OPTS_FORMAT, "raw",
                               GUESTFS_ADD_DRIVE_OPTS_PROTOCOL, "nbd",
                               GUESTFS_ADD_DRIVE_OPTS_SERVER, servers,
                               GUESTFS_ADD_DRIVE_OPTS_READONLY, ro, -1) < 0)
        r = fail(s->g, "adding the disk");
    if (r == 0 && guestfs_launch(s->g) < 0) {
        r = fail(s->g, "starting the appliance");
        p2v_err("libguestfs's appliance needs a Linux kernel on this machine (apt-get install "
                "linux-image-amd64, or SUPERMIN_KERNEL and SUPERMIN_MODULES naming one); "
                "'libguestfs-test-tool' shows what is missing");
    }
    char **roots = r == 0 && find_linux ? guestfs_inspect_os(s->g) : NULL;
    if (r == 0 && find_linux && !roots)
        r = fail(s->g, "inspecting the disk");
    for (size_t i = 0; r == 0 && roots && roots[i] && !s->root; i++) {
        char *type = guestfs_inspect_get_type(s->g, roots[i]);
        if (type && !strcmp(type, "linux"))
            s->root = strdup(roots[i]);
        free(type);
    }
    free_strv(roots);
    if (r == 0 && find_linux && !s->root) {
        p2v_err("no Linux operating system found on the disk (libguestfs's inspection)");
        r = -ENOENT;
    }
    if (r == 0 && find_linux) {
        s->distro = guestfs_inspect_get_distro(s->g, s->root);
        r = mount_all(s, ro);
    }
    if (r < 0) {
        guestfs_close(s->g);
        free(s->root);
        free(s->distro);
        free(s);
        return r;
    }
    *out = s;
    return 0;
}

int p2v_lgfs_close(struct p2v_lgfs *s)
{
    if (!s)
        return 0;
    int r = 0;
    if (guestfs_umount_all(s->g) < 0 || guestfs_shutdown(s->g) < 0)
        r = fail(s->g, "closing the guest (its last writes may be lost)");
    guestfs_close(s->g);
    free(s->root);
    free(s->distro);
    free(s);
    return r;
}

const char *p2v_lgfs_distro(const struct p2v_lgfs *s) { return s->distro ? s->distro : ""; }
const char *p2v_lgfs_root(const struct p2v_lgfs *s) { return s->root; }

int p2v_lgfs_exists(struct p2v_lgfs *s, const char *path)
{
    return guestfs_exists(s->g, path) > 0;
}

int p2v_lgfs_read(struct p2v_lgfs *s, const char *path, char **data, size_t *len)
{
    if (guestfs_is_file_opts(s->g, path, GUESTFS_IS_FILE_OPTS_FOLLOWSYMLINKS, 1, -1) <= 0)
        return -ENOENT;
    size_t n;
    char *d = guestfs_read_file(s->g, path, &n);
    if (!d)
        return fail(s->g, path);
    char *t = realloc(d, n + 1);
    if (!t) {
        free(d);
        return -ENOMEM;
    }
    t[n] = 0;
    *data = t;
    *len = n;
    return 0;
}

int p2v_lgfs_write(struct p2v_lgfs *s, const char *path, const char *data, size_t len)
{
    return guestfs_write(s->g, path, data, len) < 0 ? fail(s->g, path) : 0;
}

int p2v_lgfs_ls(struct p2v_lgfs *s, const char *dir, char ***names, size_t *n)
{
    if (guestfs_is_dir_opts(s->g, dir, GUESTFS_IS_DIR_OPTS_FOLLOWSYMLINKS, 1, -1) <= 0)
        return -ENOENT;
    char **v = guestfs_ls(s->g, dir);
    if (!v)
        return fail(s->g, dir);
    *n = 0;
    while (v[*n])
        (*n)++;
    *names = v;
    return 0;
}

int p2v_lgfs_sh(struct p2v_lgfs *s, const char *cmd, char **out)
{
    char *full;
    /* The exit status travels in the output: guestfs_sh itself fails on
     * a non-zero status and keeps only stderr. */
    if (asprintf(&full, "export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C; "
                        "{ %s ; } 2>&1; echo \"p2v-exit:$?\"", cmd) < 0)
        return -ENOMEM;
    char *o = guestfs_sh(s->g, full);
    free(full);
    if (!o)
        return fail(s->g, cmd);
    char *mark = strstr(o, "p2v-exit:"), *last = NULL;
    while (mark) {
        last = mark;
        mark = strstr(mark + 1, "p2v-exit:");
    }
    int st = last ? atoi(last + 9) : 255;
    if (last)
        *last = 0;
    *out = o;
    return st;
}

int p2v_lgfs_uuid(struct p2v_lgfs *s, const char *dev, char *out, size_t len)
{
    char *u = guestfs_vfs_uuid(s->g, dev);
    int ok = u && u[0];
    if (ok)
        snprintf(out, len, "%s", u);
    free(u);
    return ok;
}

/* The partition type GUID of an EFI System Partition (UEFI spec). */
#define ESP_TYPE "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"

int p2v_lgfs_mount_esp(struct p2v_lgfs *s, char *dev, size_t len)
{
    char **parts = guestfs_list_partitions(s->g);
    if (!parts)
        return fail(s->g, "listing the disk's partitions");
    int found = 0;
    for (size_t i = 0; parts[i] && !found; i++) {
        int n = guestfs_part_to_partnum(s->g, parts[i]);
        char *disk = n > 0 ? guestfs_part_to_dev(s->g, parts[i]) : NULL;
        char *type = disk ? guestfs_part_get_gpt_type(s->g, disk, n) : NULL;
        if (type && !strcasecmp(type, ESP_TYPE)) {
            snprintf(dev, len, "%s", parts[i]);
            found = 1;
        }
        free(type);
        free(disk);
    }
    free_strv(parts);
    if (!found)
        return -ENOENT;
    if (guestfs_umount_all(s->g) < 0)
        return fail(s->g, "unmounting the guest's filesystems");
    if (guestfs_mount(s->g, dev, "/") < 0)
        return fail(s->g, "mounting the EFI System Partition");
    return 0;
}

int p2v_lgfs_copy(struct p2v_lgfs *s, const char *from, const char *to)
{
    char *dir = strdup(to), *slash = dir ? strrchr(dir, '/') : NULL;
    if (!dir)
        return -ENOMEM;
    if (slash && slash != dir) {
        *slash = 0;
        if (guestfs_mkdir_p(s->g, dir) < 0) {
            free(dir);
            return fail(s->g, to);
        }
    }
    free(dir);
    return guestfs_cp(s->g, from, to) < 0 ? fail(s->g, to) : 0;
}

int p2v_lgfs_sha256(struct p2v_lgfs *s, const char *path, char *out, size_t len)
{
    if (guestfs_is_file_opts(s->g, path, GUESTFS_IS_FILE_OPTS_FOLLOWSYMLINKS, 1, -1) <= 0)
        return -ENOENT;
    char *h = guestfs_checksum(s->g, "sha256", path);
    if (!h)
        return fail(s->g, path);
    snprintf(out, len, "%s", h);
    free(h);
    return 0;
}

int p2v_lgfs_fstype(struct p2v_lgfs *s, const char *dev, char *out, size_t len)
{
    guestfs_push_error_handler(s->g, NULL, NULL);
    char *t = guestfs_vfs_type(s->g, dev);
    guestfs_pop_error_handler(s->g);
    int ok = t && t[0];
    if (ok)
        snprintf(out, len, "%s", t);
    free(t);
    return ok;
}
