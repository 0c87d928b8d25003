/* Control bytes written as \xNN on the way to a terminal (term_safe.h). */
#define _GNU_SOURCE
#include "term_safe.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int unsafe(unsigned char c, int keep_newline, int keep_cr)
{
    if (c == '\t' || (keep_newline && c == '\n') || (keep_cr && c == '\r'))
        return 0;
    return c < 0x20 || c == 0x7f;
}

char *p2v_term_safe(const char *in, char *out, size_t len, int keep_newline)
{
    if (!len)
        return out;
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        int esc = unsafe(*p, keep_newline, 0);
        if (o + (esc ? 4 : 1) >= len)
            break;  /* what fits, and the NUL */
        if (esc)
            o += (size_t)snprintf(out + o, len - o, "\\x%02x", *p);
        else
            out[o++] = (char)*p;
    }
    out[o] = 0;
    return out;
}

/* The stream over fd 1 (not a copy of it: a forked child that points fd 1
 * elsewhere, as batch's steps do, writes there): writes go out escaped. */
static ssize_t cookie_write(void *cookie, const char *buf, size_t size)
{
    (void)cookie;
    char out[4096];
    size_t i = 0;
    while (i < size) {
        size_t o = 0;
        for (; i < size && o + 4 <= sizeof out; i++) {
            unsigned char c = (unsigned char)buf[i];
            if (unsafe(c, 1, 1))
                o += (size_t)snprintf(out + o, sizeof out - o, "\\x%02x", c);
            else
                out[o++] = (char)c;
        }
        for (size_t w = 0; w < o;) {
            ssize_t n = write(STDOUT_FILENO, out + w, o - w);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return -1;
            w += (size_t)n;
        }
    }
    return (ssize_t)size;
}

int p2v_term_safe_stdout(void)
{
    static FILE *f;
    if (f)
        return 0;
    fflush(stdout);
    cookie_io_functions_t io = { .write = cookie_write };
    if (!(f = fopencookie(NULL, "w", io)))
        return -errno;
    setvbuf(f, NULL, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF, 0);
    stdout = f;
    return 0;
}
