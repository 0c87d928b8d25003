/* A new GPT disk around one volume, for bare volumes wrapped with --gpt or
 * too large for an MBR: a protective MBR carrying p2v's GPT boot code
 * (layout/gpt_boot.S), the primary header and a 128-entry array in LBA
 * 1..33, and their backups in the last 33 sectors. */
#ifndef P2V_GPT_BUILD_H
#define P2V_GPT_BUILD_H

#include <stdint.h>

#define P2V_GPT_ENTRIES 128
#define P2V_GPT_HEAD_BYTES (34 * 512)   /* protective MBR, header, entries */
#define P2V_GPT_TAIL_BYTES (33 * 512)   /* backup entries, backup header */

extern const uint8_t p2v_gpt_code[440];  /* layout/gpt_boot.S, built by make */

struct p2v_gpt_disk {
    uint64_t disk_sectors;
    uint64_t first_lba, last_lba;   /* the one partition, inclusive */
    uint8_t disk_guid[16];          /* RFC 4122 byte order */
    uint8_t part_guid[16];
    const char *type_guid;          /* text, e.g. P2V_GPT_TYPE_BASIC_DATA */
    const char *name;               /* ASCII partition name; NULL: none */
};

#define P2V_GPT_TYPE_BASIC_DATA "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7"
#define P2V_GPT_TYPE_LINUX_FS   "0fc63daf-8483-4772-8e79-3d69d8477de4"
#define P2V_GPT_TYPE_LINUX_SWAP "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f"

/* Fills head and tail.  The partition gets the "legacy BIOS bootable"
 * attribute, which the boot code looks for.  -EINVAL when the partition
 * does not fit between the two arrays or the type GUID is not one. */
int p2v_gpt_build(const struct p2v_gpt_disk *g, uint8_t head[P2V_GPT_HEAD_BYTES],
                  uint8_t tail[P2V_GPT_TAIL_BYTES]);

#endif
