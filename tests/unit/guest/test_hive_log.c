/* Registry transaction log replay: the spec's checksum and Marvin32; the
 * real dirty Windows 10 hive recovered as the reference works it out, in
 * either log order, checked with hivexget (not p2v's code); the clean
 * Windows 7 hive left alone; refusals of missing, cut, damaged and stale
 * logs; and the old and new log formats on hand-made logs.  Damaged and
 * hostile logs by the thousand: test_hive_log_damage.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tests/unit/guest/hive_log_fixture.h"

/* ---- the spec's arithmetic ---- */

static void checksum_cases(void **state)
{
    (void)state;
    uint8_t b[512] = { 0 };
    assert_int_equal(p2v_hive_checksum(b), 1);              /* XOR 0 is stored as 1 */
    put_le32(b + 100, 0xFFFFFFFFu);
    assert_int_equal(p2v_hive_checksum(b), 0xFFFFFFFEu);    /* ~0 as ~1 */
    put_le32(b, 0x12345678u);
    assert_int_equal(p2v_hive_checksum(b), 0x12345678u ^ 0xFFFFFFFFu);
    put_le32(b + 508, 0xDEADBEEFu);                         /* the checksum field is not summed */
    assert_int_equal(p2v_hive_checksum(b), 0x12345678u ^ 0xFFFFFFFFu);
    assert_int_equal(p2v_hive_checksum(prim.d), 0x8F1B7EEBu);
    assert_int_equal(get_le32(prim.d + 508), 0x8F1B7EEBu);
    assert_int_equal(p2v_hive_checksum(win7.d), get_le32(win7.d + 508));
    assert_int_equal(p2v_hive_is_dirty(prim.d, prim.len), 1);   /* 1622/1621 */
    assert_int_equal(p2v_hive_is_dirty(win7.d, win7.len), 0);
    assert_int_equal(p2v_hive_is_dirty(win7.d, 4095), -EINVAL);
    assert_int_equal(p2v_hive_is_dirty(b, sizeof b), -EINVAL);
    struct buf bad = dup_buf(win7.d, 8192);
    bad.d[300] ^= 1;                                        /* bad checksum: dirty */
    assert_int_equal(p2v_hive_is_dirty(bad.d, bad.len), 1);
    memcpy(bad.d, "regg", 4);
    assert_int_equal(p2v_hive_is_dirty(bad.d, bad.len), -EINVAL);
    free(bad.d);
}

static void marvin32_vector(void **state)
{
    (void)state;
    static const char hex[] = "48764c45003e0000010000003b0800000030bd0003000000c4812cbea1b6704b";
    uint8_t v[32];
    for (int i = 0; i < 32; i++)
        assert_int_equal(sscanf(hex + 2 * i, "%2hhx", &v[i]), 1);
    assert_true(p2v_marvin32(v, 32) == 0xdd88c5d7df48f30aull);
    /* The same bytes are LOG1's first entry; its two stored hashes agree. */
    const uint8_t *e = log1.d + 512;
    assert_memory_equal(e, v, 32);
    assert_true(get_le64(e + 32) == 0xdd88c5d7df48f30aull);
    assert_true(p2v_marvin32(e + 40, get_le32(e + 4) - 40) == get_le64(e + 24));
}

/* ---- the worked example ---- */

