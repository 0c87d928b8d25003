/* The NTFS scrub map (see scrub_ntfs.h): runs of MFT records and of the
 * $LogFile from libntfs-3g's runlists, and one raw pass over $MFT that
 * finds every index (then opened through libntfs-3g, which knows
 * attribute lists) and the file slack.  Everything read is hostile:
 * offsets and lengths are checked before use, and clusters outside the
 * volume, or of its own metadata, are never taken from a file or index. */
#include "scrub_ntfs.h"

#include "core/bytes.h"
#include "core/log.h"
#include "core/plural.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/layout.h>
#include <ntfs-3g/mst.h>
#include <ntfs-3g/runlist.h>

enum {
    SCAN_CHUNK = 4 << 20,  /* bytes of $MFT per read in the raw pass */
    BITMAP_MAX = 8 << 20,  /* an index $BITMAP over this (256 GiB of 4 KiB blocks) is damage */
    FIRST_FILE = 24,       /* records below belong to the volume's own files */
};
/* Raw attribute types and flags, as on disk (little-endian). */
#define RAW_END 0xFFFFFFFFu
#define RAW_DATA 0x80u
#define RAW_INDEX_ALLOCATION 0xA0u
#define RAW_NO_SLACK 0x40FFu  /* compressed (any method) or encrypted */

/* An $INDEX_ALLOCATION found in the raw pass: its base record and name
 * (an offset into the scan's name pool). */
struct ixref {
    uint64_t base;
    uint32_t name;
    uint8_t len;
};

struct scan {
    ntfs_volume *vol;
    uint64_t start, size, cs, nclusters;
    const char *name;
    struct p2v_ranges *zero;
    struct p2v_scrub_map *scrub;
    struct p2v_scrub_counts *c;
    uint16_t v;               /* the volume's context in scrub */
    const uint8_t *mftbmp;    /* $MFT:$BITMAP, owned by scrub */
    uint64_t mft_bits;
    struct p2v_ranges guard;  /* the volume's own metadata, source offsets */
    struct ixref *ix;
    size_t nix, capix;
    ntfschar *names;
    size_t nnames, capnames;
    /* Damage, warned about once per kind at the end. */
    uint64_t bad_runs, guarded, bad_records, bad_indexes;
};

static uint64_t clamp(s64 v)
{
    return v > 0 ? (uint64_t)v : 0;
}

static int read_failed(struct scan *s, const char *what)
{
    p2v_err("%s: reading %s of the NTFS volume failed (%s); pass --keep-free-space to copy "
            "the volume as it is", s->name, what, strerror(errno ? errno : EIO));
    return -EIO;
}

typedef int (*piece_fn)(struct scan *s, void *arg, uint64_t k, uint64_t n, uint64_t off);

/* The whole units of [lo, hi) inside piece [a, b) of an attribute (bytes,
 * contiguous on disk at source offset d): fn gets the first unit's number
 * k (units counted from the attribute's byte 0), how many, and where. */
static int piece(struct scan *s, uint64_t a, uint64_t b, uint64_t d, uint64_t lo, uint64_t hi,
                 uint32_t unit, piece_fn fn, void *arg)
{
    uint64_t x = a > lo ? a : lo, y = b < hi ? b : hi;
    if (x >= y)
        return 0;
    uint64_t k0 = (x + unit - 1) / unit, k1 = y / unit;
    /* A unit that starts here and goes on elsewhere (a cluster smaller
     * than the unit) cannot be rewritten as one: it is left. */
    if (y < hi && y % unit && y / unit * unit >= x)
        s->c->skipped_units++;
    return k1 > k0 ? fn(s, arg, k0, k1 - k0, d + (k0 * unit - a)) : 0;
}

/* Maps [lo, hi) of an attribute through its runlist, joining runs that
 * continue each other on disk, and hands the whole units to fn.  Holes
 * have nothing on disk; runs outside the volume are dropped (counted). */
