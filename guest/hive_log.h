/* Replaying a Windows registry hive's transaction logs (SYSTEM.LOG1,
 * SYSTEM.LOG2) into its primary file, as the Windows kernel does when it
 * loads a dirty hive.  Windows 8.1 and later write changes to the logs
 * first (new format: HvLE entries) and update the primary lazily, so a
 * dirty primary holds its newest data only in the logs; XP .. 8.0 used the
 * old format (a dirty vector and 512-byte pages).  Pure functions over
 * bytes: no files, no hivex.  Format: Maxim Suhanov's "Windows registry
 * file format specification" (github.com/msuhanov/regf). */
#ifndef P2V_HIVE_LOG_H
#define P2V_HIVE_LOG_H

#include <stddef.h>
#include <stdint.h>

#define P2V_HIVE_BASE_BLOCK 4096
/* Hive bins data above 2 GiB cannot exist: a cell index of stable storage
 * keeps bit 31 clear.  No replay grows a hive beyond this. */
#define P2V_HIVE_MAX_BINS 0x80000000u

enum p2v_hive_state {
    P2V_HIVE_CLEAN,      /* checksum right, sequence numbers equal: logs ignored, as Windows does */
    P2V_HIVE_RECOVERED,  /* was dirty; the logs were replayed */
    P2V_HIVE_DIRTY,      /* dirty, and no log could be replayed (missing, damaged, not matching) */
};

/* A log file's bytes; data NULL or len 0: absent.  name (may be NULL)
 * appears in messages only: logs are ordered by their contents. */
struct p2v_hive_log { const uint8_t *data; size_t len; const char *name; };

struct p2v_hive_recovery {
    enum p2v_hive_state state;
    uint32_t seq1, seq2;          /* the primary's sequence numbers, as found */
    uint32_t seq;                 /* the recovered hive's (both equal) */
    int entries;                  /* log entries applied (old format: 1, the log) */
    int pages;                    /* page references (new format) or 512-byte pages (old) applied */
    uint32_t first_seq, last_seq; /* of the applied entries (new format) */
    char why[256];                /* why DIRTY: for the user's message */
};

/* 1 if the base block of primary says the hive is dirty (bad checksum, or
 * sequence numbers that differ), 0 if clean, -EINVAL if it is not a hive
 * (no "regf", too short). */
int p2v_hive_is_dirty(const uint8_t *primary, size_t len);

/* The base block checksum per the spec (XOR of the first 127 dwords;
 * 0 -> 1, 0xFFFFFFFF -> 0xFFFFFFFE). */
uint32_t p2v_hive_checksum(const uint8_t *base);

/* Marvin32 with the registry's seed (0x82EF4D887A4E55C5), as the spec
 * defines for log entries.  Any length; the registry hashes whole dwords. */
uint64_t p2v_marvin32(const uint8_t *p, size_t len);

/* Recovers primary (len bytes) with up to two logs (LOG1 and LOG2 in any
 * order: they are ordered by sequence number, never by name).  info may be
 * NULL.  The bytes must not change during the call.
 *
 * Clean primary: *out is a copy, state CLEAN, the logs are ignored.
 * Dirty primary and a log that replays: *out (malloc'd) is a clean hive:
 * the pages applied, hive bins size and Flags bit 0 from the last entry,
 * file type 0, both sequence numbers set to M, checksum recomputed; state
 * RECOVERED, 0.  *out_len is len, or more if the hive grew; it grows only
 * by as many bytes as the applied entries carry, and its bins never above
 * P2V_HIVE_MAX_BINS (an entry asking more stops the replay there).
 * New format: the spec's order (the log with the older base sequence
 * number first, unless it is older than the primary; the other if it
 * continues it); the first bad entry ends a log's run.  Old format: the
 * log whose last-written timestamp matches the primary's (of two, the
 * later); the replay stops at the first rebuilt hive bin that is not sound.
 * M is one above the last applied sequence number and above every one
 * ahead of it (modulo 2^32) in the primary's base block, the logs' base
 * blocks and every entry header with a valid header hash anywhere in
 * either log, stale and remnant ones too: no stale entry can ever look
 * newer than the hive, even after Windows rewrites the start of a log.
 * Dirty primary and no log that replays: -ENOENT, state DIRTY, why says
 * what was wrong with each log.
 * A damaged primary base block (bad checksum) is rebuilt from the log with
 * the newest entries, replayed alone, as Windows does; with no such log,
 * -EINVAL.  Not a hive (no "regf", too short, not a primary file): -EINVAL.
 * ignore_logs, dirty primary with a sound base block: a copy, state DIRTY,
 * 0: the caller accepts losing the logs' data; the sequence numbers are
 * still made equal to M (the primary's first one counting as the last
 * applied), so the logs can never be replayed over it later, checksum
 * recomputed.
 * -ENOMEM when out of memory.  On error *out is NULL. */
int p2v_hive_recover(const uint8_t *primary, size_t len, const struct p2v_hive_log *logs, int nlogs,
                     int ignore_logs, uint8_t **out, size_t *out_len, struct p2v_hive_recovery *info);

#endif
