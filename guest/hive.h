/* Windows registry hives in memory, read and edited with hivex.  A hive
 * comes from the guest as bytes and goes back as bytes; hivex works on a
 * private in-memory file (memfd), so nothing touches the local disk. */
#ifndef P2V_HIVE_H
#define P2V_HIVE_H

#include <stddef.h>
#include <stdint.h>

enum { P2V_REG_SZ = 1, P2V_REG_EXPAND_SZ = 2, P2V_REG_BINARY = 3, P2V_REG_DWORD = 4,
       P2V_REG_MULTI_SZ = 7, P2V_REG_QWORD = 11 };

struct p2v_hive;

struct p2v_reg_value {
    uint32_t type;
    uint8_t *data;   /* malloc'd */
    size_t len;
};

/* name appears in messages ("SYSTEM").  0 or -errno (-EINVAL: not a hive). */
int p2v_hive_load(const uint8_t *data, size_t len, const char *name, struct p2v_hive **out);
/* The hive as it is now, for writing back; *data is malloc'd. */
int p2v_hive_save(struct p2v_hive *h, uint8_t **data, size_t *len);
void p2v_hive_close(struct p2v_hive *h);

/* Keys are paths below the root, '\'-separated, matched case-insensitively.
 * A value name of "" is the key's default value. */
int p2v_hive_key_exists(struct p2v_hive *h, const char *key);
int p2v_hive_get(struct p2v_hive *h, const char *key, const char *value, struct p2v_reg_value *v);
int p2v_hive_get_dword(struct p2v_hive *h, const char *key, const char *value, uint32_t *out);
/* REG_SZ / REG_EXPAND_SZ as UTF-8; *out malloc'd. */
int p2v_hive_get_string(struct p2v_hive *h, const char *key, const char *value, char **out);
/* Creates the key (and its parents) when missing. */
int p2v_hive_set(struct p2v_hive *h, const char *key, const char *value, uint32_t type,
                 const void *data, size_t len);
int p2v_hive_create_key(struct p2v_hive *h, const char *key);
/* The names of key's subkeys, in hive order; *names is a malloc'd array of
 * malloc'd strings (p2v_strv_free).  -ENOENT when key is missing. */
int p2v_hive_subkeys(struct p2v_hive *h, const char *key, char ***names, size_t *n);
/* The names of key's values, in hive order ("" the default value); as
 * p2v_hive_subkeys. */
int p2v_hive_value_names(struct p2v_hive *h, const char *key, char ***names, size_t *n);
/* A REG_MULTI_SZ (or REG_SZ) value as UTF-8 strings, empty ones dropped. */
int p2v_hive_get_multi(struct p2v_hive *h, const char *key, const char *value, char ***strs,
                       size_t *n);
void p2v_strv_free(char **v, size_t n);
int p2v_hive_delete_value(struct p2v_hive *h, const char *key, const char *value);
int p2v_hive_delete_key(struct p2v_hive *h, const char *key);

/* UTF-8 <-> UTF-16LE for string values (terminating NUL included in the
 * UTF-16 form, as Windows writes it).  malloc'd results. */
int p2v_utf16_from_utf8(const char *s, uint8_t **out, size_t *len);
int p2v_utf8_from_utf16(const uint8_t *p, size_t len, char **out);

#endif
