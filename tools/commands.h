/* Subcommands of the p2v binary.  Each returns the process exit status:
 * 0 success, 1 failure, 2 bad usage.
 *
 * A command's --help is the one source of its option list: the man pages
 * and the bash completion are made from it (tools/doc/).  So it keeps one
 * layout: "usage: p2v CMD ..." lines first (wrapped parts indented), then
 * text, then each option as "  -x, --long ARG  text" or "      --long ARG
 * text", continuation lines indented by 12 blanks or more.  An ARG written
 * a|b|c lists the values completion offers; DIR or MOUNTPOINT completes
 * directories, FILE, PATH, SOURCE or NAME.xml files.  With subcommands,
 * an option's text starting "apply, discard: " names the ones it is for;
 * the others are for each subcommand whose usage line has [OPTIONS]. */
#ifndef P2V_COMMANDS_H
#define P2V_COMMANDS_H

#include <stdio.h>

int cmd_mount(int argc, char **argv);
int cmd_umount(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_fixup(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_inventory(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_vm(int argc, char **argv);
int cmd_commit(int argc, char **argv);
int cmd_batch(int argc, char **argv);
int cmd_version(int argc, char **argv);

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
    { "gpt", no_argument, NULL, 'T' },                       \
    { "source-format", required_argument, NULL, OPT_FORMAT },  \
    { "bad-sectors", required_argument, NULL, OPT_BAD },       \
    { "allow-live", no_argument, NULL, OPT_LIVE },             \
    { "format", required_argument, NULL, OPT_IMAGE },          \
    { "block-size", required_argument, NULL, OPT_BLOCK_SIZE },   \
    { "ignore-hive-logs", no_argument, NULL, OPT_IGNORE_HIVE_LOGS }
/* Long-only options (no short letter). */
enum {
    OPT_FORMAT = 0x100, OPT_BAD, OPT_LIVE, OPT_SNAPSHOT, OPT_KEEP_SNAPSHOT, OPT_SNAPSHOT_DIR,
    OPT_SNAPSHOT_SIZE, OPT_FREEZE, OPT_HOOKS, OPT_HOOK_TIMEOUT, OPT_FREEZE_TIMEOUT, OPT_IMAGE,
    OPT_BLOCK_SIZE, OPT_IGNORE_HIVE_LOGS,
};
int parse_stack_option(int c, const char *arg, struct p2v_stack_opts *o);
/* Snapshot options (mount, snapshot create); same returns. */
#define P2V_SNAPSHOT_LONGOPTS                                          \
    { "snapshot", required_argument, NULL, OPT_SNAPSHOT },             \
    { "keep-snapshot", no_argument, NULL, OPT_KEEP_SNAPSHOT },         \
    { "snapshot-dir", required_argument, NULL, OPT_SNAPSHOT_DIR },     \
    { "snapshot-size", required_argument, NULL, OPT_SNAPSHOT_SIZE },   \
    { "freeze", required_argument, NULL, OPT_FREEZE },                 \
    { "hooks", required_argument, NULL, OPT_HOOKS },                   \
    { "hook-timeout", required_argument, NULL, OPT_HOOK_TIMEOUT },     \
    { "freeze-timeout", required_argument, NULL, OPT_FREEZE_TIMEOUT }
int parse_snapshot_option(int c, const char *arg, struct p2v_stack_opts *o);
#define P2V_SNAPSHOT_HELP                                                                     \
    "      --snapshot auto|none|reflink|lvm  read a snapshot of SOURCE (default auto: reflink\n" \
    "                            for an image on XFS/btrfs, lvm for a logical volume, else none)\n" \
    "      --keep-snapshot       keep the snapshot after unmounting (p2v snapshot delete)\n"  \
    "      --snapshot-dir DIR    where a reflink clone goes (same filesystem; default beside)\n" \
    "      --snapshot-size SIZE  LVM copy-on-write size (default: a fifth of the origin)\n"  \
    "      --freeze MOUNTPOINT   freeze this filesystem while the snapshot is taken (repeatable)\n" \
    "      --hooks DIR           run DIR's programs with 'freeze' before and 'thaw' after\n"  \
    "      --hook-timeout SEC    limit per hook call (default 60)\n"                           \
    "      --freeze-timeout SEC  the watchdog thaws after this long (default 30)\n"
/* Parses a source format name; -1 if unknown. */
int parse_format(const char *s);
#define P2V_STACK_HELP                                                                        \
    "  -t, --type dynamic|fixed  image type (default dynamic: zero blocks left out)\n"        \
    "      --format auto|vhd|vhdx  image format (default auto: VHDX for a UEFI disk (GPT\n"  \
    "                            with an EFI System Partition), 4096-byte sectors or more\n" \
    "                            than 2040 GiB, else VHD)\n"                                 \
    "      --block-size SIZE     VHDX block size, 1M to 256M, a power of two (default 32M)\n" \
    "      --volumes N[,N...]    only these partitions' data; the others read as zeros\n"     \
    "      --drop-unselected     with --volumes: remove the others' table entries too\n"      \
    "      --volume              SOURCE is one volume (found by itself when it has no table)\n" \
    "      --offset BYTES        where a bare volume goes in its new disk (default 1 MiB)\n"   \
    "      --disk-signature HEX  that disk's MBR signature (default: derived from SOURCE)\n"   \
    "      --gpt                 make that disk GPT, not MBR (automatic from 2 TiB)\n"         \
    "      --keep-free-space     copy every byte (forensics); default: free clusters and\n"    \
    "                            deleted data kept in metadata read as zeros\n"             \
    "      --keep-pagefile       keep the contents of pagefile.sys, hiberfil.sys, swapfile.sys\n" \
    "      --force               accept a hibernated or unclean NTFS volume (copied whole)\n"  \
    "      --pad                 zero-pad a source that is not a whole number of sectors\n"    \
    "      --source-cache        read the source through the page cache (default: O_DIRECT)\n" \
    "      --source-format auto|raw|vhd|vhdx  how to read SOURCE (default auto: VHD/VHDX\n"   \
    "                            files are read as the disk they hold, through libvhdi)\n"   \
    "      --bad-sectors fail|zero  unreadable source sectors fail the read (default) or\n" \
    "                            read as zeros; either way they are logged and reported\n"   \
    "      --allow-live          read a source in use read-write (reads fail once it changes)\n" \
    "      --ignore-hive-logs    use a registry hive that was not shut down cleanly as it is\n" \
    "                            when its transaction logs cannot be replayed (their\n"      \
    "                            changes are lost; default: refused)\n"
/* The index of arg in the NULL-terminated names, or -1 after a message
 * "p2v CMD: OPT is a, b or c, not 'arg'". */
int parse_choice(const char *cmd, const char *opt, const char *arg, const char *const *names);
/* Target names of check and vm create (virtio, qemu-sata, qemu-ide, hyperv). */
extern const char *const p2v_targets[];
/* Parses "dynamic" or "fixed"; -1 if neither. */
int parse_type(const char *s);
/* Renames argv[0] to "PARENT ARGV0" (in buf), so getopt's own messages
 * name the whole command: "p2v fixup plan: unrecognized option". */
void name_command(char **argv, const char *parent, char *buf, size_t len);
/* After getopt's message for an unknown option or a missing argument: the
 * one line pointing at the help, not the help itself.  Returns 2. */
int option_hint(char *const *argv);

#endif