static int walk(struct scan *s, const runlist_element *rl, uint64_t lo, uint64_t hi,
                uint32_t unit, piece_fn fn, void *arg)
{
    uint64_t cs = s->cs, limit = (uint64_t)INT64_MAX / cs;
    uint64_t pa = 0, pb = 0, pd = 0;  /* the piece so far: [pa, pb) at pd */
    int r = 0;
    for (; r == 0 && rl && rl->length > 0; rl++) {
        uint64_t vcn = (uint64_t)rl->vcn, len = (uint64_t)rl->length;
        if (rl->vcn < 0 || vcn > limit || len > limit - vcn)
            break;  /* past any byte an attribute can have */
        uint64_t a = vcn * cs, b = (vcn + len) * cs;
        if (a >= hi)
            break;
        if (rl->lcn < 0 || b <= lo)
            continue;  /* a hole, or before the range */
        uint64_t lcn = (uint64_t)rl->lcn;
        if (lcn >= s->nclusters || len > s->nclusters - lcn) {
            s->bad_runs++;
            continue;
        }
        uint64_t d = s->start + lcn * cs;
        if (pb > pa && a == pb && d == pd + (pb - pa)) {
            pb = b;
            continue;
        }
        if (pb > pa)
            r = piece(s, pa, pb, pd, lo, hi, unit, fn, arg);
        pa = a, pb = b, pd = d;
    }
    if (r == 0 && pb > pa)
        r = piece(s, pa, pb, pd, lo, hi, unit, fn, arg);
    return r;
}

/* 1 when [off, off+len) touches the volume's own metadata: a file or an
 * index that claims those clusters is damage, and zeros there would break
 * the volume. */
static int guarded(struct scan *s, uint64_t off, uint64_t len)
{
    size_t i = p2v_ranges_find(&s->guard, off);
    if (i < s->guard.n && s->guard.r[i].start < off + len) {
        s->guarded++;
        return 1;
    }
    return 0;
}

static int guard_piece(struct scan *s, void *arg, uint64_t k, uint64_t n, uint64_t off)
{
    (void)arg, (void)k;
    return p2v_ranges_add(&s->guard, off, n);
}

/* Records k.. of $MFT or $MFTMirr: the same numbers get the same rewrite. */
static int mft_piece(struct scan *s, void *arg, uint64_t k, uint64_t n, uint64_t off)
{
    (void)arg;
    uint32_t rs = s->vol->mft_record_size;
    struct p2v_scrub_run run = { .start = off, .len = n * rs, .first = k, .unit = rs,
                                 .vol = s->v, .kind = P2V_SCRUB_MFT };
    return p2v_scrub_map_add(s->scrub, &run);
}

static int fill_piece(struct scan *s, void *arg, uint64_t k, uint64_t n, uint64_t off)
{
    (void)arg, (void)k;
    struct p2v_scrub_run run = { .start = off, .len = n, .vol = s->v, .kind = P2V_SCRUB_FILL_FF };
    return p2v_scrub_map_add(s->scrub, &run);
}

struct zero_arg {
    uint64_t *bytes;
    int guard;  /* claimed by a file: check against the metadata */
};

static int zero_piece(struct scan *s, void *arg, uint64_t k, uint64_t n, uint64_t off)
{
    (void)k;
    struct zero_arg *z = arg;
    if (z->guard && guarded(s, off, n))
        return 0;
    *z->bytes += n;
    return p2v_ranges_add(s->zero, off, n);
}

struct indx_arg {
    const uint8_t *bitmap;  /* one bit per block, covering the blocks walked */
    uint32_t bs;
};

/* Index blocks k..k+n: in use (bit set) rewritten, the others zeros
 * (ntfs-3g builds a block from scratch when it takes one). */
static int indx_piece(struct scan *s, void *arg, uint64_t k, uint64_t n, uint64_t off)
{
    const struct indx_arg *x = arg;
    int r = 0;
    for (uint64_t j = k, e; r == 0 && j < k + n; j = e) {
        int used = x->bitmap[j / 8] >> (j % 8) & 1;
        for (e = j + 1; e < k + n && (x->bitmap[e / 8] >> (e % 8) & 1) == used; e++)
            ;
        uint64_t at = off + (j - k) * x->bs, len = (e - j) * x->bs;
        if (guarded(s, at, len))
            continue;
        if (used) {
            struct p2v_scrub_run run = { .start = at, .len = len, .unit = x->bs, .vol = s->v,
                                         .kind = P2V_SCRUB_INDX };
            r = p2v_scrub_map_add(s->scrub, &run);
        } else {
            s->c->index_unused_bytes += len;
            r = p2v_ranges_add(s->zero, at, len);
        }
    }
    return r;
}

