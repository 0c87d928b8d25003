/* The default fix-up plan for a Linux guest: linux-* actions (README's
 * fix-up section) for the target, from the machine configuration. */
#ifndef P2V_LINUX_PLAN_H
#define P2V_LINUX_PLAN_H

#include "machine.h"

#include <stdio.h>

/* Writes the plan to f.  0, or -1 when f could not be written. */
int p2v_linux_plan_default(FILE *f, const char *target, int generation,
                           const struct p2v_machine *m, const char *source);

/* The efi-fallback line (machine/efi.c) for either family's plan: written
 * when m's ESP has no fallback loader.  0, or -1 when f could not be
 * written. */
int p2v_efi_plan_default(FILE *f, const struct p2v_machine *m);

#endif