static void worked_example(void **state)
{
    (void)state;
    struct p2v_hive_log logs[2] = { as_log(&log1, "SYSTEM.LOG1"), as_log(&log2, "SYSTEM.LOG2") };
    struct p2v_hive_recovery info;
    struct buf out;
    assert_int_equal(recover(&prim, logs, 2, 0, &out, &info), 0);
    assert_int_equal(info.state, P2V_HIVE_RECOVERED);
    assert_int_equal(info.seq1, 1622);
    assert_int_equal(info.seq2, 1621);
    assert_int_equal(info.entries, 24);
    assert_int_equal(info.pages, 315);
    assert_int_equal(info.first_seq, 2107);
    assert_int_equal(info.last_seq, 2130);
    assert_int_equal(get_le32(out.d + 40), 0xC02000);
    assert_int_equal(get_le32(out.d + 144) & 1, 1);
    assert_true(out.len >= 4096 + 0xC02000);
    assert_sha256(out.d + 4096, 0xC02000, SHA_BINS);
    assert_int_equal(assert_sound(&out), 2748);             /* 2704 bins before */
    /* M: equal, above every entry header of either log, stale ones too. */
    uint32_t m = get_le32(out.d + 4);
    assert_int_equal(get_le32(out.d + 8), m);
    assert_int_equal(info.seq, m);
    assert_true(m > 2130 && m > highest_header_seq(&log1) && m > highest_header_seq(&log2));
    print_message("M on the sample: %u (last applied 2130, highest header %u/%u)\n", m,
                  highest_header_seq(&log1), highest_header_seq(&log2));
    /* Every other header byte as yarp writes it: at yarp's 2130 its checksum. */
    struct buf hdr = dup_buf(out.d, 4096);
    put_le32(hdr.d + 4, 2130);
    put_le32(hdr.d + 8, 2130);
    assert_int_equal(p2v_hive_checksum(hdr.d), 0x8F666EE8u);
    free(hdr.d);

    /* The order the logs come in does not matter. */
    struct p2v_hive_log swapped[2] = { logs[1], logs[0] };
    struct p2v_hive_recovery info2;
    struct buf out2;
    assert_int_equal(recover(&prim, swapped, 2, 0, &out2, &info2), 0);
    assert_int_equal(out2.len, out.len);
    assert_memory_equal(out2.d, out.d, out.len);
    assert_int_equal(info2.entries, 24);
    free(out2.d);
    free(out.d);
}

static void worked_example_hivexget(void **state)
{
    (void)state;
    struct p2v_hive_log logs[2] = { as_log(&log2, NULL), as_log(&log1, NULL) };
    struct buf out;
    char v[256];
    assert_int_equal(recover(&prim, logs, 2, 0, &out, NULL), 0);
    assert_int_equal(hivexget(&out, "\\ControlSet001\\Services\\SharedAccess\\Epoch", "Epoch", v, sizeof v), 0);
    assert_string_equal(v, "435");
    assert_int_equal(hivexget(&out, "\\ControlSet001\\Services\\ad_driver", "DisplayName", v, sizeof v), 0);
    assert_string_equal(v, "AccessData Driver");
    free(out.d);
    /* The primary alone holds the older data. */
    assert_int_equal(hivexget(&prim, "\\ControlSet001\\Services\\SharedAccess\\Epoch", "Epoch", v, sizeof v), 0);
    assert_string_equal(v, "431");
    assert_true(hivexget(&prim, "\\ControlSet001\\Services\\ad_driver", "DisplayName", v, sizeof v) != 0);
}

/* Either log alone replays as the spec says: LOG1's 4 entries (their pages
 * are already in the primary), or LOG2's 20 (the gap above the primary is
 * a partial reconcile): then the same bins as both. */
static void one_log_alone(void **state)
{
    (void)state;
    struct p2v_hive_log l1 = as_log(&log1, "LOG1"), l2 = as_log(&log2, "LOG2");
    struct p2v_hive_recovery info;
    struct buf out;
    assert_int_equal(recover(&prim, &l1, 1, 0, &out, &info), 0);
    assert_int_equal(info.state, P2V_HIVE_RECOVERED);
    assert_int_equal(info.entries, 4);
    assert_int_equal(info.pages, 10);
    assert_int_equal(info.last_seq, 2110);
    assert_true(info.seq > 2110);
    assert_memory_equal(out.d + 4096, prim.d + 4096, 0xBD3000);
    assert_int_equal(get_le32(out.d + 40), 0xBD3000);
    assert_sound(&out);
    free(out.d);
    assert_int_equal(recover(&prim, &l2, 1, 0, &out, &info), 0);
    assert_int_equal(info.entries, 20);
    assert_int_equal(info.pages, 305);
    assert_int_equal(info.first_seq, 2111);
    assert_true(info.seq > 2130);
    assert_sha256(out.d + 4096, 0xC02000, SHA_BINS);
    free(out.d);
}

