/* The parts of `p2v info`: the partition table for people and scripts. */
#ifndef P2V_INFO_H
#define P2V_INFO_H

#include "core/json.h"

#include <stdio.h>

struct p2v_stack;
void info_partitions_text(FILE *f, const struct p2v_stack *st);
/* The members "partition_table", "filesystem", the wrapping, "partitions"
 * of the open object. */
void info_partitions_json(struct p2v_json *j, const struct p2v_stack *st);

struct p2v_windows;
/* The member "hives": how each registry hive was found (clean, recovered
 * from its transaction logs, dirty), for inspect and the fix-up report. */
void info_hives_json(struct p2v_json *j, const struct p2v_windows *w);
/* The same for people: "SYSTEM recovered from 24 log entries, ...". */
void info_hives_text(FILE *f, const struct p2v_windows *w);

struct p2v_machine;
/* inspect_linux.c: a Linux guest's facts, as JSON or text on stdout. */
void inspect_linux_json(const struct p2v_machine *m);
void inspect_linux_text(const struct p2v_machine *m);

#endif
