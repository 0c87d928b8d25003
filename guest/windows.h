/* Inspection of a Windows guest: where it is, what it is.  The system
 * root is found as virt-v2v does (a directory with system32/config and
 * system32/cmd.exe), the facts come from the SYSTEM and SOFTWARE hives
 * and the architecture from cmd.exe's PE header. */
#ifndef P2V_WINDOWS_H
#define P2V_WINDOWS_H

#include "guest_fs.h"
#include "hive.h"
#include "volume.h"

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
};

/* Looks for Windows on each volume of the disk l.  Refuses BitLocker.
 * Returns 0 and fills w (and, if gfs is not NULL, leaves the volume open
 * in *gfs, read-write when rw), -ENOENT when there is none (no message:
 * the caller knows whether that is an error), or -errno with a message. */
int p2v_windows_find(struct p2v_layer *l, const struct p2v_volume *vols, int nvols,
                     const char *name, int rw, struct p2v_windows *w, struct p2v_gfs **gfs);

/* Hive paths inside the volume. */
void p2v_windows_hive_path(const struct p2v_windows *w, const char *hive, char *out, size_t len);

/* Loads a hive ("SYSTEM", "SOFTWARE") from the guest. */
int p2v_windows_load_hive(struct p2v_gfs *g, const struct p2v_windows *w, const char *hive,
                          struct p2v_hive **out);

#endif
