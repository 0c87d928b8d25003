/* Inspection of a Windows guest: where it is, what it is.  The system
 * root is found as virt-v2v does (a directory with system32/config and
 * system32/cmd.exe), the facts come from the SYSTEM and SOFTWARE hives
 * and the architecture from cmd.exe's PE header. */
#ifndef P2V_WINDOWS_H
#define P2V_WINDOWS_H

#include "guest_fs.h"
#include "hive.h"
#include "hive_log.h"
#include "volume.h"

/* How a hive was found: clean, recovered from its transaction logs, or
 * dirty (its logs could not be replayed, or were ignored on request). */
struct p2v_hive_status {
    char name[16];                /* "SYSTEM" */
    enum p2v_hive_state state;
    int ignored;                  /* dirty, used as it is: --ignore-hive-logs */
    uint32_t seq1, seq2;          /* the primary's sequence numbers, as found */
    uint32_t seq;                 /* what p2v reads (and writes back from): clean, both equal */
    int entries;                  /* log entries replayed */
    char why[256];                /* why it is dirty */
};

#define P2V_WINDOWS_HIVES 2       /* SYSTEM, SOFTWARE */

/* How p2v_windows_find opens the guest and its hives. */
enum {
    P2V_WIN_RW = 1,               /* leave the volume open read-write */
    /* A dirty hive whose logs cannot be replayed is used as it is, with a
     * warning (--ignore-hive-logs); otherwise it is refused. */
    P2V_WIN_IGNORE_HIVE_LOGS = 2,
    /* Inspection only (inventory, check): such a hive is read as it is
     * and its state recorded, for the rules to judge; no error. */
    P2V_WIN_TOLERATE_DIRTY = 4,
};

struct p2v_windows {
    struct p2v_volume vol;        /* the partition holding it */
    char systemroot[16];          /* "/Windows", as probed */
    char product[128], version[16], build[16], installation_type[32], edition[64];
    unsigned major, minor;        /* 0.0 when the hive predates those values */
    char arch[16];                /* i386, x86_64, ia64, arm64, or "unknown" */
    char hostname[64];
    int controlset;               /* SYSTEM\Select\Current */
    char ccs[16];                 /* "ControlSet001" */
    int driver_database;          /* SYSTEM has DriverDatabase (Windows 8 and later) */
    unsigned flags;               /* P2V_WIN_* it was found with */
    struct p2v_hive_status hives[P2V_WINDOWS_HIVES];  /* each hive as it was loaded */
    int nhives;
};

/* Looks for Windows on each volume of the disk l.  Refuses BitLocker.
 * Returns 0 and fills w (and, if gfs is not NULL, leaves the volume open
 * in *gfs, read-write with P2V_WIN_RW), -ENOENT when there is none (no
 * message: the caller knows whether that is an error), or -errno with a
 * message.  flags: P2V_WIN_*. */
int p2v_windows_find(struct p2v_layer *l, const struct p2v_volume *vols, int nvols,
                     const char *name, unsigned flags, struct p2v_windows *w,
                     struct p2v_gfs **gfs);

/* Hive paths inside the volume. */
void p2v_windows_hive_path(const struct p2v_windows *w, const char *hive, char *out, size_t len);

/* Loads a hive ("SYSTEM", "SOFTWARE") from the guest.  A dirty hive is
 * first recovered from its transaction logs beside it (NAME.LOG1,
 * NAME.LOG2), as Windows does at boot; what was found is recorded in
 * w->hives.  A dirty hive that cannot be recovered is refused (-EUCLEAN,
 * with a message naming it and what to do) unless w->flags says to use it
 * as it is. */
int p2v_windows_load_hive(struct p2v_gfs *g, struct p2v_windows *w, const char *hive,
                          struct p2v_hive **out);
/* The guest path of service name's file (SYSTEM hive sys): its ImagePath
 * when that names one under System32, else System32/drivers/NAME.sys;
 * '/'-separated, under w's system root. */
void p2v_windows_service_file(struct p2v_hive *sys, const struct p2v_windows *w,
                              const char *name, char *out, size_t len);
/* The state of a hive as words: "clean", "recovered", "dirty". */
const char *p2v_hive_state_name(enum p2v_hive_state s);

#endif
