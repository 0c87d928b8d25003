/* Convertibility rules: can this machine become a VM on the chosen target?
 * Each rule looks at the machine configuration only, and gives one result:
 * pass, fail (with its severity, a message and a remedy) or skip (not
 * applicable, or the fact it needs is unknown). */
#ifndef P2V_RULES_H
#define P2V_RULES_H

#include "machine.h"
#include "vhdwriter/image_format.h"

enum p2v_severity { P2V_BLOCKER, P2V_WARNING };
enum p2v_status { P2V_PASS, P2V_FAIL, P2V_SKIP };

struct p2v_check_opts {
    const char *target;     /* virtio, qemu-sata, qemu-ide, hyperv */
    int generation;         /* Hyper-V generation: 1 or 2 */
    const struct p2v_image_format *format;  /* the image format (p2v_machine_format) */
    const char *dest;       /* where the image goes; NULL: not checked */
    uint64_t need_bytes;    /* what the image needs there */
    int need_exact;         /* need_bytes is the image's exact size */
};

struct p2v_result {
    const char *id;
    enum p2v_severity severity;
    enum p2v_status status;
    char message[512];
    char remedy[512];
};

#define P2V_MAX_RESULTS 24

/* The image format for machine m: the one asked for, or with auto the
 * choice of p2v_image_choose for the machine's firmware and each disk. */
const struct p2v_image_format *p2v_machine_format(const struct p2v_machine *m,
                                                  enum p2v_image_kind asked);

/* Runs every rule; returns how many results (all rules, in a fixed order). */
int p2v_check_rules(const struct p2v_machine *m, const struct p2v_check_opts *o,
                    struct p2v_result *out);

#endif
