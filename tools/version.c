/* p2v version: p2v's version and those of the libraries it runs with.
 * A library that can say its version at run time is asked (the one the
 * dynamic linker chose); for the others the Makefile passes the version
 * pkg-config found at build time, marked as such. */
#include "commands.h"

#include "core/json.h"

#include <archive.h>
#include <blkid/blkid.h>
#include <ext2fs/ext2fs.h>
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <getopt.h>
#include <guestfs.h>
#include <libvhdi.h>
#include <libxml/parser.h>
#include <nettle/version.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#ifndef P2V_BUILT_NTFS3G
#define P2V_BUILT_NTFS3G "unknown"
#endif
#ifndef P2V_BUILT_HIVEX
#define P2V_BUILT_HIVEX "unknown"
#endif
#ifndef P2V_BUILT_UUID
#define P2V_BUILT_UUID "unknown"
#endif

struct lib_version {
    const char *name;
    char version[64];
    int built;  /* only the build-time version is known */
};

enum { N_LIBS = 11 };

static void set(struct lib_version *l, const char *name, const char *v, int built)
{
    l->name = name;
    snprintf(l->version, sizeof l->version, "%s", v && *v ? v : "unknown");
    l->built = built;
}

/* libguestfs says its version through a handle; one without an appliance
 * costs no launch. */
static void guestfs_lib(struct lib_version *l)
{
    set(l, "libguestfs", "unknown", 0);
    guestfs_h *g = guestfs_create_flags(GUESTFS_CREATE_NO_ENVIRONMENT | GUESTFS_CREATE_NO_CLOSE_ON_EXIT);
    if (!g)
        return;
    guestfs_set_error_handler(g, NULL, NULL);
    struct guestfs_version *v = guestfs_version(g);
    if (v) {
        snprintf(l->version, sizeof l->version, "%lld.%lld.%lld%s", (long long)v->major,
                 (long long)v->minor, (long long)v->release, v->extra ? v->extra : "");
        guestfs_free_version(v);
    }
    guestfs_close(g);
}

static void collect(struct lib_version *l)
{
    const char *s = NULL;
    char buf[32];
    set(&l[0], "libfuse3", fuse_pkgversion(), 0);
    set(&l[1], "libntfs-3g", P2V_BUILT_NTFS3G, 1);
    set(&l[2], "hivex", P2V_BUILT_HIVEX, 1);
    set(&l[3], "libvhdi", libvhdi_get_version(), 0);
    if (blkid_get_library_version(&s, NULL) < 0)
        s = NULL;
    set(&l[4], "libblkid", s, 0);
    s = NULL;
    ext2fs_get_library_version(&s, NULL);
    set(&l[5], "libext2fs", s, 0);
    set(&l[6], "libuuid", P2V_BUILT_UUID, 1);
    guestfs_lib(&l[7]);
    /* libxml2 says 20914 for 2.9.14; libarchive "libarchive 3.6.2". */
    long x = atol(xmlParserVersion);
    snprintf(buf, sizeof buf, "%ld.%ld.%ld", x / 10000, x / 100 % 100, x % 100);
    set(&l[8], "libxml2", buf, 0);
    s = archive_version_string();
    if (s && !strncmp(s, "libarchive ", 11))
        s += 11;
    set(&l[9], "libarchive", s, 0);
    snprintf(buf, sizeof buf, "%d.%d", nettle_version_major(), nettle_version_minor());
    set(&l[10], "nettle", buf, 0);
}

static void version_usage(FILE *f)
{
    fputs("usage: p2v version [--json]\n"
          "Prints p2v's version (as p2v --version and p2v -V do) and the versions of\n"
          "the libraries it runs with: what each library reports at run time, or, for\n"
          "those that cannot say (marked 'built with'), the version p2v was built\n"
          "against.\n"
          "      --json                machine-readable output\n", f);
}

int cmd_version(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int json = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'h': version_usage(stdout); return 0;
        default:
            fprintf(stderr, "p2v version: unknown option '%s'\n", argv[optind - 1]);
            version_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "p2v version: takes no arguments ('%s')\n", argv[optind]);
        return 2;
    }
    struct lib_version libs[N_LIBS];
    collect(libs);
    /* zlib is libarchive's and libxml2's as well as ours: shown last. */
    if (json) {
        struct p2v_json j;
        p2v_json_init(&j, stdout);
        p2v_json_object(&j, NULL);
        p2v_json_str(&j, "version", P2V_VERSION);
        p2v_json_array_lines(&j, "libraries");
        for (int i = 0; i < N_LIBS; i++) {
            p2v_json_object(&j, NULL);
            p2v_json_str(&j, "name", libs[i].name);
            p2v_json_str(&j, "version", libs[i].version);
            p2v_json_bool(&j, "build_time", libs[i].built);
            p2v_json_end(&j);
        }
        p2v_json_object(&j, NULL);
        p2v_json_str(&j, "name", "zlib");
        p2v_json_str(&j, "version", zlibVersion());
        p2v_json_bool(&j, "build_time", 0);
        p2v_json_finish(&j);
        return 0;
    }
    printf("p2v %s\n", P2V_VERSION);
    for (int i = 0; i < N_LIBS; i++)
        printf("  %-11s %s%s\n", libs[i].name, libs[i].version, libs[i].built ? " (built with)" : "");
    printf("  %-11s %s\n", "zlib", zlibVersion());
    return 0;
}
