/* The running machine, read from /proc, /sys and libraries (getifaddrs,
 * libblkid): no other program's output is parsed. */
#define _GNU_SOURCE
#include "inventory.h"

#include "core/log.h"
#include "layout/partitions.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

/* The first line of a small file, trimmed; "" when it cannot be read. */
static void read_line(const char *path, char *out, size_t len)
{
    out[0] = 0;
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    if (fgets(out, (int)len, f)) {
        size_t n = strlen(out);
        while (n && isspace((unsigned char)out[n - 1]))
            out[--n] = 0;
        size_t lead = strspn(out, " \t");
        memmove(out, out + lead, n - lead + 1);
    }
    fclose(f);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* "key\t: value" lines of /proc/cpuinfo. */
static void cpu_facts(struct p2v_machine *m)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    if (!f)
        return;
    char line[512];
    int ids[256], nids = 0, cores = 0, siblings = 0;
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        char *v = colon + 1;
        *colon = 0;
        v += strspn(v, " \t");
        v[strcspn(v, "\n")] = 0;
        for (char *e = colon - 1; e >= line && isspace((unsigned char)*e); e--)
            *e = 0;
        if (!strcmp(line, "processor")) {
            m->cpu.count++;
        } else if (!strcmp(line, "vendor_id") && !m->cpu.vendor[0]) {
            p2v_m_copy(m->cpu.vendor, sizeof m->cpu.vendor, v);
        } else if (!strcmp(line, "model name") && !m->cpu.model[0]) {
            p2v_m_copy(m->cpu.model, sizeof m->cpu.model, v);
        } else if (!strcmp(line, "physical id")) {
            int id = atoi(v), seen = 0;
            for (int i = 0; i < nids; i++)
                seen |= ids[i] == id;
            if (!seen && nids < 256)
                ids[nids++] = id;
        } else if (!strcmp(line, "cpu cores") && !cores) {
            cores = atoi(v);
        } else if (!strcmp(line, "siblings") && !siblings) {
            siblings = atoi(v);
        }
    }
    fclose(f);
    m->cpu.sockets = nids ? nids : 1;
    if (cores > 0 && siblings >= cores && m->cpu.sockets * siblings == m->cpu.count) {
        m->cpu.cores = cores;
        m->cpu.threads = siblings / cores;
    } else {
        /* No topology (some virtual CPUs, other architectures): one thread
         * per core, the cores split evenly over the sockets. */
        m->cpu.cores = m->cpu.count / m->cpu.sockets > 0 ? m->cpu.count / m->cpu.sockets : 1;
        m->cpu.threads = 1;
    }
}

static void memory_facts(struct p2v_machine *m)
{
    FILE *f = fopen("/proc/meminfo", "re");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemTotal: %" SCNu64 " kB", &m->memory_kib) == 1)
            break;
    fclose(f);
}

/* KEY="value" or KEY=value from an os-release file's text. */

static void os_facts(struct p2v_machine *m)
{
    p2v_m_copy(m->os.family, sizeof m->os.family, "linux");
    FILE *f = fopen("/etc/os-release", "re");
    if (!f)
        f = fopen("/usr/lib/os-release", "re");
    if (f) {
        char buf[8192];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
        p2v_os_release_value(buf, "PRETTY_NAME", m->os.name, sizeof m->os.name);
        p2v_os_release_value(buf, "ID", m->os.id, sizeof m->os.id);
        p2v_os_release_value(buf, "VERSION_ID", m->os.version, sizeof m->os.version);
    }
    struct utsname u;
    if (uname(&u) == 0) {
        p2v_m_copy(m->os.kernel, sizeof m->os.kernel, u.release);
        p2v_m_copy(m->os.arch, sizeof m->os.arch, u.machine);
        p2v_m_copy(m->cpu.arch, sizeof m->cpu.arch, u.machine);
    }
    if (gethostname(m->hostname, sizeof m->hostname) != 0)
        m->hostname[0] = 0;
    m->hostname[sizeof m->hostname - 1] = 0;
}

