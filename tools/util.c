#include "commands.h"

#include "stack.h"
#include "../fixup/fsmap.h"

#include <errno.h>
#include <stdlib.h>

#include <string.h>

/* Length of the valid UTF-8 sequence at p, or 0 if there is none. */
static int utf8_len(const unsigned char *p)
{
    int n = p[0] < 0x80 ? 1 : p[0] >= 0xC2 && p[0] < 0xE0 ? 2
          : p[0] >= 0xE0 && p[0] < 0xF0 ? 3 : p[0] >= 0xF0 && p[0] < 0xF5 ? 4 : 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    /* Overlong 3- and 4-byte forms, surrogates and values past U+10FFFF. */
    if ((n == 3 && ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0))) ||
        (n == 4 && ((p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90))))
        return 0;
    return n;
}

void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = utf8_len(p);
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || n == 0)
            /* Bytes that are not UTF-8 (Linux paths may hold any byte) are
             * shown as the code point of the same value, so the JSON stays
             * valid; such a path cannot be round-tripped exactly. */
            fprintf(f, "\\u%04x", *p);
        else
            fwrite(p, 1, (size_t)n, f);
        p += n ? n : 1;
    }
    fputc('"', f);
}

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
