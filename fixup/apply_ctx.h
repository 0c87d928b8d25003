/* The inside of `p2v fixup apply` (fixup/apply*.c): the context every
 * action works in, and the recording primitives the actions are built
 * from.  Every change goes through fx_reg_put, fx_reg_del, fx_file_put or
 * fx_file_del, which compare before they write and record old -> new, or
 * that nothing needed changing. */
#ifndef P2V_APPLY_CTX_H
#define P2V_APPLY_CTX_H

#include "apply.h"

#include <stddef.h>
#include <stdint.h>

enum { SYSTEM, SOFTWARE, NHIVES };
extern const char *const fx_hive_names[NHIVES];

struct ctx {
    const struct p2v_apply_in *in;
    const struct p2v_plan *plan;
    struct p2v_windows *w;
    struct p2v_gfs *gfs;
    struct p2v_hive *hive[NHIVES];
    int dirty[NHIVES];
    struct p2v_changes *out;
    const struct p2v_action *a;   /* the action being carried out */
    int firstboot_n;
    /* Other NTFS volumes opened for "N:/path" file actions. */
    struct { int number; struct p2v_gfs *g; } open[8];
    int nopen;
    struct p2v_lgfs *lg;          /* the Linux guest (apply_linux.c) */
};

/* apply.c: the record of one change; a failure naming the plan line. */
int fx_record(struct ctx *c, int changed, const char *old, const char *new_, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int fx_fail(struct ctx *c, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* apply_reg.c: registry values and keys, and the reg-set/reg-delete actions. */
char *fx_render(uint32_t type, const uint8_t *d, size_t len);
int fx_hive(struct ctx *c, int which, struct p2v_hive **out);
int fx_reg_put(struct ctx *c, int which, const char *key, const char *value, uint32_t type,
               const void *data, size_t len);
int fx_reg_dword(struct ctx *c, int which, const char *key, const char *value, uint32_t v);
int fx_reg_string(struct ctx *c, int which, const char *key, const char *value, uint32_t type,
                  const char *s);
int fx_reg_multi(struct ctx *c, int which, const char *key, const char *value,
                 char *const *items, int n);
int fx_reg_binary(struct ctx *c, int which, const char *key, const char *value,
                  const uint8_t *d, size_t len);
int fx_reg_del(struct ctx *c, int which, const char *key, const char *value);
int fx_reg_set(struct ctx *c);
int fx_reg_delete(struct ctx *c);

/* apply_files.c: local files, guest files, and the firstboot and
 * uninstall-program actions. */
int fx_read_local(struct ctx *c, const char *name, uint8_t **data, size_t *len);
void fx_guest_path(struct ctx *c, const char *in, char *out, size_t len);
int fx_file_put(struct ctx *c, const char *where, const uint8_t *d, size_t len);
int fx_file_del(struct ctx *c, const char *where);
int fx_firstboot(struct ctx *c);
int fx_uninstall_program(struct ctx *c);

/* apply_drivers.c: boot storage drivers and other vendors' services. */
int fx_enable_driver(struct ctx *c);
int fx_inject_driver(struct ctx *c);
int fx_disable_service(struct ctx *c, const char *drv);
int fx_disable_vendor_services(struct ctx *c);

/* apply_linux.c: the linux-* actions, then efi-fallback, in one libguestfs
 * session (linux: the guest's root found and mounted; else only launched). */
int fx_guestfs_session(struct ctx *c, int linux);
/* A guest file's "sha256:" and first 32 hex digits, as records show
 * hashes, or "(absent)"; -errno when it cannot be read. */
int fx_lg_hash(struct ctx *c, const char *path, char *out, size_t len);

/* apply_efi.c: efi-fallback LOADER, in that session. */
int fx_efi_fallback(struct ctx *c);

#endif
