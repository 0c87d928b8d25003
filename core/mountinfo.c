#define _GNU_SOURCE
#include "mountinfo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '7' && p[2] && p[3]) {
            *o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 3;
        } else {
            *o++ = *p;
        }
    }
    *o = 0;
}

static int scan(const char *path, char *fstype, size_t fslen, char *majmin, size_t mmlen,
                char *source, size_t srclen)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return -errno;
    char *line = NULL;
    size_t cap = 0;
    int found = 0;
    /* The last matching line wins: it is the mount on top. */
    while (getline(&line, &cap, f) > 0) {
        char *save = NULL, *fields[10] = { 0 };
        int n = 0;
        for (char *t = strtok_r(line, " \n", &save); t && n < 10; t = strtok_r(NULL, " \n", &save))
            fields[n++] = t;
        if (n < 7)
            continue;
        unescape(fields[4]);
        if (strcmp(fields[4], path) != 0)
            continue;
        found = 1;
        if (majmin)
            snprintf(majmin, mmlen, "%s", fields[2]);
        /* After the optional fields comes "-", then the filesystem type. */
        for (int i = 6; i < n - 1; i++) {
            if (strcmp(fields[i], "-") == 0) {
                if (fstype)
                    snprintf(fstype, fslen, "%s", fields[i + 1]);
                if (source && i + 2 < n) {
                    unescape(fields[i + 2]);
                    snprintf(source, srclen, "%s", fields[i + 2]);
                }
                break;
            }
        }
    }
    free(line);
    fclose(f);
    return found;
}

int p2v_mountinfo_find(const char *path, char *fstype, size_t fslen,
                       char *majmin, size_t mmlen)
{
    return scan(path, fstype, fslen, majmin, mmlen, NULL, 0);
}

int p2v_mountinfo_source(const char *path, char *source, size_t len)
{
    return scan(path, NULL, 0, NULL, 0, source, len);
}
