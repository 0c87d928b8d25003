/* p2v: physical-to-virtual conversion bridge.  Git-style subcommands. */
#include "commands.h"
#include "core/term_safe.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *summary;
} commands[] = {
    { "mount", cmd_mount, "mount SOURCE as a synthetic VHD on MOUNTPOINT" },
    { "umount", cmd_umount, "unmount a p2v view" },
    { "info", cmd_info, "describe SOURCE and the image it would give" },
    { "inspect", cmd_inspect, "find the operating system on SOURCE and describe it" },
    { "fixup", cmd_fixup, "plan, apply or discard fix-ups (copy-on-write, in --state DIR)" },
    { "snapshot", cmd_snapshot, "create, list or delete snapshots of sources" },
    { "inventory", cmd_inventory, "describe the machine (or an offline SOURCE) as XML or JSON" },
    { "check", cmd_check, "can SOURCE (or this machine) be converted? rules, blockers, remedies" },
    { "vm", cmd_vm, "vm create: a libvirt, Hyper-V or QEMU definition for an image" },
    { "commit", cmd_commit, "copy a view's image to a directory, resumable and verified" },
    { "batch", cmd_batch, "convert the sources of a manifest, several at once" },
    { "version", cmd_version, "print the version of p2v and of the libraries it runs with" },
    { "help", NULL, "print the commands, or with a COMMAND its options (= COMMAND --help)" },
};
enum { N_COMMANDS = sizeof commands / sizeof *commands };

static void usage(FILE *f)
{
    fprintf(f, "usage: p2v COMMAND [OPTIONS] ARGS\n"
               "       p2v help [COMMAND]\n"
               "       p2v --version | -V\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'p2v help COMMAND' (or 'p2v COMMAND --help') describes a command's options;\n"
               "man p2v-COMMAND describes it in full, man p2v the whole.\n");
}

static int find(const char *name)
{
    for (int i = 0; i < N_COMMANDS; i++)
        if (commands[i].run && !strcmp(name, commands[i].name))
            return i;
    return -1;
}

static int run(int i, int argc, char **argv)
{
    /* Guest strings in text output must not reach the terminal raw. */
    if (p2v_term_safe_stdout() < 0) {
        fprintf(stderr, "p2v: error: setting up the output failed: %s\n", strerror(errno));
        return 1;
    }
    static char name[32];
    name_command(argv, "p2v", name, sizeof name);
    int rc = commands[i].run(argc, argv);
    /* Output that never arrived is a failure (a full disk, a closed pipe). */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "p2v: error: writing the output failed: %s\n", strerror(errno));
        return 1;
    }
    return rc;
}

/* p2v help [COMMAND]: the command list, or COMMAND --help. */
static int help(int argc, char **argv)
{
    if (argc < 2) {
        usage(stdout);
        return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
    }
    if (!strcmp(argv[1], "help") && argc == 2)
        return help(1, argv);
    int i = find(argv[1]);
    if (i < 0 || argc > 2) {
        fprintf(stderr, "p2v help: %s '%s'\n", i < 0 ? "unknown command" : "one command, not",
                argv[i < 0 ? 1 : 2]);
        usage(stderr);
        return 2;
    }
    char *args[] = { argv[1], "--help", NULL };
    return run(i, 2, args);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
        return help(argc - 1, argv + 1);
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
        argv[1] = "version";
    int i = find(argv[1]);
    if (i >= 0)
        return run(i, argc - 1, argv + 1);
    fprintf(stderr, "p2v: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
