/* Scrubbing deleted data out of self-contained metadata units (issue 20,
 * docs/scrub-design.md §5.1): an NTFS MFT record, an NTFS index block
 * (INDX), an ext2/3/4 directory leaf block.  Pure functions over one
 * unit's bytes, as read from the disk: they trust nothing in them.
 *
 * Each returns 0 when the unit is consistent after the call (rewritten, or
 * already clean), or 1 when it was skipped: the unit failed a check (magic,
 * update sequence, sizes, entry walk, checksum) or looks like a structure
 * the function must not edit; a skipped unit is left byte-identical and
 * counted in skipped_units.  Scrubbing a scrubbed unit changes nothing.
 * cnt may be NULL; the counters are not atomic (one struct per thread). */
#ifndef P2V_SCRUB_UNIT_H
#define P2V_SCRUB_UNIT_H

#include <stdint.h>

/* What was changed, in bytes whose value changed (a clean unit adds 0),
 * named as `p2v info --json` reports them ("scrubbed": {...}).  The unit
 * rewrites here fill the first five and skipped_units; the other kinds are
 * zero ranges and fills that the callers count. */
struct p2v_scrub_counts {
    uint64_t mft_free_records;       /* free records that changed when rewritten */
    uint64_t mft_free_bytes;
    uint64_t mft_slack_bytes;        /* records in use: slack and value padding */
    uint64_t index_slack_bytes;      /* INDX blocks in use: after index_length */
    uint64_t ext_dirent_slack_bytes; /* leaf blocks, checksum bytes included */
    uint64_t index_unused_bytes;
    uint64_t logfile_bytes;
    uint64_t file_slack_bytes;
    uint64_t ext_free_inode_bytes;
    uint64_t ext_journal_bytes;
    uint64_t skipped_units;
};

/* The NTFS version as libntfs-3g has it (vol->major_ver, vol->minor_ver):
 * records of 3.0 and older have no record number field, and their update
 * sequence array sits at 0x2A instead of 0x30. */
#define P2V_NTFS_VERSION(major, minor) ((unsigned)(major) << 8 | (unsigned)(minor))

/* MFT record recno of size bytes (a multiple of 512, 512..65536), with its
 * update sequence applied as on disk.  in_use is its bit in $MFT:$BITMAP.
 * - Free (bit clear, header not flagged in use) and recno >= 24: rewritten
 *   as the free record ntfs-3g lays out (ntfs_mft_record_layout: no
 *   attributes, record number field 0 as mkntfs leaves it), keeping the source's
 *   sequence number (0 becomes 1) and update sequence number (0 and 0xFFFF
 *   become 1, as ntfs-3g does when it reuses a record).
 * - Otherwise (in use, records 0-23, or flagged in use in its header):
 *   [bytes_in_use, size) and the padding after each resident value are
 *   zeroed, the update sequence re-applied with the same number.
 * Skipped: no "FILE", a torn or malformed update sequence, and for the
 * second case bytes_allocated != size, bytes_in_use > size or an
 * attribute walk that does not end in AT_END inside bytes_in_use. */
int p2v_scrub_mft_record(uint8_t *buf, uint32_t size, uint64_t recno, int in_use,
                         unsigned ntfs_version, struct p2v_scrub_counts *cnt);

/* INDX block of size bytes (512..65536, a multiple of 512), in use per its
 * index's $BITMAP: [0x18 + index_length, size) is zeroed, the update
 * sequence re-applied with the same number.  Skipped: no "INDX", a torn or
 * malformed update sequence, 0x18 + allocated_size != size, index_length
 * outside (entries_offset, allocated_size], entries over the sequence array. */
int p2v_scrub_indx(uint8_t *buf, uint32_t size, struct p2v_scrub_counts *cnt);

/* ext2/3/4 directory leaf block of bs bytes (a power of two, 1024..65536)
 * of directory inode ino with i_generation gen.  Live entries keep
 * inode, rec_len, name_len, file_type and the name; the rest of their
 * record is zeroed; an entry with inode 0 keeps only inode and rec_len (as
 * the kernel wipes a deleted first entry).  has_csum_tail (metadata_csum):
 * the block must end in the 12-byte checksum entry and its CRC-32C (seeded
 * with csum_seed, libext2fs's fs->csum_seed) must verify before anything
 * changes; it is recomputed when a byte changed.  Skipped: a bad walk
 * (rec_len < 12, not a multiple of 4, past the end or the tail, a name
 * longer than its record, a live entry with name_len 0 or a file type over
 * 7), a missing tail or a wrong checksum, and blocks shaped like htree
 * nodes: the caller excludes dx_root and dx_node blocks, and a block whose
 * first entry has inode 0, rec_len = bs, name_len and type 0 and non-zero
 * bytes after it (a dx_node), or "." then ".." up to the end followed by a
 * dx_root_info (reserved 0, info_length 8), is left alone all the same.
 * Do not pass blocks of directories that are both encrypted and casefolded:
 * their entries carry a hash after the name, which this would zero. */
int p2v_scrub_ext_leaf(uint8_t *buf, uint32_t bs, uint32_t ino, uint32_t gen,
                       uint32_t csum_seed, int has_csum_tail, struct p2v_scrub_counts *cnt);

/* The metadata_csum checksum of a directory leaf block: CRC-32C without
 * pre- or post-inversion (the kernel's ext4_chksum), seeded with csum_seed,
 * over ino and gen (little-endian) and then [0, bs - 12). */
uint32_t p2v_scrub_ext_leaf_csum(const uint8_t *buf, uint32_t bs, uint32_t ino, uint32_t gen,
                                 uint32_t csum_seed);

#endif
