#define _GNU_SOURCE
#include "lvm.h"

#include "core/log.h"
#include "core/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* lvcreate can wait for udev and for a large origin: generous. */
#define LVM_TIMEOUT_MS (5 * 60 * 1000)

static int read_attr(dev_t rdev, const char *attr, char *out, size_t len)
{
    char f[96];
    snprintf(f, sizeof f, "/sys/dev/block/%u:%u/dm/%s", major(rdev), minor(rdev), attr);
    FILE *fp = fopen(f, "re");
    if (!fp)
        return -1;
    char *got = fgets(out, (int)len, fp);
    fclose(fp);
    if (!got)
        return -1;
    out[strcspn(out, "\n")] = 0;
    return 0;
}

int p2v_lvm_is_lv(dev_t rdev, char *vg, size_t vglen, char *lv, size_t lvlen)
{
    char uuid[160], name[256];
    if (read_attr(rdev, "uuid", uuid, sizeof uuid) < 0 || strncmp(uuid, "LVM-", 4) ||
        read_attr(rdev, "name", name, sizeof name) < 0)
        return 0;
    /* device-mapper names LVs "VG-LV" with every '-' inside a name doubled. */
    size_t i = 0, o = 0;
    char *dst = vg;
    size_t cap = vglen;
    for (; name[i]; i++) {
        if (name[i] == '-' && name[i + 1] == '-') {
            i++;
        } else if (name[i] == '-' && dst == vg) {
            dst[o] = 0;
            dst = lv;
            cap = lvlen;
            o = 0;
            continue;
        }
        if (o + 1 < cap)
            dst[o++] = name[i];
    }
    dst[o] = 0;
    return dst == lv && vg[0] && lv[0];
}

static const char *find_tool(const char *name, char *buf, size_t len)
{
    static const char *const dirs[] = { "/usr/sbin", "/sbin", "/usr/bin", "/bin" };
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(buf, len, "%s/%s", dirs[i], name);
        if (access(buf, X_OK) == 0)
            return buf;
    }
    return NULL;
}

int p2v_lvm_available(char *why, size_t len)
{
    char tool[64];
    int fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, len, "device-mapper not available (/dev/mapper/control: %s)",
                 strerror(errno));
        return 0;
    }
    close(fd);
    if (!find_tool("lvcreate", tool, sizeof tool)) {
        snprintf(why, len, "lvcreate not installed (Debian package lvm2)");
        return 0;
    }
    return 1;
}

int p2v_lvm_create(const char *vg, const char *lv, const char *id, const char *size,
                   char *path, size_t plen, char *name, size_t nlen)
{
    char tool[64], snap[64], origin[600], extents[64];
    if (!find_tool("lvcreate", tool, sizeof tool)) {
        p2v_err("lvcreate not found: install lvm2");
        return -ENOENT;
    }
    snprintf(snap, sizeof snap, "p2v-snap-%s", id);
    snprintf(origin, sizeof origin, "%s/%s", vg, lv);
    snprintf(extents, sizeof extents, "%s", size ? size : "20%ORIGIN");
    const char *flag = strchr(extents, '%') ? "--extents" : "--size";
    char *argv[] = { tool, "--snapshot", "--name", snap, (char *)flag, extents,
                     "--permission", "r", origin, NULL };
    int r = p2v_spawn(argv, NULL, LVM_TIMEOUT_MS);
    if (r != 0) {
        p2v_err("lvcreate --snapshot of %s failed (%s); is there free space in volume group "
                "%s? (--snapshot-size sets the copy-on-write size)", origin,
                r > 0 ? "see its message above" : strerror(-r), vg);
        return r > 0 ? -EIO : r;
    }
    snprintf(path, plen, "/dev/%s/%s", vg, snap);
    snprintf(name, nlen, "%s/%s", vg, snap);
    return 0;
}

int p2v_lvm_remove(const char *name)
{
    char tool[64];
    if (!find_tool("lvremove", tool, sizeof tool))
        return -ENOENT;
    char *argv[] = { tool, "--yes", "--force", (char *)name, NULL };
    int r = p2v_spawn(argv, NULL, LVM_TIMEOUT_MS);
    if (r != 0) {
        p2v_err("lvremove %s failed; remove it by hand (lvremove %s)", name, name);
        return r > 0 ? -EIO : r;
    }
    return 0;
}