static void clean_win7(void **state)
{
    (void)state;
    /* Logs beside a clean hive are ignored, even newer ones. */
    struct p2v_hive_log logs[2] = { as_log(&log1, NULL), as_log(&log2, NULL) };
    struct p2v_hive_recovery info;
    struct buf out;
    assert_int_equal(recover(&win7, logs, 2, 0, &out, &info), 0);
    assert_int_equal(info.state, P2V_HIVE_CLEAN);
    assert_int_equal(info.seq1, 13983);
    assert_int_equal(info.seq, 13983);
    assert_int_equal(info.entries, 0);
    assert_int_equal(out.len, win7.len);
    assert_memory_equal(out.d, win7.d, win7.len);
    free(out.d);
}

/* ---- refusals ---- */

static void refuse_missing_and_cut_logs(void **state)
{
    (void)state;
    struct p2v_hive_recovery info;
    struct buf out = { (uint8_t *)1, 1 };
    assert_int_equal(recover(&prim, NULL, 0, 0, &out, &info), -ENOENT);
    assert_int_equal(info.state, P2V_HIVE_DIRTY);
    assert_null(out.d);
    assert_non_null(strstr(info.why, "no transaction logs"));
    struct p2v_hive_log absent[2] = { { NULL, 0, "SYSTEM.LOG1" }, { log2.d, 0, "SYSTEM.LOG2" } };
    assert_int_equal(recover(&prim, absent, 2, 0, &out, &info), -ENOENT);
    assert_non_null(strstr(info.why, "SYSTEM.LOG1: missing"));
    /* LOG2 cut in the middle of its first entry (0x200 .. 0x3000). */
    struct p2v_hive_log cut = { log2.d, 0x1900, "SYSTEM.LOG2" };
    assert_int_equal(recover(&prim, &cut, 1, 0, &out, &info), -ENOENT);
    assert_non_null(strstr(info.why, "SYSTEM.LOG2: damaged at offset 0x200"));
    print_message("why: %s\n", info.why);
    /* With LOG1: LOG1 replays, the cut LOG2 cannot continue it. */
    struct p2v_hive_log both[2] = { cut, as_log(&log1, "SYSTEM.LOG1") };
    assert_int_equal(recover(&prim, both, 2, 0, &out, &info), 0);
    assert_int_equal(info.entries, 4);
    assert_int_equal(info.last_seq, 2110);
    assert_true(info.seq > 2111);   /* above the cut log's first entry header */
    free(out.d);
    /* Logs too short for an entry count as absent. */
    struct p2v_hive_log stub = { log1.d, 552, "SYSTEM.LOG1" };
    assert_int_equal(recover(&prim, &stub, 1, 0, &out, &info), -ENOENT);
    assert_non_null(strstr(info.why, "too short"));
}

