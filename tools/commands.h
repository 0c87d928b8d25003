/* Subcommands of the p2v binary.  Each returns the process exit status:
 * 0 success, 1 failure, 2 bad usage. */
#ifndef P2V_COMMANDS_H
#define P2V_COMMANDS_H

#include <stdio.h>

int cmd_mount(int argc, char **argv);
int cmd_umount(int argc, char **argv);
int cmd_info(int argc, char **argv);

/* Writes s as a JSON string literal, quotes included. */
void json_string(FILE *f, const char *s);
struct p2v_stack;
void info_partitions_text(FILE *f, const struct p2v_stack *st);
/* Writes the members "partition_table", "filesystem", "partitions". */
void info_partitions_json(FILE *f, const struct p2v_stack *st);
struct p2v_stack_opts;
/* --offset BYTES or --disk-signature HEX (c is 'O' or 'S'); -1 with a message. */
int parse_wrap_option(int c, const char *arg, struct p2v_stack_opts *o);
/* Parses "dynamic" or "fixed"; -1 if neither. */
int parse_type(const char *s);

#endif
