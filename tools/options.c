#include "commands.h"

#include "stack.h"
#include "layout/fsmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int parse_type(const char *s)
{
    if (!strcmp(s, "dynamic"))
        return 1;
    if (!strcmp(s, "fixed"))
        return 0;
    return -1;
}

void name_command(char **argv, const char *parent, char *buf, size_t len)
{
    snprintf(buf, len, "%s %s", parent, argv[0]);
    argv[0] = buf;
}

int option_hint(char *const *argv)
{
    fprintf(stderr, "Try '%s --help' for its options.\n", argv[0]);
    return 2;
}

const char *const p2v_targets[] = { "virtio", "qemu-sata", "qemu-ide", "hyperv", NULL };

int parse_choice(const char *cmd, const char *opt, const char *arg, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(arg, names[i]))
            return i;
    fprintf(stderr, "p2v%s%s: %s is", cmd[0] ? " " : "", cmd, opt);
    for (int i = 0; names[i]; i++)
        fprintf(stderr, "%s %s", i ? (names[i + 1] ? "," : " or") : "", names[i]);
    fprintf(stderr, ", not '%s'\n", arg);
    return -1;
}

int parse_format(const char *s)
{
    static const char *const names[] = { "auto", "raw", "vhd", "vhdx" };
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

static int parse_seconds(const char *opt, const char *arg, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < 1 || v > 86400) {
        fprintf(stderr, "p2v: %s takes seconds (1 to 86400), not '%s'\n", opt, arg);
        return -1;
    }
    *out = (int)v;
    return 1;
}

int parse_snapshot_option(int c, const char *arg, struct p2v_stack_opts *o)
{
    struct p2v_snap_opts *s = &o->src.snap;
    switch (c) {
    case OPT_SNAPSHOT:
        if (p2v_snap_provider_parse(arg, &s->provider) < 0) {
            fprintf(stderr, "p2v: --snapshot must be auto, none, reflink or lvm, not '%s'\n", arg);
            return -1;
        }
        return 1;
    case OPT_KEEP_SNAPSHOT: s->keep = 1; return 1;
    case OPT_SNAPSHOT_DIR: s->dir = arg; return 1;
    case OPT_SNAPSHOT_SIZE: s->lvm_size = arg; return 1;
    case OPT_FREEZE:
        if (s->freeze.nmounts == P2V_FREEZE_MAX) {
            fprintf(stderr, "p2v: --freeze: %d mount points at most\n", P2V_FREEZE_MAX);
            return -1;
        }
        s->freeze.mounts[s->freeze.nmounts++] = arg;
        return 1;
    case OPT_HOOKS: s->freeze.hooks = arg; return 1;
    case OPT_HOOK_TIMEOUT: return parse_seconds("--hook-timeout", arg, &s->freeze.hook_timeout_s);
    case OPT_FREEZE_TIMEOUT:
        return parse_seconds("--freeze-timeout", arg, &s->freeze.freeze_timeout_s);
    default: return 0;
    }
}

static int parse_wrap_option(int c, const char *arg, struct p2v_stack_opts *o)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, c == 'S' ? 16 : 10);
    if (errno || end == arg || *end || (c == 'S' && v > 0xFFFFFFFFull) ||
        (c == 'O' && (v == 0 || v % 512))) {
        fprintf(stderr, c == 'S' ? "p2v: --disk-signature takes 8 hex digits, not '%s'\n"
                                  : "p2v: --offset takes a byte count, a non-zero multiple of 512, not '%s'\n",
                arg);
        return -1;
    }
    if (c == 'S') {
        o->layout.disk_signature = (uint32_t)v;
        o->layout.have_signature = 1;
    } else {
        o->layout.offset = v;
    }
    return 0;
}

int parse_stack_option(int c, const char *arg, struct p2v_stack_opts *o)
{
    switch (c) {
    case 't':
        if ((o->dynamic = parse_type(arg)) < 0) {
            fprintf(stderr, "p2v: --type must be dynamic or fixed, not '%s'\n", arg);
            return -1;
        }
        return 1;
    case 'P': o->src.source_flags |= P2V_SOURCE_PAD; return 1;
    case 'C': o->src.source_flags |= P2V_SOURCE_CACHED; return 1;
    case OPT_FORMAT: {
        int f = parse_format(arg);
        if (f < 0) {
            fprintf(stderr, "p2v: --source-format must be auto, raw, vhd or vhdx, not '%s'\n", arg);
            return -1;
        }
        o->src.format = (enum p2v_source_format)f;
        return 1;
    }
    case OPT_BAD:
        if (strcmp(arg, "fail") && strcmp(arg, "zero")) {
            fprintf(stderr, "p2v: --bad-sectors must be fail or zero, not '%s'\n", arg);
            return -1;
        }
        o->src.bad = !strcmp(arg, "zero") ? P2V_BAD_ZERO : P2V_BAD_FAIL;
        return 1;
    case OPT_LIVE: o->src.allow_live = 1; return 1;
    case OPT_IGNORE_HIVE_LOGS: o->ignore_hive_logs = 1; return 1;
    case OPT_IMAGE: {
        static const char *const names[] = { "auto", "vhd", "vhdx", NULL };
        int f = parse_choice("", "--format", arg, names);
        if (f < 0)
            return -1;
        o->image = f;  /* the order of P2V_IMAGE_* */
        return 1;
    }
    case OPT_BLOCK_SIZE: {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(arg, &end, 10);
        unsigned long long unit = *end == 'M' || *end == 'm' ? 1ull << 20 : *end == 'K' || *end == 'k' ? 1ull << 10 : 1;
        if (unit > 1)
            end++;
        v *= unit;
        if (errno || end == arg || *end || v < (1ull << 20) || v > (256ull << 20) || (v & (v - 1))) {
            fprintf(stderr, "p2v: --block-size is a power of two from 1M to 256M, not '%s'\n", arg);
            return -1;
        }
        o->block_size = (uint32_t)v;
        return 1;
    }
    case 'K': o->layout.keep_free_space = 1; return 1;
    case 'G': o->layout.fs_flags |= P2V_FS_KEEP_PAGEFILE; return 1;
    case 'F': o->layout.fs_flags |= P2V_FS_FORCE; return 1;
    case 'V': o->layout.volumes = arg; return 1;
    case 'X': o->layout.drop_unselected = 1; return 1;
    case 'U': o->layout.volume = 1; return 1;
    case 'O':
    case 'S': return parse_wrap_option(c, arg, o) < 0 ? -1 : 1;
    case 'T': o->layout.gpt = 1; return 1;
    default: return 0;
    }
}
