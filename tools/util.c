#include "commands.h"

#include <string.h>

void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
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