static void damaged_entries_stop(void **state)
{
    (void)state;
    struct p2v_hive_recovery info;
    struct buf out;
    /* A flipped page byte in LOG1's entry 2108: only 2107 applies, and LOG2
     * (2111) does not continue it. */
    struct buf l1 = dup_buf(log1.d, log1.len);
    l1.d[0x4100] ^= 0x40;
    struct p2v_hive_log logs[2] = { as_log(&l1, "LOG1"), as_log(&log2, "LOG2") };
    assert_int_equal(recover(&prim, logs, 2, 0, &out, &info), 0);
    assert_int_equal(info.entries, 1);
    assert_int_equal(info.pages, 3);
    assert_int_equal(info.last_seq, 2107);
    free(out.d);
    /* In LOG2's entry 2115: 2107 .. 2114 apply. */
    struct buf l2 = dup_buf(log2.d, log2.len);
    l2.d[0x5e000 + 0x1000] ^= 1;
    logs[0] = as_log(&log1, "LOG1");
    logs[1] = as_log(&l2, "LOG2");
    assert_int_equal(recover(&prim, logs, 2, 0, &out, &info), 0);
    assert_int_equal(info.entries, 8);
    assert_int_equal(info.pages, 10 + 2 + 47 + 2 + 5);
    assert_int_equal(info.last_seq, 2114);
    assert_true(info.seq > 2130);    /* the later entries still count for M */
    assert_sound(&out);
    free(out.d);
    /* A sequence number out of line (its header hash made right): stop there. */
    memcpy(l1.d, log1.d, log1.len);
    put_le32(l1.d + 0x7000 + 12, 2200);
    rehash(l1.d + 0x7000, l1.len - 0x7000);
    logs[0] = as_log(&l1, "LOG1");
    logs[1] = as_log(&log2, "LOG2");
    assert_int_equal(recover(&prim, logs, 2, 0, &out, &info), 0);
    assert_int_equal(info.entries, 2);
    assert_int_equal(info.last_seq, 2108);
    assert_true(info.seq > 2200);    /* and its number too */
    free(out.d);
    free(l1.d);
    free(l2.d);
}

static void stale_log_skipped(void **state)
{
    (void)state;
    struct p2v_hive_recovery info;
    struct buf out, p = dup_buf(prim.d, prim.len);
    struct p2v_hive_log logs[2] = { as_log(&log1, "/Windows/System32/config/SYSTEM.LOG1"),
                                    as_log(&log2, "/Windows/System32/config/SYSTEM.LOG2") };
    /* The primary's secondary 2108: LOG1 (2107) is older, LOG2 replays alone. */
    put_le32(p.d + 4, 2112);
    put_le32(p.d + 8, 2108);
    reseal(p.d);
    assert_int_equal(recover(&p, logs, 2, 0, &out, &info), 0);
    assert_int_equal(info.entries, 20);
    assert_int_equal(info.first_seq, 2111);
    assert_sha256(out.d + 4096, 0xC02000, SHA_BINS);
    free(out.d);
    /* Both older than the primary. */
    put_le32(p.d + 4, 2300);
    put_le32(p.d + 8, 2200);
    reseal(p.d);
    assert_int_equal(recover(&p, logs, 2, 0, &out, &info), -ENOENT);
    assert_non_null(strstr(info.why, "base sequence 2107 below the primary's secondary 2200"));
    assert_non_null(strstr(info.why, "; SYSTEM.LOG2: does not continue the primary: base sequence 2111 "
                                     "below the primary's secondary 2200"));
    print_message("why: %s\n", info.why);
    free(p.d);
}

static void ignore_logs_seals(void **state)
{
    (void)state;
    struct p2v_hive_recovery info;
    struct buf out;
    struct p2v_hive_log logs[2] = { as_log(&log1, NULL), as_log(&log2, NULL) };
    assert_int_equal(recover(&prim, logs, 2, 1, &out, &info), 0);
    assert_int_equal(info.state, P2V_HIVE_DIRTY);
    assert_int_equal(out.len, prim.len);
    assert_memory_equal(out.d + 4096, prim.d + 4096, prim.len - 4096);
    assert_int_equal(get_le32(out.d + 40), get_le32(prim.d + 40));
    uint32_t m = get_le32(out.d + 4);
    assert_int_equal(get_le32(out.d + 8), m);
    assert_true(m > 2130 && m > highest_header_seq(&log1) && m > highest_header_seq(&log2));
    assert_int_equal(p2v_hive_is_dirty(out.d, out.len), 0);
    assert_int_equal(get_le32(out.d + 508), p2v_hive_checksum(out.d));
    /* And sealed so, the logs never replay over it. */
    struct buf again;
    assert_int_equal(recover(&out, logs, 2, 0, &again, &info), 0);
    assert_int_equal(info.state, P2V_HIVE_CLEAN);
    assert_memory_equal(again.d, out.d, out.len);
    free(again.d);
    free(out.d);
}

