#include "fsmap.h"
#include "scrub_ntfs.h"

#include "guest/ntfs_device.h"
#include "core/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/dir.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/logfile.h>

/* Why the volume must not be trimmed, or NULL.  Read-only mounts skip the
 * library's own checks, so they are made here. */
static const char *unsafe_state(ntfs_volume *vol, const char **state)
{
    if (ntfs_volume_check_hiberfile(vol, 0) < 0) {
        *state = errno == EPERM ? "hibernated" : "unclean";
        return errno == EPERM ? "hibernated (hibernation or Windows Fast Startup)"
                              : "unreadable (its hiberfil.sys could not be checked)";
    }
    *state = "dirty";
    if (vol->flags & (VOLUME_IS_DIRTY | VOLUME_CHKDSK_UNDERWAY))
        return "marked dirty (not shut down cleanly, or chkdsk pending)";
    *state = "unclean";
    const char *why = NULL;
    ntfs_inode *ni = ntfs_inode_open(vol, FILE_LogFile);
    ntfs_attr *na = ni ? ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0) : NULL;
    RESTART_PAGE_HEADER *rp = NULL;
    if (!na || !ntfs_check_logfile(na, &rp) || !ntfs_is_logfile_clean(na, rp))
        why = "not cleanly unmounted (its $LogFile holds unfinished transactions)";
    free(rp);
    if (!why)
        *state = "clean";
    if (na)
        ntfs_attr_close(na);
    if (ni)
        ntfs_inode_close(ni);
    return why;
}

/* Free clusters from $Bitmap, as disk byte ranges.  Bits past nr_clusters
 * are padding; the tail past the last cluster (the backup boot sector) is
 * not in the bitmap and stays. */
static int add_free(ntfs_volume *vol, uint64_t start, struct p2v_ranges *zero, uint64_t *bytes)
{
    enum { CHUNK = 65536 };
    uint8_t *buf = malloc(CHUNK);
    if (!buf)
        return -ENOMEM;
    uint64_t cs = vol->cluster_size, nr = (uint64_t)vol->nr_clusters, run = 0, lcn = 0;
    int r = 0;
    for (uint64_t pos = 0; r == 0 && lcn < nr; pos += CHUNK) {
        s64 n = ntfs_attr_pread(vol->lcnbmp_na, (s64)pos, CHUNK, buf);
        if (n <= 0) {
            r = -EIO;
            break;
        }
        for (s64 i = 0; i < n * 8 && lcn < nr; i++, lcn++) {
            if (!(buf[i / 8] >> (i % 8) & 1))
                continue;
            if (lcn > run && (r = p2v_ranges_add(zero, start + run * cs, (lcn - run) * cs)) < 0)
                break;
            *bytes += (lcn - run) * cs;
            run = lcn + 1;
        }
    }
    if (r == 0 && nr > run) {
        r = p2v_ranges_add(zero, start + run * cs, (nr - run) * cs);
        *bytes += (nr - run) * cs;
    }
    free(buf);
    return r;
}

/* 0 when every cluster of [lcn, lcn+len) is in use in $Bitmap, else 1 and
 * *bad the first free one. */
static int run_free(ntfs_volume *vol, s64 lcn, s64 len, s64 *bad)
{
    uint8_t buf[4096];
    for (s64 c = lcn; c < lcn + len;) {
        s64 byte = c / 8, want = (lcn + len - 1) / 8 - byte + 1;
        if (want > (s64)sizeof buf)
            want = sizeof buf;
        if (ntfs_attr_pread(vol->lcnbmp_na, byte, want, buf) != want)
            return 0;  /* unreadable: add_free says so */
        for (; c < lcn + len && c / 8 < byte + want; c++)
            if (!(buf[c / 8 - byte] >> (c % 8) & 1)) {
                *bad = c;
                return 1;
            }
    }
    return 0;
}

/* The volume's own metadata ($MFT, $MFTMirr, $LogFile, $Bitmap itself, the
 * boot sector) must be in use in $Bitmap: a bitmap that says otherwise is
 * damaged, and trusting it would zero the volume.  NULL, or what is free
 * (and *bad its first free cluster). */