/* A file's whole text (up to 64 MiB); NULL when it cannot be read. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (len < cap || cap >= (64u << 20))
            break;
        char *more = realloc(buf, 2 * cap + 1);
        if (!more) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = more;
        cap *= 2;
    }
    fclose(f);
    if (buf)
        buf[len] = 0;
    return buf;
}

/* Storage drivers of the running kernel: loaded or built in as
 * /sys/module shows, or installed as modules.dep lists. */
static void driver_facts(struct p2v_machine *m)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "/lib/modules/%s/modules.dep", m->os.kernel);
    char *dep = slurp(path);
    for (int i = 0; p2v_linux_storage_drivers[i] && m->os.ndrivers < P2V_M_MAX_ITEMS; i++) {
        const char *name = p2v_linux_storage_drivers[i];
        snprintf(path, sizeof path, "/sys/module/%s", name);
        int loaded = exists(path);
        if (!loaded && !(dep && p2v_linux_module_listed(dep, name)))
            continue;
        struct p2v_m_driver *d = &m->os.driver[m->os.ndrivers++];
        p2v_m_copy(d->name, sizeof d->name, name);
        d->start = d->start_override = -1;
        d->file = P2V_YES;
        /* A loadable module has an initstate; a built-in one does not. */
        snprintf(path, sizeof path, "/sys/module/%s/initstate", name);
        d->builtin = loaded && !exists(path);
    }
    free(dep);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static struct p2v_m_nic *nic_named(struct p2v_machine *m, const char *name)
{
    for (int i = 0; i < m->nnics; i++)
        if (!strcmp(m->nic[i].name, name))
            return &m->nic[i];
    return NULL;
}

static int prefix_of(const struct sockaddr *mask)
{
    const unsigned char *p;
    size_t n;
    if (!mask)
        return -1;
    if (mask->sa_family == AF_INET) {
        p = (const unsigned char *)&((const struct sockaddr_in *)mask)->sin_addr;
        n = 4;
    } else {
        p = (const unsigned char *)&((const struct sockaddr_in6 *)mask)->sin6_addr;
        n = 16;
    }
    int bits = 0;
    for (size_t i = 0; i < n; i++)
        bits += __builtin_popcount(p[i]);
    return bits;
}

