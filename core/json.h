/* JSON string literals for the --json outputs and reports. */
#ifndef P2V_JSON_H
#define P2V_JSON_H

#include <stdio.h>

/* Writes s as a JSON string literal, quotes included. */
void json_string(FILE *f, const char *s);

#endif