static void not_a_hive(void **state)
{
    (void)state;
    struct p2v_hive_recovery info;
    struct buf out;
    struct buf junk = dup_buf(prim.d, 8192);
    memset(junk.d, 'A', 4);
    assert_int_equal(recover(&junk, NULL, 0, 0, &out, &info), -EINVAL);
    assert_null(out.d);
    free(junk.d);
    /* A log is not a primary. */
    assert_int_equal(recover(&log1, NULL, 0, 0, &out, &info), -EINVAL);
    assert_non_null(strstr(info.why, "file type 6"));
    assert_int_equal(p2v_hive_recover(prim.d, prim.len, NULL, 1, 0, &out.d, &out.len, &info), -EINVAL);
    assert_int_equal(p2v_hive_recover(prim.d, prim.len, NULL, 0, 0, NULL, &out.len, &info), -EINVAL);
}

/* A damaged primary base block is rebuilt from the log with the newest
 * entries, replayed alone (LOG2: the same bins); without logs, refused. */
static void damaged_primary_base_block(void **state)
{
    (void)state;
    struct p2v_hive_recovery info;
    struct buf out, p = dup_buf(prim.d, prim.len);
    p.d[300] ^= 0x5a;
    struct p2v_hive_log logs[2] = { as_log(&log1, NULL), as_log(&log2, NULL) };
    assert_int_equal(recover(&p, logs, 2, 0, &out, &info), 0);
    assert_int_equal(info.entries, 20);
    assert_int_equal(info.first_seq, 2111);
    assert_sha256(out.d + 4096, 0xC02000, SHA_BINS);
    assert_sound(&out);
    assert_memory_equal(out.d + 36, prim.d + 36, 4);    /* root cell, from LOG2's copy */
    free(out.d);
    assert_int_equal(recover(&p, NULL, 0, 0, &out, &info), -EINVAL);
    assert_int_equal(recover(&p, logs, 2, 1, &out, &info), -EINVAL);
    free(p.d);
}

static void old_format(void **state)
{
    (void)state;
    struct p2v_hive_recovery info;
    struct buf out, p = dirty_mini();
    uint64_t ts = get_le64(p.d + 12);
    struct buf good = old_log(&p, ts, 5), other = old_log(&p, ts + 1, 6);
    struct p2v_hive_log logs[2] = { as_log(&other, "SYSTEM.LOG2"), as_log(&good, "SYSTEM.LOG1") };
    assert_int_equal(recover(&p, logs, 2, 0, &out, &info), 0);
    assert_int_equal(info.state, P2V_HIVE_RECOVERED);
    assert_int_equal(info.pages, 9);
    assert_int_equal(out.len, 4096 + 0x2000);
    assert_memory_equal(out.d + 4096, p.d + 4096, 512);             /* page 0 kept */
    assert_memory_equal(out.d + 4096 + 512, good.d + 1024, 512);     /* bit 1 */
    assert_memory_equal(out.d + 4096 + 1024, p.d + 4096 + 1024, 3072);
    assert_memory_equal(out.d + 4096 + 4096, good.d + 1536, 4096);   /* bits 8..15 */
    assert_int_equal(get_le32(out.d + 40), 0x2000);
    assert_int_equal(get_le32(out.d + 144) & 1, 1);
    assert_true(info.seq > 6);      /* above the other log's too */
    assert_int_equal(assert_sound(&out), 2);
    char v[64];
    assert_int_equal(hivexget(&out, "\\", "", v, sizeof v), 0);   /* hivex opens it */
    free(out.d);
    /* The log of another timestamp alone: not applied. */
    assert_int_equal(recover(&p, logs, 1, 0, &out, &info), -ENOENT);
    assert_non_null(strstr(info.why, "timestamps differ"));
    /* Two applicable logs: the later one, whatever the order. */
    struct buf later = old_log(&p, ts, 7);
    later.d[1024] = 0x33;
    struct p2v_hive_log two[2] = { as_log(&good, NULL), as_log(&later, NULL) };
    for (int k = 0; k < 2; k++) {
        assert_int_equal(recover(&p, two, 2, 0, &out, &info), 0);
        assert_int_equal(out.d[4096 + 512], 0x33);
        free(out.d);
        struct p2v_hive_log t = two[0];
        two[0] = two[1];
        two[1] = t;
    }
    free(later.d);
    free(other.d);
    free(good.d);
    free(p.d);
}

