/* JSON string literals for the --json outputs and reports, and XML text
 * for the machine configuration. */
#ifndef P2V_JSON_H
#define P2V_JSON_H

#include <stdio.h>

/* Writes s as a JSON string literal, quotes included. */
void json_string(FILE *f, const char *s);
/* Writes s as XML character data or attribute text (quotes escaped);
 * bytes that are not UTF-8 and control characters become '?'. */
void xml_text(FILE *f, const char *s);

#endif
