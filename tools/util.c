#include "commands.h"

#include "stack.h"
#include "../fixup/fsmap.h"

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
    case 'P': o->source_flags |= P2V_SOURCE_PAD; return 1;
    case 'C': o->source_flags |= P2V_SOURCE_CACHED; return 1;
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