/* Reads $MFT:$BITMAP whole and registers the volume's context; *nrec =
 * the records up to $MFT's initialized size (bounded by the volume). */
static int setup_vol(struct scan *s, uint64_t *nrec)
{
    ntfs_volume *vol = s->vol;
    uint32_t rs = vol->mft_record_size;
    uint64_t nd = clamp(vol->mft_na->data_size) / rs, cap = s->size / rs;
    if (nd > cap)
        nd = cap;
    uint64_t ni = clamp(vol->mft_na->initialized_size) / rs;
    *nrec = ni < nd ? ni : nd;
    uint64_t bytes = (nd + 7) / 8, have = clamp(vol->mftbmp_na->data_size);
    if (bytes > have)
        bytes = have;
    uint8_t *bm = malloc(bytes ? bytes : 1);
    if (!bm)
        return -ENOMEM;
    errno = 0;
    if (bytes && ntfs_attr_pread(vol->mftbmp_na, 0, (s64)bytes, bm) != (s64)bytes) {
        int r = read_failed(s, "$MFT:$BITMAP");
        free(bm);
        return r;
    }
    /* Records past the bitmap count as in use: only their slack goes. */
    struct p2v_scrub_vol v = { .start = s->start, .size = s->size, .mft_bitmap = bm,
                               .mft_bits = bytes * 8 < nd ? bytes * 8 : nd,
                               .ntfs_version = P2V_NTFS_VERSION(vol->major_ver, vol->minor_ver) };
    s->mftbmp = bm;
    s->mft_bits = v.mft_bits;
    return p2v_scrub_map_vol(s->scrub, &v, &s->v);
}

/* The volume's own metadata, never zeroed for a file's or an index's
 * claim: the boot sector's cluster, $MFT, $MFTMirr, $Bitmap, $LogFile. */
static int build_guard(struct scan *s, ntfs_attr *log)
{
    ntfs_attr *own[] = { s->vol->mft_na, s->vol->mftmirr_na, s->vol->lcnbmp_na, log };
    uint64_t bad = s->bad_runs;  /* counted once, when the runs are used */
    int r = p2v_ranges_add(&s->guard, s->start, s->cs);
    for (size_t i = 0; r == 0 && i < sizeof own / sizeof *own; i++)
        if (NAttrNonResident(own[i]))
            r = walk(s, own[i]->rl, 0, UINT64_MAX, 1, guard_piece, NULL);
    p2v_ranges_finish(&s->guard);
    s->bad_runs = bad;
    return r;
}

/* $MFT's records, its tail past the initialized size (ntfs-3g formats
 * records there itself before use, mkntfs leaves zeros) and $MFTMirr's
 * records, which ntfs-3g compares with $MFT's on every mount. */
static int mft_runs(struct scan *s, uint64_t nrec)
{
    ntfs_attr *mft = s->vol->mft_na, *mirr = s->vol->mftmirr_na;
    uint32_t rs = s->vol->mft_record_size;
    int r = walk(s, mft->rl, 0, nrec * rs, rs, mft_piece, NULL);
    uint64_t init = clamp(mft->initialized_size), alloc = clamp(mft->allocated_size);
    struct zero_arg z = { &s->c->mft_free_bytes, 0 };
    if (r == 0 && init < alloc)
        r = walk(s, mft->rl, init, alloc, 1, zero_piece, &z);
    uint64_t nm = clamp(mirr->initialized_size) / rs;
    if (r == 0 && NAttrNonResident(mirr))
        r = walk(s, mirr->rl, 0, (nm < nrec ? nm : nrec) * rs, rs, mft_piece, NULL);
    return r;
}

/* 1 when the attributes of fixed-up record b are well formed up to the end
 * marker inside bytes_in_use: only then is anything taken from it. */