static void old_format_refusals(void **state)
{
    (void)state;
    struct p2v_hive_recovery info;
    struct buf out, p = dirty_mini();
    struct buf l = old_log(&p, get_le64(p.d + 12), 5);
    struct p2v_hive_log lg = as_log(&l, "SYSTEM.LOG1");
    /* A bad new bin: the replay stops there; the hive ends before it. */
    l.d[1536] = 'x';
    assert_int_equal(recover(&p, &lg, 1, 0, &out, &info), 0);
    assert_int_equal(info.pages, 1);
    assert_int_equal(get_le32(out.d + 40), 0x1000);
    assert_sound(&out);
    free(out.d);
    l.d[1536] = 'h';
    /* Cut short: pages missing. */
    lg.len -= 512;
    assert_int_equal(recover(&p, &lg, 1, 0, &out, &info), -ENOENT);
    assert_non_null(strstr(info.why, "fewer pages"));
    lg.len += 512;
    /* No dirty vector; a clustering factor of 8. */
    l.d[512] = 'd';
    assert_int_equal(recover(&p, &lg, 1, 0, &out, &info), -ENOENT);
    l.d[512] = 'D';
    put_le32(l.d + 44, 8);
    reseal(l.d);
    assert_int_equal(recover(&p, &lg, 1, 0, &out, &info), -ENOENT);
    assert_non_null(strstr(info.why, "clustering factor"));
    /* It grows the hive by more than its pages: hive bins 64 KiB. */
    put_le32(l.d + 44, 1);
    put_le32(l.d + 40, 0x10000);
    reseal(l.d);
    assert_int_equal(recover(&p, &lg, 1, 0, &out, &info), -ENOENT);
    assert_non_null(strstr(info.why, "grows the hive"));
    free(l.d);
    free(p.d);
}


/* Logs the order does not tell apart: the same base sequence number. */
static void ties(void **state)
{
    (void)state;
    struct p2v_hive_recovery info;
    struct buf out, p = dirty_mini();
    /* Old format: the one with more pages; with only the new bin's pages
     * and a bad bin there, nothing applies. */
    struct buf more = old_log(&p, get_le64(p.d + 12), 5), fewer = dup_buf(more.d, more.len);
    fewer.d[516] = 0;
    memmove(fewer.d + 1024, fewer.d + 1536, 8 * 512);
    fewer.len -= 512;
    struct p2v_hive_log two[2] = { as_log(&fewer, NULL), as_log(&more, NULL) };
    for (int k = 0; k < 2; k++) {
        assert_int_equal(recover(&p, two, 2, 0, &out, &info), 0);
        assert_int_equal(info.pages, 9);
        free(out.d);
        struct p2v_hive_log t = two[0];
        two[0] = two[1];
        two[1] = t;
    }
    fewer.d[1024] = 'x';
    assert_int_equal(recover(&p, &two[two[0].data == more.d], 1, 0, &out, &info), -ENOENT);
    assert_non_null(strstr(info.why, "not sound"));
    /* New format: the longer run, whatever the order. */
    struct buf longer = new_log(&p, 5), shorter = new_log(&p, 5);
    shorter.len = 512 + get_le32(shorter.d + 516);
    struct p2v_hive_log nl[2] = { as_log(&shorter, "A"), as_log(&longer, "B") };
    for (int k = 0; k < 2; k++) {
        assert_int_equal(recover(&p, nl, 2, 0, &out, &info), 0);
        assert_int_equal(info.entries, 3);
        free(out.d);
        struct p2v_hive_log t = nl[0];
        nl[0] = nl[1];
        nl[1] = t;
    }
    free(longer.d);
    free(shorter.d);
    free(more.d);
    free(fewer.d);
    free(p.d);
}

