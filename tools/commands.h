/* Subcommands of the p2v binary.  Each returns the process exit status:
 * 0 success, 1 failure, 2 bad usage. */
#ifndef P2V_COMMANDS_H
#define P2V_COMMANDS_H

#include <stdio.h>

int cmd_mount(int argc, char **argv);
int cmd_umount(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_fixup(int argc, char **argv);

#include "../core/json.h"
struct p2v_stack;
void info_partitions_text(FILE *f, const struct p2v_stack *st);
/* Writes the members "partition_table", "filesystem", "partitions". */
void info_partitions_json(FILE *f, const struct p2v_stack *st);
struct p2v_stack_opts;
/* The long options every command that builds a stack takes (mount, info):
 * put P2V_STACK_LONGOPTS in the option array, and pass unknown option
 * characters to parse_stack_option: 1 handled, 0 not ours, -1 bad
 * (message printed). */
#define P2V_STACK_LONGOPTS                                   \
    { "type", required_argument, NULL, 't' },                \
    { "pad", no_argument, NULL, 'P' },                       \
    { "source-cache", no_argument, NULL, 'C' },              \
    { "keep-free-space", no_argument, NULL, 'K' },           \
    { "keep-pagefile", no_argument, NULL, 'G' },             \
    { "force", no_argument, NULL, 'F' },                     \
    { "volumes", required_argument, NULL, 'V' },             \
    { "drop-unselected", no_argument, NULL, 'X' },           \
    { "volume", no_argument, NULL, 'U' },                    \
    { "offset", required_argument, NULL, 'O' },              \
    { "disk-signature", required_argument, NULL, 'S' },      \
    { "gpt", no_argument, NULL, 'T' }
int parse_stack_option(int c, const char *arg, struct p2v_stack_opts *o);
#define P2V_STACK_HELP                                                                        \
    "  -t, --type dynamic|fixed  VHD type (default dynamic: zero blocks left out)\n"          \
    "      --volumes N[,N...]    only these partitions' data; the others read as zeros\n"     \
    "      --drop-unselected     with --volumes: remove the others' table entries too\n"      \
    "      --volume              SOURCE is one volume (found by itself when it has no table)\n" \
    "      --offset BYTES        where a bare volume goes in its new disk (default 1 MiB)\n"   \
    "      --disk-signature HEX  that disk's MBR signature (default: derived from SOURCE)\n"   \
    "      --gpt                 make that disk GPT, not MBR (automatic from 2 TiB)\n"         \
    "      --keep-free-space     copy free clusters too (forensics); default: they read as zeros\n" \
    "      --keep-pagefile       keep the contents of pagefile.sys, hiberfil.sys, swapfile.sys\n" \
    "      --force               accept a hibernated or unclean NTFS volume (copied whole)\n"  \
    "      --pad                 zero-pad a source that is not a whole number of sectors\n"    \
    "      --source-cache        read the source through the page cache (default: O_DIRECT)\n"
/* Parses "dynamic" or "fixed"; -1 if neither. */
int parse_type(const char *s);

#endif