static int attrs_ok(const uint8_t *b, uint32_t ao, uint32_t biu)
{
    for (uint32_t off = ao; off + 4 <= biu;) {
        if (get_le32(b + off) == RAW_END)
            return 1;
        if (biu - off < 24)
            return 0;
        uint32_t len = get_le32(b + off + 4), nl = b[off + 9], no = get_le16(b + off + 10);
        if (len < 24 || len % 8 || len > biu - off || (nl && no + 2 * nl > len))
            return 0;
        if (b[off + 8] && len < 0x40)
            return 0;  /* shorter than a non-resident header */
        off += len;
    }
    return 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

static int add_index(struct scan *s, uint64_t base, const uint8_t *name, uint8_t len)
{
    if (s->nnames + len > UINT32_MAX ||
        grow((void **)&s->ix, &s->capix, s->nix + 1, sizeof *s->ix) < 0 ||
        grow((void **)&s->names, &s->capnames, s->nnames + len, sizeof *s->names) < 0)
        return -ENOMEM;
    memcpy(s->names + s->nnames, name, 2u * len);
    s->ix[s->nix++] = (struct ixref){ base, (uint32_t)s->nnames, len };
    s->nnames += len;
    return 0;
}

/* The slack of a file's non-resident $DATA a (its first extent): NTFS
 * reads what lies past initialized_size as zeros, so it becomes zeros.
 * Only when the whole runlist is in this extent. */
static int add_slack(struct scan *s, const uint8_t *a)
{
    if (get_le16(a + 0x0C) & RAW_NO_SLACK)
        return 0;  /* compressed units hold packed data; EFS pads with its own */
    /* From the end of the data, not of the valid data: writers below
     * NTFS (the hibernation and shadow-copy paths) may leave the valid
     * data length behind what they wrote. */
    uint64_t alloc = get_le64(a + 0x28), size = get_le64(a + 0x30), init = get_le64(a + 0x38);
    if (init < size)
        init = size;
    if (init >= alloc || alloc > INT64_MAX)
        return 0;
    errno = 0;
    runlist_element *rl = ntfs_mapping_pairs_decompress(s->vol, (const ATTR_RECORD *)a, NULL);
    if (!rl) {
        if (errno == ENOMEM)
            return -ENOMEM;
        s->bad_records++;
        return 0;
    }
    const runlist_element *end = rl;
    while (end->length)
        end++;
    int r = 0;
    if (end->lcn == LCN_ENOENT) {  /* not LCN_RL_NOT_MAPPED: no extent follows */
        struct zero_arg z = { &s->c->file_slack_bytes, 1 };
        r = walk(s, rl, init, alloc, 1, zero_piece, &z);
    }
    free(rl);
    return r;
}

/* One record in use per $MFT:$BITMAP, as read (b is a copy). */
static int record(struct scan *s, uint8_t *b, uint64_t recno)
{
    uint32_t rs = s->vol->mft_record_size;
    if (memcmp(b, "FILE", 4) != 0 || ntfs_mst_post_read_fixup_warn((NTFS_RECORD *)b, rs, FALSE) < 0) {
        s->bad_records++;
        return 0;
    }
    if (!(get_le16(b + 0x16) & 1))
        return 0;  /* not MFT_RECORD_IN_USE: a record being freed */
    uint32_t ao = get_le16(b + 0x14), biu = get_le32(b + 0x18);
    uint64_t bref = get_le64(b + 0x20), base = bref ? MREF(bref) : recno;
    if (biu > rs || ao < 0x30 || ao % 8 || !attrs_ok(b, ao, biu)) {
        s->bad_records++;
        return 0;
    }
    int r = 0;
    for (uint32_t off = ao, len; r == 0 && get_le32(b + off) != RAW_END; off += len) {
        const uint8_t *a = b + off;
        len = get_le32(a + 4);
        if (!a[8] || get_le64(a + 0x10) != 0)
            continue;  /* resident, or not the first extent (lowest_vcn) */
        if (get_le32(a) == RAW_INDEX_ALLOCATION)
            r = add_index(s, base, a + get_le16(a + 10), a[9]);
        else if (get_le32(a) == RAW_DATA && base >= FIRST_FILE)
            r = add_slack(s, a);
    }
    return r;
}

/* One pass over $MFT up to its initialized size, in large reads, never an
 * inode opened per record (a million files take about a second). */
static int raw_pass(struct scan *s, uint64_t nrec)
{
    uint32_t rs = s->vol->mft_record_size;
    uint64_t per = SCAN_CHUNK / rs;
    uint8_t *buf = malloc((size_t)per * rs);
    if (!buf)
        return -ENOMEM;
    int r = 0;
    for (uint64_t first = 0; r == 0 && first < nrec; first += per) {
        uint64_t n = nrec - first < per ? nrec - first : per;
        s64 want = (s64)(n * rs);
        errno = 0;
        if (ntfs_attr_pread(s->vol->mft_na, (s64)(first * rs), want, buf) != want) {
            r = read_failed(s, "$MFT");
            break;
        }
        for (uint64_t i = 0; r == 0 && i < n; i++) {
            uint64_t rec = first + i;
            if (rec < s->mft_bits && !(s->mftbmp[rec / 8] >> (rec % 8) & 1))
                continue;
            r = record(s, buf + i * rs, rec);
        }
    }
    free(buf);
    return r;
}

/* The blocks of one index: block i at byte i * block size of its
 * $INDEX_ALLOCATION (ntfs-3g numbers them in clusters, or in 512-byte
 * units for blocks smaller than a cluster: the same bytes), up to its
 * initialized size and its $BITMAP. */
static int one_index(struct scan *s, ntfs_inode *ni, ntfschar *name, uint8_t len)
{
    ntfs_attr *na = ntfs_attr_open(ni, AT_INDEX_ALLOCATION, name, len);
    ntfs_attr *bna = na ? ntfs_attr_open(ni, AT_BITMAP, name, len) : NULL;
    /* Only the root's header: an $INDEX_ROOT is resident and small, and
     * one that claims otherwise is not read whole. */
    ntfs_attr *rna = bna ? ntfs_attr_open(ni, AT_INDEX_ROOT, name, len) : NULL;
    uint8_t root[16];
    uint32_t bs = rna && !NAttrNonResident(rna) && ntfs_attr_pread(rna, 0, 16, root) == 16
                      ? get_le32(root + 8) : 0;  /* index_block_size */
    uint64_t n = bs ? clamp(na->initialized_size) / bs : 0, want = (n + 7) / 8;
    uint8_t *bitmap = NULL;
    int r = 0;
    if (bs < 512 || bs > 65536 || (bs & (bs - 1)) || !NAttrNonResident(na) ||
        n > s->size / bs || want > BITMAP_MAX || ntfs_attr_map_whole_runlist(na) < 0) {
        s->bad_indexes++;  /* no $BITMAP or $INDEX_ROOT, or one that makes no sense */
    } else if (!(bitmap = malloc(want ? want : 1))) {
        r = -ENOMEM;
    } else {
        if (want > clamp(bna->data_size))
            want = clamp(bna->data_size);
        errno = 0;
        if (want && ntfs_attr_pread(bna, 0, (s64)want, bitmap) != (s64)want) {
            s->bad_indexes++;  /* unreadable: this index is served as it is */
        } else {
            struct indx_arg x = { bitmap, bs };
            if (n > want * 8)
                n = want * 8;
            r = walk(s, na->rl, 0, n * bs, bs, indx_piece, &x);
        }
    }
    free(bitmap);
    if (rna)
        ntfs_attr_close(rna);
    if (bna)
        ntfs_attr_close(bna);
    if (na)
        ntfs_attr_close(na);
    return r;
}

static int by_base(const void *a, const void *b)
{
    const struct ixref *x = a, *y = b;
    return x->base < y->base ? -1 : x->base > y->base;
}

/* Every index the raw pass found, each once, opened through libntfs-3g
 * (its runlist may be spread over extension records). */
static int indexes(struct scan *s)
{
    qsort(s->ix, s->nix, sizeof *s->ix, by_base);
    int r = 0;
    for (size_t i = 0; r == 0 && i < s->nix; i++) {
        const struct ixref *x = &s->ix[i];
        int dup = 0;
        for (size_t j = i; !dup && j-- > 0 && s->ix[j].base == x->base;)
            dup = s->ix[j].len == x->len &&
                  !memcmp(s->names + s->ix[j].name, s->names + x->name, 2u * x->len);
        if (dup)
            continue;  /* two records name it: once is enough */
        ntfs_inode *ni = ntfs_inode_open(s->vol, (MFT_REF)x->base);
        if (!ni) {
            s->bad_indexes++;
            continue;
        }
        r = one_index(s, ni, s->names + x->name, x->len);
        ntfs_inode_close(ni);
    }
    return r;
}

/* $LogFile reads as all 0xFF, the empty log of mkntfs and ntfs-3g
 * (ntfs_empty_logfile): the volume is clean, nothing in it is needed. */
static int add_log(struct scan *s, ntfs_attr *log)
{
    if (!NAttrNonResident(log))
        return 0;
    return walk(s, log->rl, 0, clamp(log->data_size), 1, fill_piece, NULL);
}

/* The whole runlist of a non-resident attribute; a resident one has none. */
static int map(ntfs_attr *na)
{
    return NAttrNonResident(na) ? ntfs_attr_map_whole_runlist(na) : 0;
}

static void report(const struct scan *s)
{
    if (s->bad_runs)
        p2v_warn("%s: %llu NTFS run%s outside the volume left as %s (the volume is damaged: "
                 "run chkdsk /f on the source)", s->name, (unsigned long long)s->bad_runs,
                 p2v_s(s->bad_runs), s->bad_runs == 1 ? "it is" : "they are");
    if (s->guarded)
        p2v_warn("%s: %llu NTFS file or index run%s over clusters of $MFT, $MFTMirr, $Bitmap or "
                 "$LogFile left as %s (the volume is damaged: run chkdsk /f on the source)",
                 s->name, (unsigned long long)s->guarded, p2v_s(s->guarded),
                 s->guarded == 1 ? "it is" : "they are");
    if (s->bad_records)
        p2v_warn("%s: %llu NTFS MFT record%s in use could not be parsed (torn or damaged); "
                 "their index blocks and file slack are copied as they are", s->name,
                 (unsigned long long)s->bad_records, p2v_s(s->bad_records));
    if (s->bad_indexes)
        p2v_warn("%s: %llu NTFS ind%s could not be read (no usable $INDEX_ROOT or $BITMAP); "
                 "their blocks are copied as they are, deleted names included", s->name,
                 (unsigned long long)s->bad_indexes, s->bad_indexes == 1 ? "ex" : "ices");
}

int p2v_scrub_ntfs(ntfs_volume *vol, uint64_t start, uint64_t size, const char *name,
                   struct p2v_ranges *zero, struct p2v_scrub_map *scrub,
                   struct p2v_scrub_counts *c)
{
    uint32_t rs = vol->mft_record_size;
    if (rs < 512 || rs > 65536 || vol->cluster_size < 512) {
        p2v_warn("%s: NTFS records of %u bytes (clusters of %u) are not scrubbed; deleted data "
                 "in the volume's metadata is copied as it is", name, rs, vol->cluster_size);
        return 0;
    }
    struct scan s = { .vol = vol, .start = start, .size = size, .cs = vol->cluster_size,
                      .name = name, .zero = zero, .scrub = scrub, .c = c };
    s.nclusters = clamp(vol->nr_clusters) < size / s.cs ? clamp(vol->nr_clusters) : size / s.cs;
    ntfs_inode *log_ni = ntfs_inode_open(vol, FILE_LogFile);
    ntfs_attr *log = log_ni ? ntfs_attr_open(log_ni, AT_DATA, AT_UNNAMED, 0) : NULL;
    uint64_t nrec = 0;
    int r;
    errno = 0;
    if (!log || map(vol->mft_na) < 0 || map(vol->mftmirr_na) < 0 || map(vol->lcnbmp_na) < 0 ||
        map(log) < 0)
        r = read_failed(&s, "the runlists of $MFT, $MFTMirr, $Bitmap or $LogFile");
    else if ((r = setup_vol(&s, &nrec)) == 0 && (r = build_guard(&s, log)) == 0 &&
             (r = mft_runs(&s, nrec)) == 0 && (r = add_log(&s, log)) == 0 &&
             (r = raw_pass(&s, nrec)) == 0)
        r = indexes(&s);
    if (r == 0)
        report(&s);
    if (log)
        ntfs_attr_close(log);
    if (log_ni)
        ntfs_inode_close(log_ni);
    p2v_ranges_free(&s.guard);
    free(s.ix);
    free(s.names);
    return r;
}