static const char *metadata_free(ntfs_volume *vol, s64 *bad)
{
    if (run_free(vol, 0, 1, bad))
        return "the boot sector";
    ntfs_inode *log = ntfs_inode_open(vol, FILE_LogFile);
    ntfs_attr *logna = log ? ntfs_attr_open(log, AT_DATA, AT_UNNAMED, 0) : NULL;
    struct { ntfs_attr *na; const char *what; } files[] = {
        { vol->mft_na, "$MFT" }, { vol->mftmirr_na, "$MFTMirr" },
        { vol->lcnbmp_na, "$Bitmap" }, { logna, "$LogFile" },
    };
    const char *what = NULL;
    for (size_t i = 0; !what && i < sizeof files / sizeof *files; i++) {
        ntfs_attr *na = files[i].na;
        if (!na || !NAttrNonResident(na) || ntfs_attr_map_whole_runlist(na) < 0)
            continue;
        for (runlist_element *rl = na->rl; !what && rl && rl->length; rl++)
            if (rl->lcn >= 0 && run_free(vol, rl->lcn, rl->length, bad))
                what = files[i].what;
    }
    if (logna)
        ntfs_attr_close(logna);
    if (log)
        ntfs_inode_close(log);
    return what;
}

/* The clusters of a file's data, e.g. pagefile.sys: the file stays, its
 * contents read as zeros (Windows recreates them at boot). */
static int add_file(ntfs_volume *vol, const char *path, uint64_t start,
                    struct p2v_ranges *zero, uint64_t *bytes)
{
    ntfs_inode *ni = ntfs_pathname_to_inode(vol, NULL, path);
    if (!ni)
        return 0;  /* absent */
    int r = 0;
    ntfs_attr *na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
    if (na && NAttrNonResident(na)) {
        if (ntfs_attr_map_whole_runlist(na) < 0) {
            r = -EIO;
        } else {
            for (runlist_element *rl = na->rl; r == 0 && rl && rl->length; rl++) {
                if (rl->lcn < 0)
                    continue;  /* a hole: nothing on disk */
                uint64_t len = (uint64_t)rl->length * vol->cluster_size;
                r = p2v_ranges_add(zero, start + (uint64_t)rl->lcn * vol->cluster_size, len);
                *bytes += len;
            }
        }
    }
    if (na)
        ntfs_attr_close(na);
    ntfs_inode_close(ni);
    return r;
}

int p2v_fsmap_ntfs(struct p2v_layer *l, uint64_t start, uint64_t size, const char *name,
                   unsigned flags, struct p2v_ranges *zero, struct p2v_scrub_map *scrub,
                   struct p2v_fsmap_stats *st)
{
    ntfs_volume *vol = p2v_ntfs_mount(l, start, size, name);
    if (!vol) {
        int e = errno;
        char why[512];
        if (p2v_ntfs_damage(l, start, size, why, sizeof why) == 1)
            p2v_err("%s: %s; or pass --keep-free-space to copy it unmodified", name, why);
        else
            p2v_err("%s: the NTFS volume cannot be opened (%s); it may be damaged: run chkdsk "
                    "on it, or pass --keep-free-space to copy it unmodified", name, strerror(e));
        return -EIO;
    }
    const char *why = unsafe_state(vol, &st->state);
    int r = 0;
    s64 bad = -1;
    if (why && !(flags & (P2V_FS_FORCE | P2V_FS_INSPECT))) {
        p2v_err("%s: the NTFS volume is %s; start Windows and shut it down fully "
                "(shutdown /s /t 0), or pass --force to copy it as it is", name, why);
        r = -EBUSY;
    } else if (why && (flags & P2V_FS_INSPECT)) {
        /* the caller reports it */
    } else if (why) {
        p2v_warn("%s: the NTFS volume is %s; copying it whole, free space included", name, why);
    } else if ((why = metadata_free(vol, &bad)) != NULL) {
        p2v_warn("%s: the NTFS allocation bitmap says cluster %lld (in %s) is free, which it "
                 "cannot be: the bitmap is damaged. Copying the volume whole, free space "
                 "included; run chkdsk /f on the source", name, (long long)bad, why);
    } else {
        r = add_free(vol, start, zero, &st->free_bytes);
        static const char *const paging[] = { "pagefile.sys", "hiberfil.sys", "swapfile.sys" };
        ntfs_set_ignore_case(vol);
        for (size_t i = 0; r == 0 && !(flags & P2V_FS_KEEP_PAGEFILE) && i < 3; i++)
            r = add_file(vol, paging[i], start, zero, &st->pagefile_bytes);
        if (r < 0)
            p2v_err("%s: reading the NTFS allocation bitmap failed: %s", name, strerror(-r));
        else if (scrub)  /* clean and mapped: the bitmaps and the empty log can be trusted */
            r = p2v_scrub_ntfs(vol, start, size, name, zero, scrub, &st->scrub);
    }
    p2v_ntfs_umount(vol);
    return r;
}

int p2v_fsmap_ntfs_signature(struct p2v_layer *l, uint64_t start)
{
    uint8_t boot[11];
    return start + sizeof boot <= l->size && p2v_layer_read(l, boot, sizeof boot, start) == 0 &&
           memcmp(boot + 3, "NTFS    ", 8) == 0;
}
