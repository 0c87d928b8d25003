/* Text for a terminal: bytes from a source disk, a guest or a plan (volume
 * labels, host names, program names) may hold escape sequences that would
 * drive the terminal of whoever reads p2v's output.  JSON escapes them
 * already; human-readable output goes through these. */
#ifndef P2V_TERM_SAFE_H
#define P2V_TERM_SAFE_H

#include <stddef.h>

/* Copies in to out (at most len bytes, NUL-terminated) with every control
 * byte but tab (and, when keep_newline, newline) written as \xNN.
 * Returns out. */
char *p2v_term_safe(const char *in, char *out, size_t len, int keep_newline);

/* From now on stdout escapes control bytes the same way, except newline,
 * tab and carriage return: every command's text output.  0 or -errno. */
int p2v_term_safe_stdout(void);

#endif
