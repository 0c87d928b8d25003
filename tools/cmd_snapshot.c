#define _GNU_SOURCE
#include "commands.h"

#include "stack.h"
#include "core/json.h"
#include "core/log.h"
#include "snapshot/snapshot.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fputs("usage: p2v snapshot create [OPTIONS] [--json] SOURCE\n"
          "       p2v snapshot list [--json]\n"
          "       p2v snapshot delete ID... | --stale\n"
          "create takes a snapshot of SOURCE and keeps it until deleted; mount its path\n"
          "like any source.  list shows every snapshot p2v made (kept, mounted, or stale:\n"
          "its mount ended without releasing it); delete removes them.\n\n"
          "      --json                create, list: machine-readable output\n"
          "      --stale               delete: every stale snapshot\n"
          P2V_SNAPSHOT_HELP, f);
}

static void record_json(struct p2v_json *j, const struct p2v_snap_record *r)
{
    p2v_json_object(j, NULL);
    p2v_json_str(j, "id", r->id);
    p2v_json_str(j, "provider", r->provider);
    p2v_json_str(j, "state", p2v_registry_state(r));
    p2v_json_str(j, "origin", r->origin);
    p2v_json_str(j, "path", r->path);
    p2v_json_str(j, "mountpoint", r->mountpoint);
    p2v_json_int(j, "created", (long long)r->created);
    p2v_json_end(j);
}

struct create_opts {
    struct p2v_stack_opts so;
    const char *source;
    int json;
};

/* 0 to run, -1 after --help, else the exit status. */
static int parse_create(int argc, char **argv, struct create_opts *o)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        P2V_SNAPSHOT_LONGOPTS,
        { 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'j') {
            o->json = 1;
        } else if (c == 'h') {
            usage(stdout);
            return -1;
        } else if (c == '?') {
            return option_hint(argv);
        } else if (parse_snapshot_option(c, optarg, &o->so) <= 0) {
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind != 1) {
        usage(stderr);
        return 2;
    }
    if (o->so.src.snap.provider == P2V_SNAP_NONE) {
        p2v_err("snapshot create: --snapshot none takes no snapshot");
        return 2;
    }
    o->source = argv[optind];
    return 0;
}

static int run_create(struct create_opts *c)
{
    struct p2v_snap_opts *o = &c->so.src.snap;
    o->keep = 1;
    char canon[PATH_MAX];
    if (!realpath(c->source, canon)) {
        p2v_err("cannot open source %s: %s", c->source, strerror(errno));
        return 1;
    }
    struct p2v_snapshot s;
    if (p2v_snapshot_take(canon, o, &s) < 0)
        return 1;
    if (s.used == P2V_SNAP_NONE) {
        p2v_err("no snapshot taken of %s: %s", canon, s.why);
        return 1;
    }
    if (c->json) {
        struct p2v_json j;
        p2v_json_init(&j, stdout);
        record_json(&j, &s.rec);
        p2v_json_finish(&j);
    } else {
        printf("snapshot %s (%s): %s\n", s.rec.id, s.rec.provider, s.rec.path);
    }
    return 0;
}

static int do_create(int argc, char **argv)
{
    struct create_opts o = { 0 };
    int r = parse_create(argc, argv, &o);
    return r < 0 ? 0 : r > 0 ? r : run_create(&o);
}

static int do_list(int argc, char **argv)
{
    int json = argc > 1 && !strcmp(argv[1], "--json");
    if (argc > 1 + json) {
        usage(stderr);
        return 2;
    }
    struct p2v_snap_record *all;
    int n = p2v_registry_list(&all);
    if (n < 0)
        return 1;
    struct p2v_json j;
    p2v_json_init(&j, stdout);
    if (json)
        p2v_json_array(&j, NULL);
    for (int i = 0; i < n; i++) {
        if (json)
            record_json(&j, &all[i]);
        else
            printf("%-10s %-8s %-8s %s %s\n", all[i].id, all[i].provider,
                   p2v_registry_state(&all[i]), all[i].origin, all[i].path);
    }
    if (json)
        p2v_json_finish(&j);
    free(all);
    return 0;
}

static int do_delete(int argc, char **argv)
{
    int stale = argc == 2 && !strcmp(argv[1], "--stale");
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    struct p2v_snap_record *all;
    int n = p2v_registry_list(&all);
    if (n < 0)
        return 1;
    int rc = 0;
    for (int a = 1; !stale && a < argc; a++) {
        int i = 0;
        while (i < n && strcmp(all[i].id, argv[a]))
            i++;
        if (i == n) {
            p2v_err("no snapshot %s (p2v snapshot list shows them)", argv[a]);
            rc = 1;
        } else if (!strcmp(p2v_registry_state(&all[i]), "mounted")) {
            p2v_err("snapshot %s is in use by the mount at %s: unmount it first", all[i].id,
                    all[i].mountpoint);
            rc = 1;
        } else if (p2v_snapshot_delete(&all[i]) < 0) {
            rc = 1;
        } else {
            printf("deleted %s\n", all[i].id);
        }
    }
    for (int i = 0; stale && i < n; i++) {
        if (strcmp(p2v_registry_state(&all[i]), "stale"))
            continue;
        if (p2v_snapshot_delete(&all[i]) < 0)
            rc = 1;
        else
            printf("deleted %s\n", all[i].id);
    }
    free(all);
    return rc;
}

int cmd_snapshot(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    static char name[48];
    const char *sub = argv[1];
    name_command(argv + 1, "p2v snapshot", name, sizeof name);
    if (!strcmp(sub, "create"))
        return do_create(argc - 1, argv + 1);
    if (!strcmp(sub, "list"))
        return do_list(argc - 1, argv + 1);
    if (!strcmp(sub, "delete"))
        return do_delete(argc - 1, argv + 1);
    fprintf(stderr, "p2v snapshot: unknown action '%s'\n", sub);
    usage(stderr);
    return 2;
}