/* A new-format log for the dirty minimal.hive: base sequence 5; entries
 * 5 (a page of the first bin), 6 (grows the hive by a bin), 7. */
static void new_format_by_hand(void **state)
{
    (void)state;
    struct p2v_hive_recovery info;
    struct buf out, p = dirty_mini(), l = new_log(&p, 5);
    struct p2v_hive_log lg = as_log(&l, "SYSTEM.LOG1");
    assert_int_equal(recover(&p, &lg, 1, 0, &out, &info), 0);
    assert_int_equal(info.entries, 3);
    assert_int_equal(info.pages, 4);
    assert_int_equal(out.len, 4096 + 0x2000);
    assert_int_equal(out.d[4096 + 0x200], 0x55);
    assert_int_equal(out.d[4096 + 0x400], 0x66);
    assert_int_equal(assert_sound(&out), 2);
    assert_int_equal(info.seq, 8);
    free(out.d);
    /* An authentic-looking entry asking for 2 GiB with one page: refused. */
    const uint32_t huge[] = { 0x7FFFE000, 0x1000 };
    put_entry(l.d + 512, 5, 0x7FFFF000, huge, 1, 0);
    assert_int_equal(recover(&p, &lg, 1, 0, &out, &info), -ENOENT);
    assert_non_null(strstr(info.why, "grows the hive"));
    /* A page beyond the entry's hive bins. */
    const uint32_t beyond[] = { 0x1000, 0x200 };
    put_entry(l.d + 512, 5, 0x1000, beyond, 1, 0);
    assert_int_equal(recover(&p, &lg, 1, 0, &out, &info), -ENOENT);
    assert_non_null(strstr(info.why, "beyond the hive bins"));
    free(l.d);
    /* Sequence numbers that wrap: LOG1 0xFFFFFFFE.., LOG2 0 continues it. */
    put_le32(p.d + 4, 0xFFFFFFF0u);
    put_le32(p.d + 8, 0xFFFFFFEFu);
    reseal(p.d);
    struct buf a = new_log(&p, 0xFFFFFFFEu), b = new_log(&p, 1);
    b.len = 512 + get_le32(b.d + 512 + 4);       /* entry 1 only ... */
    put_le32(b.d + 4, 0);                          /* ... renumbered 0 */
    put_le32(b.d + 8, 0);
    reseal(b.d);
    put_le32(b.d + 512 + 12, 0);
    rehash(b.d + 512, b.len - 512);
    a.len = 512 + get_le32(a.d + 516) + get_le32(a.d + 512 + get_le32(a.d + 516) + 4);  /* 2 entries */
    struct p2v_hive_log wrap[2] = { as_log(&b, NULL), as_log(&a, NULL) };
    assert_int_equal(recover(&p, wrap, 2, 0, &out, &info), 0);
    assert_int_equal(info.entries, 3);
    assert_int_equal(info.first_seq, 0xFFFFFFFEu);
    assert_int_equal(info.last_seq, 0);
    assert_int_equal(info.seq, 1);
    free(out.d);
    free(a.d);
    free(b.d);
    free(p.d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(checksum_cases),
        cmocka_unit_test(marvin32_vector),
        cmocka_unit_test(worked_example),
        cmocka_unit_test(worked_example_hivexget),
        cmocka_unit_test(one_log_alone),
        cmocka_unit_test(clean_win7),
        cmocka_unit_test(refuse_missing_and_cut_logs),
        cmocka_unit_test(damaged_entries_stop),
        cmocka_unit_test(stale_log_skipped),
        cmocka_unit_test(ignore_logs_seals),
        cmocka_unit_test(not_a_hive),
        cmocka_unit_test(damaged_primary_base_block),
        cmocka_unit_test(old_format),
        cmocka_unit_test(old_format_refusals),
        cmocka_unit_test(new_format_by_hand),
        cmocka_unit_test(ties),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