static void nic_facts(struct p2v_machine *m)
{
    struct dirent **ents;
    int n = scandir("/sys/class/net", &ents, NULL, by_name);
    for (int i = 0; i < n; i++) {
        const char *name = ents[i]->d_name;
        char path[PATH_MAX], buf[PATH_MAX];
        if (name[0] != '.' && strcmp(name, "lo") != 0 && m->nnics < P2V_M_MAX_NICS) {
            struct p2v_m_nic *nic = &m->nic[m->nnics++];
            p2v_m_copy(nic->name, sizeof nic->name, name);
            snprintf(path, sizeof path, "/sys/class/net/%s/address", name);
            read_line(path, nic->mac, sizeof nic->mac);
            if (strlen(nic->mac) != 17)
                nic->mac[0] = 0;  /* not Ethernet (tunnels): no MAC to keep */
            snprintf(path, sizeof path, "/sys/class/net/%s/device/driver", name);
            ssize_t k = readlink(path, buf, sizeof buf - 1);
            if (k > 0) {
                buf[k] = 0;
                p2v_m_copy(nic->driver, sizeof nic->driver, strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf);
            }
        }
        free(ents[i]);
    }
    if (n >= 0)
        free(ents);
    struct ifaddrs *ifa;
    if (getifaddrs(&ifa) != 0)
        return;
    for (struct ifaddrs *a = ifa; a; a = a->ifa_next) {
        if (!a->ifa_addr || (a->ifa_addr->sa_family != AF_INET && a->ifa_addr->sa_family != AF_INET6))
            continue;
        struct p2v_m_nic *nic = nic_named(m, a->ifa_name);
        if (!nic || nic->naddrs == P2V_M_MAX_ADDRS)
            continue;
        struct p2v_m_addr *ad = &nic->addr[nic->naddrs];
        const void *raw = a->ifa_addr->sa_family == AF_INET
            ? (const void *)&((struct sockaddr_in *)a->ifa_addr)->sin_addr
            : (const void *)&((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr;
        if (!inet_ntop(a->ifa_addr->sa_family, raw, ad->addr, sizeof ad->addr))
            continue;
        p2v_m_copy(ad->family, sizeof ad->family, a->ifa_addr->sa_family == AF_INET ? "ipv4" : "ipv6");
        ad->prefix = prefix_of(a->ifa_netmask);
        nic->naddrs++;
    }
    freeifaddrs(ifa);
}

/* Fills a disk's table and filesystems from what libblkid says. */

static void disk_facts(struct p2v_machine *m)
{
    struct dirent **ents;
    int n = scandir("/sys/block", &ents, NULL, by_name);
    for (int i = 0; i < n; i++) {
        const char *name = ents[i]->d_name;
        char path[PATH_MAX], buf[64];
        snprintf(path, sizeof path, "/sys/block/%s/device", name);
        /* Disks on a bus (and md arrays); not loop, ram, zram or dm. */
        int real = name[0] != '.' && (exists(path) || !strncmp(name, "md", 2));
        snprintf(path, sizeof path, "/sys/block/%s/size", name);
        read_line(path, buf, sizeof buf);
        uint64_t sectors = strtoull(buf, NULL, 10);
        if (real && sectors && m->ndisks < P2V_M_MAX_DISKS) {
            struct p2v_m_disk *d = &m->disk[m->ndisks++];
            p2v_m_copy(d->name, sizeof d->name, name);
            snprintf(d->path, sizeof d->path, "/dev/%.200s", name);
            d->size = sectors * 512;  /* sysfs counts 512-byte units whatever the device */
            snprintf(path, sizeof path, "/sys/block/%s/queue/logical_block_size", name);
            read_line(path, buf, sizeof buf);
            d->logical_sector = (unsigned)strtoul(buf, NULL, 10) == 4096 ? 4096 : 512;
            snprintf(path, sizeof path, "/sys/block/%s/device/model", name);
            read_line(path, d->model, sizeof d->model);
            snprintf(path, sizeof path, "/sys/block/%s/device/serial", name);
            read_line(path, d->serial, sizeof d->serial);
            if (!d->serial[0]) {
                snprintf(path, sizeof path, "/sys/block/%s/serial", name);  /* virtio */
                read_line(path, d->serial, sizeof d->serial);
            }
            struct p2v_partition_table *t = calloc(1, sizeof *t);
            /* A disk that cannot be read (no permission, no medium) is still
             * listed, without its table. */
            int fd = open(d->path, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                p2v_warn("%s: %s; its partition table is left out of the inventory", d->path,
                         strerror(errno));
            else
                close(fd);
            if (t && fd >= 0 && p2v_partitions_probe(d->path, d->path, d->size, 0, t) == 0)
                p2v_machine_table(d, t);
            else
                p2v_m_copy(d->table, sizeof d->table, "none");
            free(t);
        }
        free(ents[i]);
    }
    if (n >= 0)
        free(ents);
}

int p2v_inventory_local(struct p2v_machine *m)
{
    memset(m, 0, sizeof *m);
    p2v_m_copy(m->origin, sizeof m->origin, "running");
    cpu_facts(m);
    memory_facts(m);
    os_facts(m);
    driver_facts(m);
    p2v_m_copy(m->firmware, sizeof m->firmware, exists("/sys/firmware/efi") ? "uefi" : "bios");
    m->acpi = exists("/sys/firmware/acpi") ? P2V_YES : P2V_NO;
    nic_facts(m);
    disk_facts(m);
    if (!m->cpu.count || !m->memory_kib) {
        p2v_err("reading /proc/cpuinfo and /proc/meminfo failed: is /proc mounted?");
        return -EIO;
    }
    return 0;
}
